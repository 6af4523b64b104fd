"""Wasmer package directories: written from a recipe + prefix, loaded and run by the real runtime."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from wasix_backend.errors import WasixError
from wasix_backend.outputs.wasmer_pkg import write_wasmer_package
from wasix_backend.paths import cache_root, zig_cache_dir
from wasix_backend.recipe import recipe_from_dict
from wasix_backend.runtime import run

# A small multi-purpose program: greets, prints/creates/upcases files, exits with a status.
TOOL_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
int main(int argc, char **argv) {
  if (argc >= 3 && !strcmp(argv[1], "cat")) {
    FILE *f = fopen(argv[2], "rb"); if (!f) { perror(argv[2]); return 2; }
    int c; while ((c = fgetc(f)) != EOF) putchar(c); fclose(f); return 0; }
  if (argc >= 3 && !strcmp(argv[1], "upcase")) {
    FILE *f = fopen(argv[2], "rb"); if (!f) { perror(argv[2]); return 2; }
    static char b[65536]; size_t n = fread(b, 1, sizeof b, f); fclose(f);
    for (size_t i = 0; i < n; i++) b[i] = toupper((unsigned char)b[i]);
    f = fopen(argv[2], "wb"); if (!f) { perror(argv[2]); return 3; }
    fwrite(b, 1, n, f); fclose(f); printf("upcased %zu bytes\n", n); return 0; }
  if (argc >= 4 && !strcmp(argv[1], "new")) {
    FILE *f = fopen(argv[2], "wb"); if (!f) { perror(argv[2]); return 3; }
    fputs(argv[3], f); fclose(f); return 0; }
  if (argc >= 3 && !strcmp(argv[1], "exit")) return atoi(argv[2]);
  if (argc >= 2 && !strcmp(argv[1], "echo")) { int c; while ((c = getchar()) != EOF) putchar(toupper(c)); return 0; }
  printf("hello from %s", argv[0]);
  for (int i = 1; i < argc; i++) printf(" [%s]", argv[i]);
  printf("\n");
  return 0;
}
"""


#: TOOL_C compiled by zig's clang as :func:`compile_tool` does without ``env`` (ziglang 0.17.1):
#: the unit tier's copy, so tests of the output writers compile nothing. The build tier checks
#: that it still behaves as TOOL_C compiled afresh (test_the_prebuilt_tool_is_tool_c).
PREBUILT_TOOL = Path(__file__).parent / "data" / "tool.wasm"


def compile_tool(env: dict[str, str] | None = None) -> Path:
    """Compile TOOL_C once per machine and provider (cached by source, provider, sysroot).

    Without ``env``: zig's clang and wasi-libc directly (a plain WASI module, as the unit
    tier's prebuilt copy). With the provider's ``env`` (see conftest ``provider_env``): through
    ``wasixcc``, so packages and wheels are tested on its modules too."""
    env = env or {}
    provider = env.get("WASIX_PROVIDER", "zig-direct")
    tag = hashlib.sha256(f"{TOOL_C}\0{provider}\0{env.get('WASIXCC_SYSROOT', '')}".encode()).hexdigest()[:16]
    out = cache_root() / "test-modules" / f"tool-{tag}.wasm"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    src = out.with_suffix(".c")
    src.write_text(TOOL_C)
    tmp = out.with_suffix(f".tmp{os.getpid()}")
    if provider == "zig-direct":
        cmd = [sys.executable, "-m", "ziglang", "cc", "-target", "wasm32-wasi", "-O2", "-s", str(src), "-o", str(tmp)]
    else:
        from wasix_backend.toolchain import driver_bin_dir

        cmd = [str(driver_bin_dir() / "wasixcc"), "-O2", str(src), "-o", str(tmp)]
    subprocess.run(cmd, check=True, env={**os.environ, "ZIG_GLOBAL_CACHE_DIR": str(zig_cache_dir()), **env})
    os.replace(tmp, out)
    return out


@pytest.mark.build
def test_the_prebuilt_tool_is_tool_c(tmp_path: Path) -> None:
    fresh, prebuilt = compile_tool().read_bytes(), PREBUILT_TOOL.read_bytes()
    files = {"/workspace/f.txt": "some text\n"}
    for args in (["a", "b c"], ["exit", "9"], ["cat", "/workspace/f.txt"], ["cat", "/workspace/none"]):
        a, b = run(fresh, args, files=files), run(prebuilt, args, files=files)
        assert (a.exit_code, a.stdout, a.stderr) == (b.exit_code, b.stdout, b.stderr), args


#: The tool as the output writers' tests get it: the prebuilt copy (unit tier), then compiled
#: by the provider (build tier), so packages and wheels are also tested on wasix-libc's modules.
TOOL_BUILDS = ["prebuilt", pytest.param("wasix", marks=pytest.mark.build)]


def tool_of(request: pytest.FixtureRequest) -> Path:
    """The tool for a fixture parametrized with :data:`TOOL_BUILDS`."""
    if request.param == "prebuilt":
        return PREBUILT_TOOL
    return compile_tool(request.getfixturevalue("provider_env")(request.param))  # skips without the provider


@pytest.fixture(scope="session", params=TOOL_BUILDS)
def tool_wasm(request: pytest.FixtureRequest) -> Path:
    return tool_of(request)


@pytest.fixture
def prefix(tmp_path: Path, tool_wasm: Path) -> Path:
    root = tmp_path / "prefix"
    (root / "bin").mkdir(parents=True)
    for name in ("hello", "tool"):
        (root / "bin" / f"{name}.wasm").write_bytes(tool_wasm.read_bytes())
    (root / "share/hello/sub").mkdir(parents=True)
    (root / "share/hello/msg.txt").write_text("greetings data\n")
    (root / "share/hello/sub/deep.txt").write_text("deep\n")
    return root


def make_recipe(**over):
    data = {
        "package": {"name": "hello", "version": "1.2.0", "license": "MIT", "homepage": "https://example.org/hello"},
        "outputs": {"bin": ["hello", "tool"], "commands": {"hello": "hello", "tool": "tool"}},
    }
    for key, value in over.items():
        data[key] = value
    return recipe_from_dict(data, plugin="t")


def test_package_runs_every_command(tmp_path, prefix):
    pkg = write_wasmer_package(make_recipe(), prefix, tmp_path / "dist")
    assert pkg == tmp_path / "dist" / "pkg" / "hello"
    for cmd in ("hello", "tool"):
        res = run(pkg, ["a", "b"], command=cmd)
        assert res.exit_code == 0
        assert res.text == f"hello from {cmd} [a] [b]\n"
    assert run(pkg, ["exit", "5"], command="tool").exit_code == 5
    assert run(pkg, ["x"]).text == "hello from hello [x]\n"  # the entrypoint


def test_manifest_fields(tmp_path, prefix):
    pkg = write_wasmer_package(make_recipe(), prefix, tmp_path)
    spec = tomllib.loads((pkg / "wasmer.toml").read_text())
    assert spec["package"]["name"] == "wasmer/hello"
    assert spec["package"]["version"] == "1.2.0"
    assert spec["package"]["license"] == "MIT"
    assert spec["package"]["description"]  # wasmer requires one; a sentence is made up
    assert spec["package"]["entrypoint"] == "hello"
    assert [(m["name"], m["source"], m["abi"]) for m in spec["module"]] == [
        ("hello", "bin/hello.wasm", "wasi"), ("tool", "bin/tool.wasm", "wasi")]
    assert {c["name"]: c["module"] for c in spec["command"]} == {"hello": "hello", "tool": "tool"}
    assert all(c["runner"] == "https://webc.org/runner/wasi" for c in spec["command"])
    assert "fs" not in spec
    assert (pkg / "bin/tool.wasm").read_bytes() == (prefix / "bin/tool.wasm").read_bytes()


def test_namespace_precedence(tmp_path, prefix):
    with_extra = make_recipe(wasmer={"namespace": "acme"})
    name = lambda p: tomllib.loads((p / "wasmer.toml").read_text())["package"]["name"]  # noqa: E731
    assert name(write_wasmer_package(with_extra, prefix, tmp_path / "a")) == "acme/hello"
    assert name(write_wasmer_package(with_extra, prefix, tmp_path / "b", namespace="me")) == "me/hello"


def test_commands_default_to_modules(tmp_path, prefix):
    recipe = recipe_from_dict({"package": {"name": "hello", "version": "1.0", "description": "Says hi."},
                               "outputs": {"bin": ["tool"]}}, plugin="t")
    pkg = write_wasmer_package(recipe, prefix, tmp_path)
    spec = tomllib.loads((pkg / "wasmer.toml").read_text())
    assert spec["package"]["description"] == "Says hi."
    assert spec["package"]["version"] == "1.0.0"  # wasmer insists on SemVer
    assert [c["name"] for c in spec["command"]] == ["tool"]
    assert spec["package"]["entrypoint"] == "tool"
    assert run(pkg, []).text == "hello from tool\n"


def test_data_is_mapped_into_the_guest(tmp_path, prefix):
    recipe = make_recipe(outputs={"bin": ["hello", "tool"], "data": {"/usr/share/hello": "share/hello"}})
    pkg = write_wasmer_package(recipe, prefix, tmp_path)
    assert tomllib.loads((pkg / "wasmer.toml").read_text())["fs"] == {"/usr/share/hello": "share/hello"}
    assert run(pkg, ["cat", "/usr/share/hello/msg.txt"], command="hello").text == "greetings data\n"
    assert run(pkg, ["cat", "/usr/share/hello/sub/deep.txt"], command="tool").text == "deep\n"


def test_rewrite_replaces_the_old_package(tmp_path, prefix):
    pkg = write_wasmer_package(make_recipe(), prefix, tmp_path)
    (pkg / "stale.txt").write_text("old")
    again = write_wasmer_package(make_recipe(), prefix, tmp_path)
    assert again == pkg and not (pkg / "stale.txt").exists()
    assert sorted(p.name for p in pkg.parent.iterdir()) == ["hello"]  # no temp dirs left


def test_missing_module_is_a_clear_error_and_keeps_the_old_package(tmp_path, prefix):
    pkg = write_wasmer_package(make_recipe(), prefix, tmp_path)
    before = (pkg / "wasmer.toml").read_text()
    (prefix / "bin/tool.wasm").unlink()
    with pytest.raises(WasixError, match=r"tool.*missing"):
        write_wasmer_package(make_recipe(), prefix, tmp_path)
    assert (pkg / "wasmer.toml").read_text() == before
    assert sorted(p.name for p in pkg.parent.iterdir()) == ["hello"]


@pytest.mark.parametrize(
    ("pep440", "expected"),
    [("7.2", "7.2.0"), ("1.2.3", "1.2.3"), ("6", "6.0.0"), ("1.2.3.4", "1.2.3+4"),
     ("2.0rc1", "2.0.0-rc.1"), ("1.0a2", "1.0.0-alpha.2"), ("1.0.post3", "1.0.0+post.3"),
     ("1.0.dev4", "1.0.0-dev.4")],
)
def test_semver(pep440, expected):
    from wasix_backend.outputs.wasmer_pkg import semver

    assert semver(pep440) == expected


# WASIX's own getcwd (wasix_32v1), which wasix-libc's getcwd and relative paths use.
GETCWD_C = r"""
#include <stdio.h>
#include <stdint.h>
__attribute__((import_module("wasix_32v1"), import_name("getcwd")))
uint16_t wasix_getcwd(char *buf, uint32_t *len);
int main(void) { char b[256]; uint32_t n = sizeof b;
  if (wasix_getcwd(b, &n)) return 1; printf("%.*s\n", (int)n, b); return 0; }
"""


@pytest.mark.build
def test_programs_start_in_workspace_unless_told_otherwise(tmp_path) -> None:
    """docs/plugins.md: the working directory is /workspace (runtime.run's default ``cwd``)."""
    from wasix_backend.toolchain import get_toolchain

    (tmp_path / "g.c").write_text(GETCWD_C)
    tc = get_toolchain()
    subprocess.run([str(tc.tool("wasixcc")), "-O2", "g.c", "-o", "g.wasm"], cwd=tmp_path, env={**os.environ, **tc.env()}, check=True)
    assert run(tmp_path / "g.wasm").text.rstrip("\0\n") == "/workspace"
    assert run(tmp_path / "g.wasm", cwd="/tmp").text.rstrip("\0\n") == "/tmp"
