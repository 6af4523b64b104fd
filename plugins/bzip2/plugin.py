"""bzip2: besides the program, the static libbz2 and its header (python3.11's _bz2 links them)."""

from __future__ import annotations

import shutil
from collections.abc import Generator

from wasix_backend.api import BuildContext, hookimpl


@hookimpl(wrapper=True)
def wasix_package(ctx: BuildContext) -> Generator[None, object, object]:
    result = yield  # the make build system copies the program
    for sub, name in (("lib", "libbz2.a"), ("include", "bzlib.h")):
        (ctx.stage / sub).mkdir(parents=True, exist_ok=True)
        shutil.copy2(ctx.build_dir / name, ctx.stage / sub / name)
    return result
