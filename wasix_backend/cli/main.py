"""``wasix-build``: the command line.

Each sub-command is a small function taking the parsed arguments and returning an exit
status; user-facing errors (:class:`WasixError`) become one clear message and status 1. The
sub-commands live beside what they drive (:mod:`.build`, :mod:`.tools`, :mod:`.outputs` —
one per registered output format —, :mod:`.authoring`, :mod:`.maintenance`); options several
of them take are argparse parents in :mod:`.common`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .. import __version__
from ..errors import WasixError
from .common import open_session, plugin_dir_options

if TYPE_CHECKING:
    from ..registry import Registry
    from ..session import Session

#: A sub-command: its parsed options and the command's session; the exit status.
Handler = Callable[[argparse.Namespace, "Session"], int]


#: Sub-commands that exist whatever plugins are installed (outputs come from the registry).
BUILTIN_COMMANDS = frozenset({"list", "show", "graph", "build", "clean", "shell", "inspect", "toolchain",
                              "new", "update", "self-wheel", "test", "verify", "gc", "push", "cache", "serve"})


def make_parser(registry: Registry | None = None) -> argparse.ArgumentParser:
    """The parser; output sub-commands are those of ``registry`` (None: no output commands)."""
    parser = argparse.ArgumentParser(prog="wasix-build", description="Cross-compile C and Rust packages to WASIX.",
                                     parents=[plugin_dir_options()])
    parser.add_argument("--version", action="version", version=f"wasix-build {__version__}")
    sub = parser.add_subparsers(dest="command_name", required=True, metavar="COMMAND")
    after = plugin_dir_options("plugin_dir_after")

    def add(name: str, handler: Handler, help: str, parents: list[argparse.ArgumentParser] = ()) -> argparse.ArgumentParser:  # type: ignore[assignment]
        p = sub.add_parser(name, help=help, description=help, parents=[after, *parents])
        p.set_defaults(handler=handler)
        return p

    from . import authoring, build, cache, maintenance, outputs, tools

    build.register(add)
    tools.register(add)
    outputs.register(add, registry)
    authoring.register(add)
    maintenance.register(add)
    cache.register(add)
    return parser


def _needs_registry(argv: list[str]) -> list[Path] | None:
    """The ``--plugin-dir`` folders when parsing needs the registry (its output formats are
    sub-commands): the first word is not a built-in command, or help is asked for. None when
    it does not: a no-op ``build`` should not load plugins twice."""
    dirs: list[Path] = []
    first = None
    words = iter(argv)
    for word in words:
        if word == "--plugin-dir":
            dirs.append(Path(next(words, "")))
        elif word.startswith("--plugin-dir="):
            dirs.append(Path(word.split("=", 1)[1]))
        elif first is None and not word.startswith("-"):
            first = word
    if first in BUILTIN_COMMANDS and not any(w in ("-h", "--help") for w in argv):
        return None
    return dirs


def signal_name(status: int) -> str:
    import signal

    try:
        return signal.Signals(status - 128).name
    except ValueError:
        return f"status {status}"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    loaded = None
    plugin_dirs = _needs_registry(argv)
    if plugin_dirs is not None:
        from ..plugins import load_plugins

        loaded = load_plugins([d.absolute() for d in plugin_dirs])
    parser = make_parser(loaded.registry if loaded else None)
    args = parser.parse_args(argv)
    from ..interrupt import Interrupted, handle_signals, reset

    reset()  # a new command (in-process callers may run several)
    session = open_session(args, loaded)
    try:
        with handle_signals():  # SIGTERM stops a build like Ctrl-C: children, staging, status
            return args.handler(args, session)
    except WasixError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        status = exc.status if isinstance(exc, Interrupted) else 130
        print(f"interrupted ({signal_name(status)}): nothing half-built was kept", file=sys.stderr)
        return status
    except BrokenPipeError:  # `wasix-build … | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # a write no command anticipated: still one line, with the path
        print(f"error: {exc.filename or type(exc).__name__}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    finally:
        session.close()  # the command is over: `gc` may collect again


if __name__ == "__main__":
    sys.exit(main())
