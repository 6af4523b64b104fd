"""python3.11: Modules/Setup.local before configure; installed for the guest's /usr
(configure --prefix=/usr), then moved under the prefix, trimmed to what runs."""

from __future__ import annotations

import shutil
from collections.abc import Generator

from wasix_backend.api import BuildContext, hookimpl

#: Parts of the installed library nothing here can use: the static libpython and its Makefile
#: (no compiler in the sandbox), Tk's GUI (no _tkinter) and pip's bundled wheels (no ensurepip).
UNUSED = ("config-3.11-wasm32-wasi", "idlelib", "tkinter", "turtledemo", "ensurepip")


@hookimpl(wrapper=True)
def wasix_configure(ctx: BuildContext) -> Generator[None, object, object]:
    # configure keeps a Modules/Setup.local it finds in the build tree: _curses and
    # _curses_panel (setup.py's in 3.11, which a static cross build never runs).
    assert ctx.plugin_dir is not None
    modules = ctx.build_dir / "Modules"
    modules.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ctx.plugin_dir / "Setup.local", modules / "Setup.local")
    return (yield)


@hookimpl(wrapper=True)
def wasix_package(ctx: BuildContext) -> Generator[None, object, object]:
    result = yield  # make libinstall DESTDIR=…: the library under DESTDIR/usr
    usr = ctx.destdir / "usr"
    (ctx.stage / "bin").mkdir(parents=True, exist_ok=True)
    shutil.copy2(ctx.build_dir / "python.wasm", ctx.stage / "bin" / "python3.11.wasm")
    (ctx.stage / "lib").mkdir(parents=True, exist_ok=True)
    lib = ctx.stage / "lib" / "python3.11"
    shutil.move(str(usr / "lib" / "python3.11"), str(lib))
    shutil.rmtree(usr)
    for name in UNUSED:
        shutil.rmtree(lib / name, ignore_errors=True)
    # `make install` byte-compiles for -O and -OO too: only the plain .pyc files are kept.
    for pyc in [*lib.rglob("*.opt-1.pyc"), *lib.rglob("*.opt-2.pyc")]:
        pyc.unlink()
    # getpath finds exec_prefix by this directory (else a warning at every start); all
    # extension modules are built in, so it would be empty, and empty folders do not travel.
    dynload = lib / "lib-dynload"
    dynload.mkdir(exist_ok=True)
    (dynload / "README").write_text("Extension modules are built into python3.11.wasm.\n")
    return result
