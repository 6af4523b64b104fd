"""sqlite3: install the shell only (the Makefile's `install` also builds libsqlite3.la)."""

from __future__ import annotations

import shutil

from wasix_backend import hookimpl
from wasix_backend.context import BuildContext


@hookimpl
def wasix_package(ctx: BuildContext) -> bool:
    (ctx.stage / "bin").mkdir(parents=True, exist_ok=True)
    shutil.copy2(ctx.build_dir / "sqlite3", ctx.stage / "bin" / "sqlite3")
    return True
