"""Resolved wrappers: ``wasixcc`` & co. as POSIX-sh scripts that ``exec`` the real compiler.

Starting Python for every compiler call costs several times what the compile itself costs
(``configure`` calls the compiler hundreds of times). So when a toolchain is selected, the
commands are worked out once and baked into small shell scripts.

Nothing about flags is written here: the commands come from the provider's own methods
(:meth:`~.providers.WasixProvider.compile_command`, :meth:`~.providers.WasixProvider.tool_command`,
:meth:`~.providers.WasixProvider.env` and :func:`.driver.post_link`), asked once for every case a
script can tell apart:

* ``$WASIXCC_RUN_WASM_OPT`` unset, true or false (configure turns wasm-opt off);
* for the compilers, what :func:`.providers.parse_invocation` decides from the arguments —
  does the call link, does it carry an ``-O`` level, does it name an output — which the script
  works out with a ``case`` over its arguments mirroring that function.

The provider gets placeholders for the arguments and the output file, so the baked command is
``PREFIX "$@" SUFFIX``; a provider that does anything else with them cannot be baked, and the
Python driver is used instead. The Python driver (:mod:`.driver`) stays the reference: a
script hands over to it whenever the command line has ``-sKEY=VALUE`` settings, or a
``WASIXCC_*`` setting differs from the environment the script was made in.

The scripts live in ``<cache>/wrappers/<hash of their text>/``: content-addressed, so a change
of any flag, setting or path gives a new directory, and one in use is never rewritten.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from ..errors import ToolchainError
from ..paths import cache_root
from .driver import TOOLS, UNWINDING_CALLS, post_link
from .providers import _NO_LINK, _TAKES_VALUE, WasixProvider, parse_invocation
from .settings import ENV_PREFIX, KNOWN_KEYS, parse_settings

#: Stand-ins handed to the provider for the command line's arguments and its output file.
_ARGS = "\x00wasix-args\x00"
_OUT = "\x00wasix-out\x00"
#: ``$WASIXCC_RUN_WASM_OPT`` as a script tells it apart: unset, a true value, a false value.
_WASM_OPT_STATES = {"d": None, "y": "yes", "n": "no"}
#: The shell patterns for the true and false values :func:`.settings._parse_bool` accepts
#: (anything else, e.g. with spaces around it, goes to the Python driver).
_TRUE_PATTERNS = "1|[Yy][Ee][Ss]|[Tt][Rr][Uu][Ee]|[Oo][Nn]"
_FALSE_PATTERNS = "|0|[Nn][Oo]|[Ff][Aa][Ll][Ss][Ee]|[Oo][Ff][Ff]"


class Unbakeable(Exception):
    """The provider's commands cannot be written as a fixed prefix and suffix."""


def _word(text: str) -> str:
    """``text`` as one shell word, the output placeholder becoming ``"$out"``."""
    if _ARGS in text:
        raise Unbakeable("the arguments' placeholder is embedded in a word")
    if text == "":
        return "''"
    return '"$out"'.join(shlex.quote(part) if part else "" for part in text.split(_OUT))


def _words(items: list[str]) -> str:
    return " ".join(_word(i) for i in items)


def _split(command: list[str]) -> tuple[list[str], list[str]]:
    """``command`` around the arguments' placeholder (which must be there exactly once)."""
    if command.count(_ARGS) != 1:
        raise Unbakeable("the provider does not pass the arguments through as one block")
    at = command.index(_ARGS)
    before, after = command[:at], command[at + 1 :]
    if any(_OUT in w for w in before + after):
        raise Unbakeable("the provider uses the output file's name in the command")
    return before, after


class _Baker:
    """Asks the provider for every case; shared by the scripts of one toolchain."""

    def __init__(self, provider: WasixProvider, environ: Mapping[str, str], fallback: Path,
                 unset_same: frozenset[str] = frozenset()) -> None:
        self.name = provider.name
        self.fallback = fallback
        #: Baked variables whose absence means the same value (see :func:`render`).
        self.unset_same = unset_same
        #: The ``WASIXCC_*`` settings the scripts were made for (the provider forced).
        self.baked = {k: v for k, v in environ.items() if k.startswith(ENV_PREFIX) and k[len(ENV_PREFIX) :] in KNOWN_KEYS}
        self.baked[f"{ENV_PREFIX}PROVIDER"] = provider.name
        self.providers = {}
        for state, value in _WASM_OPT_STATES.items():
            env = {k: v for k, v in self.baked.items() if k != f"{ENV_PREFIX}RUN_WASM_OPT"}
            if value is not None:
                env[f"{ENV_PREFIX}RUN_WASM_OPT"] = value
            settings, _ = parse_settings([], env)
            chosen = WasixProvider(settings)
            chosen.require()
            self.providers[state] = chosen
        self.env = self.providers["d"].env()

    # pieces ---------------------------------------------------------------------------
    def header(self, name: str) -> list[str]:
        fb = shlex.quote(str(self.fallback / name))
        lines = [
            "#!/bin/sh",
            f"# {name}: the {self.name} provider's commands, resolved by wasix_backend.toolchain.wrappers.",
            "# Generated; do not edit. Anything not baked in here goes to the Python driver:",
            f"fb={fb}",
        ]
        for key in sorted(KNOWN_KEYS - {"PROVIDER", "RUN_WASM_OPT"}):
            var = ENV_PREFIX + key
            value = self.baked.get(var)
            pinned = self.env.get(var)
            if value is None and pinned is not None:
                # The provider's own resolved part (the sysroot, the LLVM), which the engine
                # exports into every build: unset or that value are the same toolchain.
                lines.append(f'case ${{{var}+x}}${{{var}-}} in \'\'|x{shlex.quote(pinned)}) ;; *) exec "$fb" "$@" ;; esac')
            elif value is None:
                lines.append(f'case ${{{var}+x}} in x) exec "$fb" "$@" ;; esac')
            elif var in self.unset_same:
                lines.append(f'case ${{{var}+x}}${{{var}-}} in \'\'|x{shlex.quote(value)}) ;; *) exec "$fb" "$@" ;; esac')
            else:
                lines.append(f'case ${{{var}+x}}${{{var}-}} in x{shlex.quote(value)}) ;; *) exec "$fb" "$@" ;; esac')
        var = f"{ENV_PREFIX}PROVIDER"
        same = "|''|xauto"  # no setting and auto name the same, one provider
        lines.append(f'case ${{{var}+x}}${{{var}-}} in x{self.name}{same}) ;; *) exec "$fb" "$@" ;; esac')
        var = f"{ENV_PREFIX}RUN_WASM_OPT"
        lines += [
            f"case ${{{var}+x}}${{{var}-}} in",
            "  '') w=d ;;",
            "  " + "|".join(f"x{p}" for p in _TRUE_PATTERNS.split("|")) + ") w=y ;;",
            "  " + "|".join(f"x{p}" for p in _FALSE_PATTERNS.split("|")) + ") w=n ;;",
            '  *) exec "$fb" "$@" ;;',
            "esac",
        ]
        return lines

    def exports(self) -> list[str]:
        """The provider's environment: what it always sets."""
        return [f"{k}={shlex.quote(v)}; export {k}" for k, v in sorted(self.env.items())]

    @staticmethod
    def dispatch(selector: str, bodies: dict[str, list[str]]) -> list[str]:
        """A ``case`` running the body of each key; keys with the same body share a branch."""
        grouped: dict[tuple[str, ...], list[str]] = {}
        for key, body in bodies.items():
            grouped.setdefault(tuple(body), []).append(key)
        lines = [f"case {selector} in"]
        for shared, keys in grouped.items():
            lines.append(f"  {'|'.join(keys)})")
            lines += [f"    {line}" for line in shared]
            lines.append("    ;;")
        lines.append("esac")
        return lines

    # scripts --------------------------------------------------------------------------
    def tool(self, name: str, tool: str) -> str:
        bodies = {}
        for state, provider in self.providers.items():
            try:
                before, after = _split(provider.tool_command(tool, [_ARGS]))
            except ToolchainError:  # e.g. no nm here: the driver says so
                return self.handover(name)
            bodies[state] = [f'exec {_words(before)} "$@" {_words(after)}'.rstrip()]
        lines = self.header(name)
        lines.append('for a do case $a in -s[A-Z]*=*) exec "$fb" "$@" ;; esac; done')
        lines += self.exports()
        lines += self.dispatch("$w", bodies)
        return "\n".join(lines) + "\n"

    def handover(self, name: str) -> str:
        return f'#!/bin/sh\nexec {shlex.quote(str(self.fallback / name))} "$@"\n'

    def compiler(self, name: str, cxx: bool) -> str:
        bodies = {}
        for state, provider in self.providers.items():
            for links in (0, 1):
                for opt in (0, 1):
                    for out in (0, 1):
                        key = f"{state}{links}{opt}{out}"
                        bodies[key] = self._compile_body(provider, cxx, bool(links), bool(opt), bool(out))
        lines = self.header(name)
        lines += self.classify()
        lines += self.exports()
        lines += self.dispatch("$w$l$p$o", bodies)
        return "\n".join(lines) + "\n"

    @staticmethod
    def _compile_body(provider: WasixProvider, cxx: bool, links: bool, opt: bool, out: bool) -> list[str]:
        # A command line of this kind, so Invocation fields we do not set keep their meaning.
        sample = [*(["-O2"] if opt else []), *([] if links else ["-c"]), "x.c", *(["-o", "x.o"] if out else [])]
        inv = parse_invocation(sample, cxx=cxx)
        if (inv.links, inv.has_opt_level, inv.output is not None) != (links, opt, out):
            raise Unbakeable(f"parse_invocation classifies {sample} differently than expected")
        inv = replace(inv, args=[_ARGS], output=_OUT if out else None)
        before, after = _split(provider.compile_command(inv))
        run = f'{_words(before)} "$@" {_words(after)}'.strip()
        if not links:
            return [f"exec {run}"]
        step = post_link(provider, _OUT)
        body = [f"{run} || exit"]
        if step.message:
            body.append(f"printf '%s\\n' {_word(step.message)} >&2")
        if step.command and step.plain:  # as driver.needs_asyncify, by the same bytes
            pattern = "|".join(UNWINDING_CALLS)
            body.append(f"LC_ALL=C grep -aqE {shlex.quote(pattern)} \"$out\" || exec {_words(step.plain)}")
        body.append(f"exec {_words(step.command)}" if step.command else f"exit {step.status}")
        if step.command is None and step.message is None and step.status == 0:
            body = [f"exec {run}"]  # nothing after the link: no shell left waiting
        return body

    @staticmethod
    def classify() -> list[str]:
        """Shell mirroring :func:`.providers.parse_invocation` (and ``-s`` settings)."""
        takes_value = "|".join(shlex.quote(a) for a in sorted(_TAKES_VALUE))
        no_link = "|".join([*(shlex.quote(a) for a in sorted(_NO_LINK)), "-print-*"])
        return [
            "l=0 p=0 o=0 i=0 n=0 v= out=a.out",
            "for a do",
            # A newline could end the -O pattern early in Python's re: leave such to Python.
            "  case $a in -s[A-Z]*=*|*'",
            "'*) exec \"$fb\" \"$@\" ;; esac",
            '  if [ -n "$v" ]; then',
            '    if [ "$v" = o ]; then out=$a; o=1; fi',
            "    v=; continue",
            "  fi",
            "  case $a in",
            f"    {takes_value}) v=x; [ \"$a\" = -o ] && v=o ;;",
            "    -object*) ;;",
            "    -o?*) out=${a#-o}; o=1 ;;",
            f"    {no_link}) n=1 ;;",
            "    -O|-O[0-4sgz]|-Ofast) p=1 ;;",
            "    -v) [ $# -eq 1 ] && n=1 ;;",
            "    -) i=1 ;;",
            "    -*) ;;",
            "    *) i=1 ;;",
            "  esac",
            "done",
            '[ -n "$out" ] || out=a.out',
            '[ $i = 1 ] && [ $n = 0 ] && l=1',
        ]


def render(provider: WasixProvider, environ: Mapping[str, str], fallback: Path,
           unset_same: frozenset[str] = frozenset()) -> dict[str, str]:
    """The text of every wrapper script, by program name.

    ``fallback`` is the directory of the Python driver's programs. ``unset_same`` names
    variables of ``environ`` that the driver would work out to the same value when they are
    unset (the caller knows: the console scripts remember wrappers per environment), so the
    scripts take either. Raises :class:`Unbakeable` when the provider's commands do not have
    the shape the scripts bake.
    """
    baker = _Baker(provider, environ, fallback, unset_same)
    return {
        name: baker.compiler(name, tool == "c++") if tool in ("cc", "c++") else baker.tool(name, tool)
        for name, tool in TOOLS.items()
    }


def write_scripts(scripts: Mapping[str, str], root: Path | None = None) -> Path:
    """Write ``scripts`` into their content-addressed directory (once; atomically)."""
    digest = hashlib.sha256()
    for name in sorted(scripts):
        digest.update(name.encode() + b"\0" + scripts[name].encode() + b"\0")
    root = root or cache_root() / "wrappers"
    final = root / digest.hexdigest()[:16]
    if all((final / name).is_file() for name in scripts):
        return final
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=".tmp-"))
    try:
        for name, text in scripts.items():
            (tmp / name).write_text(text)
            (tmp / name).chmod(0o755)
        tmp.chmod(0o755)
        try:
            os.rename(tmp, final)
        except OSError:  # another process finished the same directory first
            if not all((final / name).is_file() for name in scripts):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def wrapper_bin_dir(provider: WasixProvider, fallback: Path, environ: Mapping[str, str] | None = None,
                    unset_same: frozenset[str] = frozenset()) -> Path | None:
    """The directory of resolved wrappers for ``provider``, or ``None`` when it cannot be baked
    (then the Python driver in ``fallback`` is the one to use)."""
    try:
        scripts = render(provider, os.environ if environ is None else environ, fallback, unset_same)
    except (Unbakeable, ToolchainError):
        return None
    return write_scripts(scripts)


__all__ = ["Unbakeable", "render", "wrapper_bin_dir", "write_scripts"]
