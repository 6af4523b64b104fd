"""``wasix-build shell | inspect | toolchain``: the toolchain and the modules it makes."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import WasixError
from .common import err, json_options, print_json

if TYPE_CHECKING:
    from ..session import Session


def cmd_shell(args: argparse.Namespace, session: Session) -> int:
    from ..toolchain.shell import shell_env

    tc = session.toolchain
    env = {**os.environ, **shell_env(tc)}
    command = args.command or [os.environ.get("SHELL", "/bin/sh")]
    if command and command[0] == "--":
        command = command[1:]
    if not args.command:
        err.print(f"wasix-build shell: {tc.provider} toolchain; CC={env.get('CC')}; exit to leave")
    os.execvpe(command[0], command, env)
    return 0  # not reached


def cmd_inspect(args: argparse.Namespace, session: Session) -> int:
    from ..inspect import format_module_info, inspect_module

    info = inspect_module(Path(args.file))
    if args.json:
        print_json(info.__dict__)
    else:
        print(format_module_info(info))
    return 0


def cmd_toolchain(args: argparse.Namespace, session: Session) -> int:
    from ..toolchain import install as tc_install
    from ..toolchain import toolchain_status

    pins = Path(args.pins) if args.pins else None
    if args.action == "install":
        tc_install.install(args.components or None, pins=pins)
        err.print("[green]✓[/] toolchain installed")
        return 0
    if args.action == "build":  # what a first build would do: the sysroot, once
        tc = session.toolchain
        err.print(f"[green]✓[/] the {tc.provider} toolchain is ready: {tc.description}")
        return 0
    # status: a report only, never a build (a sysroot not built yet is said so)
    report: dict[str, Any] = {"components": tc_install.status(pins=pins)}
    try:
        report["active"] = toolchain_status(session.options.provider, store=session.store)
    except WasixError as exc:
        report["active"] = {"error": str(exc)}
    try:
        from ..rust import describe as rust_describe

        report["rust"] = rust_describe()
    except ImportError:
        pass
    if args.json:
        print_json(report)
        return 0
    from ..textfmt import format_tree

    print("active provider:")
    print("\n".join(format_tree(report["active"], 2)))
    print("pinned upstream components:")
    for c in report["components"]:
        state = "installed at " + str(c.get("path")) if c.get("installed") else "not installed"
        print(f"  {c['name']} {c['version']}: {state}")
    if "rust" in report:
        print("rust:")
        print("\n".join(format_tree(report["rust"], 2)))
    return 0


def cmd_serve(args: argparse.Namespace, session: Session) -> int:
    from ..outputs.serve import make_server

    site = Path(args.directory)
    if not (site / "index.html").is_file():
        raise WasixError(f"{site}: no index.html to serve; write the site first (wasix-build web NAME…|--all)")
    try:
        server = make_server(site, args.port, isolate=not args.no_isolation)
    except OSError as exc:
        raise WasixError(f"serve: cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}; pass --port N") from None
    err.print(f"serving {site} at http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)")
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def register(add) -> None:  # `add`: main.make_parser's sub-command helper
    p = add("shell", cmd_shell, "a shell (or `-- COMMAND`) with CC, CFLAGS … set for the active toolchain")
    p.add_argument("--provider", default=None)
    p.add_argument("command", nargs=argparse.REMAINDER)
    p = add("serve", cmd_serve, "serve the web output (dist/web) on 127.0.0.1 with the cross-origin isolation "
            "headers its pages need")
    p.add_argument("directory", nargs="?", default="dist/web", help="the site (default: dist/web)")
    p.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default: 8000; 0: any free one)")
    p.add_argument("--no-isolation", action="store_true",
                   help="without the COOP/COEP headers, as a plain static host (the pages' service worker adds them)")
    p = add("inspect", cmd_inspect, "imports, exports, memories and WASIX/WASI verdict of a module", parents=[json_options()])
    p.add_argument("file")
    p = add("toolchain", cmd_toolchain, "show the toolchain's status (builds nothing), build what it lacks "
            "(the wasix-libc sysroot), or install the pinned upstream one", parents=[json_options()])
    p.add_argument("action", choices=["status", "build", "install"],
                   help="status: report only; build: build the sysroot the active provider needs; install: the pinned prebuilt parts")
    p.add_argument("components", nargs="*")
    p.add_argument("--pins", default=None, help="pins file (default: the project's toolchain/pins.toml)")
    p.add_argument("--provider", default=None)
