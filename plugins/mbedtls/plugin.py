"""mbedtls: two modules off in config.h, `make lib`, then the headers and libraries copied."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Generator

from wasix_backend import hookimpl
from wasix_backend.context import BuildContext

#: Modules that #error on anything not Unix or Windows and that curl does not use: NET_C is
#: Mbed TLS's own socket layer (curl hands it its connection through callbacks), TIMING_C
#: its timers and alarm() (DTLS and the benchmark programs).
UNSET = ("MBEDTLS_NET_C", "MBEDTLS_TIMING_C")


@hookimpl(wrapper=True)
def wasix_configure(ctx: BuildContext) -> Generator[None, object, object]:
    result = yield  # the make build system copies the sources into the build tree
    # upstream's own tool for editing include/mbedtls/config.h, which is installed as built
    for name in UNSET:
        ctx.run([sys.executable, "scripts/config.py", "unset", name])
    return result


@hookimpl
def wasix_package(ctx: BuildContext) -> bool:
    # Its `make install` also builds the example programs and takes DESTDIR for the prefix.
    for sub in ("mbedtls", "psa"):
        shutil.copytree(ctx.build_dir / "include" / sub, ctx.stage / "include" / sub, dirs_exist_ok=True)
    (ctx.stage / "lib").mkdir(parents=True, exist_ok=True)
    for lib in ctx.recipe.libraries:
        shutil.copy2(ctx.build_dir / "library" / lib, ctx.stage / "lib" / lib)
    return True
