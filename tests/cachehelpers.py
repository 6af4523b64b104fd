"""Small generated packages and a signing key for the binary-cache tests."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

from conftest import make_tarball, package_recipe, write_plugin
from test_engine import GREET_C, GREET_H  # the same little library; only its Makefile differs

from wasix_backend.cli import main

# The library installs a pkg-config file naming its prefix (the store path): relocation.
GREET_MK = """\
libgreet.a: greet.c
\t$(CC) $(CFLAGS) -c greet.c -o greet.o
\t$(AR) rcs libgreet.a greet.o
install: libgreet.a
\tmkdir -p $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
\tcp libgreet.a $(DESTDIR)$(PREFIX)/lib/
\tcp greet.h $(DESTDIR)$(PREFIX)/include/
\tprintf 'prefix=$(PREFIX)\\nName: greet\\nDescription: greet\\nVersion: 1.0\\nCflags: -I$${prefix}/include\\nLibs: -L$${prefix}/lib -lgreet\\n' > $(DESTDIR)$(PREFIX)/lib/pkgconfig/greet.pc
"""
HELLO_C = '#include <stdio.h>\n#include <greet.h>\nint main(void) { printf("%s from wasm\\n", greeting()); return 0; }\n'
# No -I/-L of the engine's: only what pkg-config says, so a stale prefix in greet.pc breaks it.
HELLO_MK = "hello: hello.c\n\t$(CC) $(CFLAGS) $$(pkg-config --cflags greet) -o hello hello.c $$(pkg-config --libs greet)\n"


def solo_c(name: str, word: str) -> str:
    return f'#include <stdio.h>\nint main(void) {{ puts("{word}"); return 0; }}\n'


def write_packages(root: Path, extra: dict[str, tuple[str, str]] | None = None) -> Path:
    """Plugins ``greet`` (library with a .pc file) <- ``hello``, and ``solo`` (no deps), plus
    ``extra``: name -> (C source, deps) of more one-file programs. Returns the plugin folder."""
    upstream, plugins = root / "upstream", root / "plugins"
    sha = make_tarball(upstream / "greet-1.0.tar.gz", "greet-1.0", {"greet.c": GREET_C, "greet.h": GREET_H, "Makefile": GREET_MK})
    write_plugin(plugins, "greet", package_recipe("greet", (upstream / "greet-1.0.tar.gz").as_uri(), sha, kind="library",
                                                  build_extra="install-args = []"))
    sha = make_tarball(upstream / "hello-1.0.tar.gz", "hello-1.0", {"hello.c": HELLO_C, "Makefile": HELLO_MK})
    write_plugin(plugins, "hello", package_recipe("hello", (upstream / "hello-1.0.tar.gz").as_uri(), sha, deps='"greet"'))
    programs = {"solo": (solo_c("solo", "solo here"), ""), **(extra or {})}
    for name, (source, deps) in programs.items():
        tarball = upstream / f"{name}-1.0.tar.gz"
        sha = make_tarball(tarball, f"{name}-1.0", {f"{name}.c": source, "Makefile": f"{name}: {name}.c\n\t$(CC) $(CFLAGS) -o {name} {name}.c\n"})
        write_plugin(plugins, name, package_recipe(name, tarball.as_uri(), sha, deps=deps))
    return plugins


def keygen(where: Path, name: str = "test-cache") -> tuple[Path, str]:
    """(secret key file, public key text) made by ``wasix-build cache keygen``."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["cache", "keygen", name, "--out", str(where)]) == 0
    return where / f"{name}.secret", out.getvalue().strip()


def run_json(*args: str) -> tuple[int, dict]:
    """``wasix-build ARGS --json``: (status, the summary by package name)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main([*args, "--json"])
    doc = json.loads(out.getvalue()) if out.getvalue().strip() else {"packages": []}
    return status, {p["name"]: p for p in doc["packages"]}
