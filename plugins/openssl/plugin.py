"""openssl: its own Perl Configure before make; upstream's openssl.cnf shipped as data."""

from __future__ import annotations

import shutil
from collections.abc import Generator

from wasix_backend.api import BuildContext, hookimpl

#: A generic 32-bit Unix in plain C (wasm32 is ILP32; pthreads are WASIX's).
TARGET = "linux-generic32"

#: What WASIX cannot do or a static WebAssembly program does not need (recipe.toml says why).
OPTIONS = ("no-asm", "no-shared", "no-pic", "no-dso", "no-engine", "no-afalgeng", "no-async", "no-tests")

#: Debian's OPENSSLDIR: openssl.cnf is looked up there, at this path inside the sandbox.
OPENSSLDIR = "/usr/lib/ssl"


@hookimpl(wrapper=True)
def wasix_configure(ctx: BuildContext) -> Generator[None, object, object]:
    result = yield  # the make build system copies the sources into the build tree
    # Configure takes CC and CFLAGS from the environment; --libdir=lib, not lib64 or a triple.
    ctx.run(["perl", "Configure", TARGET, f"--prefix={ctx.prefix}", f"--openssldir={OPENSSLDIR}",
             "--libdir=lib", *OPTIONS])  # fmt: skip
    return result


@hookimpl(wrapper=True)
def wasix_package(ctx: BuildContext) -> Generator[None, object, object]:
    result = yield  # make install_sw DESTDIR=…
    # c_rehash is a Perl script (no Perl in the sandbox); openssl rehash does its job.
    (ctx.stage / "bin" / "c_rehash").unlink(missing_ok=True)
    # install_ssldirs would put openssl.cnf at DESTDIR/usr/lib/ssl, outside the prefix: it
    # goes under the prefix instead, and [outputs] data shows it at /usr/lib/ssl.
    (ctx.stage / "ssl").mkdir(parents=True, exist_ok=True)
    shutil.copy2(ctx.build_dir / "apps" / "openssl.cnf", ctx.stage / "ssl" / "openssl.cnf")
    return result
