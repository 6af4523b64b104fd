"""The ``bundle`` build system: programs of several recipes as one Wasmer package.

Two small make packages are built for real (wasix provider); a bundle of them is one Wasmer
package in which one program spawns the other by its command name, under wasmer-sdk.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wasix_backend.cli import main
from wasix_backend.runtime import run

pytestmark = pytest.mark.build

SPAWNER = r"""
#include <spawn.h>
#include <stdio.h>
#include <sys/wait.h>
extern char **environ;
int main(int argc, char **argv) {
  /* Run the command named on the command line: another member of the bundle. */
  const char *name = argc > 1 ? argv[1] : "helper";
  pid_t pid; char *args[] = {(char *)name, "hi", NULL};
  int rc = posix_spawnp(&pid, name, NULL, NULL, args, environ);
  if (rc) { printf("cannot spawn %s\n", name); return 1; }
  int status; waitpid(pid, &status, 0);
  printf("%s exited %d\n", name, WEXITSTATUS(status));
  return 0;
}
"""
HELPER = '#include <stdio.h>\nint main(int c, char **v) { printf("%s got %s\\n", v[0], c > 1 ? v[1] : "-"); return 5; }\n'

BUNDLE = """\
[package]
name = "{name}"
version = "1.0"
description = "a bundle of two programs"

[dependencies]
run = [{run}]

[build]
system = "bundle"

[outputs]
bin = [{bins}]
{commands}
"""


def _member(root: Path, up: Path, srv, name: str, source: str) -> None:
    from conftest import make_tarball, package_recipe, write_plugin

    makefile = f"{name}: {name}.c\n\t$(CC) -O2 {name}.c -o {name}\n"
    sha = make_tarball(up / f"{name}-1.0.tar.gz", name, {"Makefile": makefile, f"{name}.c": source})
    write_plugin(root, name, package_recipe(name, srv.url_for(f"{name}-1.0.tar.gz"), sha))


@pytest.fixture(scope="module")
def members(tmp_path_factory: pytest.TempPathFactory, wasix_sysroot: Path, provider_env):
    """Plugins ``spawner`` and ``helper`` built once into a private store."""
    from httpserver import serve

    root = tmp_path_factory.mktemp("bundle")
    mp = pytest.MonkeyPatch()
    for key, value in provider_env("wasix").items():
        mp.setenv(key, value)
    mp.setenv("WASIX_STORE", str(root / "store"))
    plugins = root / "plugins"
    try:
        with serve(root / "up") as srv:
            _member(plugins, root / "up", srv, "spawner", SPAWNER)
            _member(plugins, root / "up", srv, "helper", HELPER)
            assert main(["build", "spawner", "helper", "--plugin-dir", str(plugins), "--out", str(root / "dist")]) == 0
        yield root, plugins, mp
    finally:
        mp.undo()


def _bundle(plugins: Path, name: str, run_deps: list[str], bins: list[str], commands: str = "") -> None:
    from conftest import write_plugin

    quoted = lambda items: ", ".join(f'"{i}"' for i in items)  # noqa: E731
    write_plugin(plugins, name, BUNDLE.format(name=name, run=quoted(run_deps), bins=quoted(bins), commands=commands))


def test_a_bundle_is_one_package_whose_programs_spawn_each_other(members, capsys) -> None:
    root, plugins, _ = members
    _bundle(plugins, "pair", ["spawner", "helper"], ["spawner", "helper"], '[outputs.commands]\nspawner = "spawner"\nhelper = "helper"\nassistant = "helper"\n')
    args = ["--plugin-dir", str(plugins), "--out", str(root / "dist"), "--json"]
    capsys.readouterr()
    assert main(["wasmer", "pair", *args]) == 0
    assert json.loads(capsys.readouterr().out)
    pkg = root / "dist" / "pkg" / "pair"
    manifest = (pkg / "wasmer.toml").read_text()
    assert 'name = "assistant"' in manifest and sorted(p.name for p in (pkg / "bin").iterdir()) == ["helper.wasm", "spawner.wasm"]
    # The modules are the members' own, byte for byte (no second wasm-opt).
    helper_store = next((root / "store").glob("*-helper-1.0"))
    assert (pkg / "bin" / "helper.wasm").read_bytes() == (helper_store / "bin" / "helper.wasm").read_bytes()
    result = run(pkg, ["helper"], command="spawner")
    assert (result.exit_code, result.text) == (0, "helper got hi\nhelper exited 5\n")
    result = run(pkg, ["assistant"], command="spawner")  # a second name for the same module
    assert (result.exit_code, result.text) == (0, "assistant got hi\nassistant exited 5\n")


def test_a_binary_no_member_installs_is_named_with_the_members(members, capsys) -> None:
    root, plugins, _ = members
    _bundle(plugins, "lacking", ["helper"], ["helper", "spawner"])
    assert main(["build", "lacking", "--plugin-dir", str(plugins), "--out", str(root / "dist")]) != 0
    err = capsys.readouterr()
    assert "no run dependency installs bin/spawner.wasm (looked in helper)" in err.out + err.err


def test_a_bundle_without_run_dependencies_says_what_it_needs(members, capsys) -> None:
    root, plugins, _ = members
    _bundle(plugins, "empty", [], ["helper"])
    assert main(["build", "empty", "--plugin-dir", str(plugins), "--out", str(root / "dist")]) != 0
    err = capsys.readouterr()
    assert "a bundle needs [dependencies] run" in err.out + err.err
