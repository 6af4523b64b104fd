"""Plain Makefiles that put flags into a tool variable (Lua's `AR= ar rcu`): the recipe's
make-args assignment wins over the toolchain's, and ``{tool:NAME}`` names the toolchain's."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_tarball, package_recipe, write_plugin

from wasix_backend.cli import main
from wasix_backend.runtime import run

# As Lua's src/Makefile: the archiver's operation is part of AR, so a bare `AR=llvm-ar` breaks it.
MAKEFILE = """\
AR = ar rcu
arc: main.o libpart.a
\t$(CC) $(CFLAGS) -o arc main.o libpart.a
libpart.a: part.o
\t$(AR) $@ part.o
"""
FILES = {
    "Makefile": MAKEFILE,
    "part.c": "int part(void) { return 42; }\n",
    "main.c": '#include <stdio.h>\nint part(void);\nint main(void) { printf("%d\\n", part()); return 0; }\n',
}


def _plugin(tmp_path: Path, make_args: str) -> Path:
    tarball = tmp_path / "src" / "arc-1.0.tar.gz"
    sha = make_tarball(tarball, "arc-1.0", FILES)
    return write_plugin(tmp_path / "plugins", "arc", package_recipe("arc", tarball.as_uri(), sha, build_extra=make_args))


@pytest.mark.build
def test_make_args_tool_assignment_replaces_the_toolchains(tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plugins = _plugin(tmp_path, 'make-args = ["AR={tool:AR} rcu"]')
    monkeypatch.chdir(tmp_path)
    assert main(["build", "arc", "--plugin-dir", str(plugins)]) == 0
    result = run(tmp_path / "dist" / "bin" / "arc.wasm")
    assert (result.exit_code, result.text) == (0, "42\n")


def test_unknown_tool_placeholder_is_named(tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    plugins = _plugin(tmp_path, 'make-args = ["AR={tool:ARR} rcu"]')
    monkeypatch.chdir(tmp_path)
    assert main(["build", "arc", "--plugin-dir", str(plugins)]) != 0
    err = capsys.readouterr().err
    assert "{tool:ARR}: the toolchain has no ARR" in err and "AR" in err
