"""Generated C projects for the parallel speed-up benchmark.

The built-in packages hold only one independent pair at most (ncurses, and nano depends on
it), so the speed-up is measured on two generated ``make`` projects of equal size. Each is a
real tarball, pinned by sha256 and fetched through a ``file://`` URL like any other source, so
the engine's whole pipeline (fetch, unpack, configure, make, package) runs for it.

A nonce goes into every file so that no compiler-side cache (zig keeps one) can turn a
"cold" build into a warm one.
"""

from __future__ import annotations

import hashlib
import io
import random
import tarfile
from pathlib import Path

_MAKEFILE = """\
# Generated benchmark project: one object per source file, linked into one program.
CC ?= cc
CFLAGS ?= -O2
SRCS := $(wildcard src/*.c)
OBJS := $(SRCS:.c=.o)

{name}: $(OBJS)
\t$(CC) $(CFLAGS) -o $@ $(OBJS)

src/%.o: src/%.c src/gen.h
\t$(CC) $(CFLAGS) -c -o $@ $<

clean:
\trm -f $(OBJS) {name}
"""


def _function(rng: random.Random, unit: int, index: int, cases: int) -> str:
    """A function with a loop around a switch: enough work for the optimiser to chew on."""
    ops = ["+", "-", "^", "*", "|", "&"]
    lines = [f"unsigned gen_{unit}_{index}(unsigned seed, unsigned n) {{", "    unsigned acc = seed;"]
    lines.append("    for (unsigned i = 0; i < n; i++) {")
    lines.append(f"        switch ((acc + i) % {cases}u) {{")
    for case in range(cases):
        a, b, c = rng.randrange(1, 1 << 16), rng.randrange(1, 31), rng.randrange(1, 1 << 12)
        op1, op2 = rng.choice(ops), rng.choice(ops)
        lines.append(
            f"        case {case}: acc = ((acc {op1} {a}u) << {b % 7}) {op2} (acc >> {b}) ^ "
            f"(i * {c}u + NONCE); break;"
        )
    lines += ["        }", "    }", "    return acc;", "}", ""]
    return "\n".join(lines)


def project_files(name: str, *, units: int, functions: int, cases: int, nonce: int) -> dict[str, str]:
    """Sources of a project ``name``: ``units`` C files of ``functions`` functions each."""
    rng = random.Random(f"{name}-{nonce}")
    files = {
        "Makefile": _MAKEFILE.format(name=name),
        "src/gen.h": f"#define NONCE {nonce}u\n"
        + "".join(f"unsigned unit_{u}(unsigned seed);\n" for u in range(units)),
    }
    for u in range(units):
        body = ['#include "gen.h"', ""]
        body += [_function(rng, u, i, cases) for i in range(functions)]
        calls = " ^ ".join(f"gen_{u}_{i}(seed, {i + 3}u)" for i in range(functions))
        body.append(f"unsigned unit_{u}(unsigned seed) {{ return {calls}; }}\n")
        files[f"src/unit{u}.c"] = "\n".join(body)
    total = " ^ ".join(f"unit_{u}(s)" for u in range(units))
    files["src/main.c"] = (
        '#include <stdio.h>\n#include "gen.h"\n'
        f"int main(void) {{ unsigned s = 7u; printf(\"{name} %u\\n\", {total}); return 0; }}\n"
    )
    return files


def write_tarball(files: dict[str, str], top: str, dest: Path) -> str:
    """Write a reproducible ``.tar.gz`` of ``files`` under ``top/``; return its sha256."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(files):
            data = files[path].encode()
            info = tarfile.TarInfo(f"{top}/{path}")
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    blob = buf.getvalue()
    dest.write_bytes(blob)
    return hashlib.sha256(blob).hexdigest()


_RECIPE = """\
[package]
name = "{name}"
version = "1.0"
kind = "program"
description = "Generated C project for the parallel speed-up benchmark"
license = "MIT"

[[source]]
url = "{url}"
sha256 = "{sha256}"

[build]
system = "make"
make-args = ["CFLAGS=-O2"]

[outputs]
bin = ["{name}"]
"""


def write_plugins(root: Path, names: list[str], *, units: int = 24, functions: int = 6, cases: int = 24,
                  nonce: int | None = None) -> Path:
    """Write one plugin folder per name under ``root/plugins`` (tarballs under ``root/src``).

    Returns the folder to pass as ``--plugin-dir``.
    """
    nonce = nonce if nonce is not None else random.SystemRandom().randrange(1 << 30)
    plugins, src = root / "plugins", root / "src"
    src.mkdir(parents=True, exist_ok=True)
    for name in names:
        files = project_files(name, units=units, functions=functions, cases=cases, nonce=nonce)
        tarball = src / f"{name}-1.0.tar.gz"
        sha = write_tarball(files, f"{name}-1.0", tarball)
        folder = plugins / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "recipe.toml").write_text(_RECIPE.format(name=name, url=tarball.as_uri(), sha256=sha))
    return plugins
