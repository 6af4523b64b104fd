"""sqlite3: install the shell, the static library and its header (the Makefile's `install`
would also want the shared library)."""

from __future__ import annotations

import shutil

from wasix_backend import hookimpl
from wasix_backend.context import BuildContext


@hookimpl
def wasix_package(ctx: BuildContext) -> bool:
    (ctx.stage / "bin").mkdir(parents=True, exist_ok=True)
    shutil.copy2(ctx.build_dir / "sqlite3", ctx.stage / "bin" / "sqlite3")
    # libtool leaves the static archive in .libs/ (--disable-shared: there is no other).
    for sub, src in (
        ("lib", ctx.build_dir / ".libs" / "libsqlite3.a"),
        ("include", ctx.build_dir / "sqlite3.h"),
    ):
        (ctx.stage / sub).mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, ctx.stage / sub / src.name)
    return True
