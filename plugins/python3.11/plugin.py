"""python3.11: installed for the guest's /usr (configure --prefix=/usr), moved under the prefix."""

from __future__ import annotations

import shutil

from wasix_backend import hookimpl
from wasix_backend.context import BuildContext


@hookimpl(wrapper=True)
def wasix_package(ctx: BuildContext):  # type: ignore[no-untyped-def]
    result = yield  # make install DESTDIR=…: everything under DESTDIR/usr
    usr = ctx.destdir / "usr"
    stage = ctx.stage
    (stage / "bin").mkdir(parents=True, exist_ok=True)
    shutil.copy2(usr / "bin" / "python3.11.wasm", stage / "bin" / "python3.11.wasm")
    (stage / "lib").mkdir(parents=True, exist_ok=True)
    shutil.move(str(usr / "lib" / "python3.11"), str(stage / "lib" / "python3.11"))
    shutil.rmtree(usr)
    return result


@hookimpl(wrapper=True)
def wasix_configure(ctx: BuildContext):  # type: ignore[no-untyped-def]
    # configure keeps a Modules/Setup.local it finds in the build tree: _curses and
    # _curses_panel (setup.py's in 3.11, which a static cross build never runs).
    modules = ctx.build_dir / "Modules"
    modules.mkdir(parents=True, exist_ok=True)
    assert ctx.plugin_dir is not None
    shutil.copy2(ctx.plugin_dir / "Setup.local", modules / "Setup.local")
    return (yield)
