"""GNU less on the real wasix-libc (issue 13): built unpatched, with setjmp/longjmp and the
shell escapes (system, popen) compiled in — what zig's wasi-libc (the retired zig provider)
forced a plugin author to patch out (no setjmp) or switch off (``--with-secure``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from test_collection import PLUGINS, collection_modules  # noqa: F401  (the session's builds)

from wasix_backend.recipe import load_recipe
from wasix_backend.runtime import run

pytestmark = pytest.mark.collection


def test_the_recipe_has_no_patch_and_keeps_shell_escapes() -> None:
    recipe = load_recipe(PLUGINS / "less" / "recipe.toml")
    assert recipe.patches == ()
    assert not any("secure" in arg for arg in recipe.build.get("configure-args", []))


def test_less_uses_setjmp_through_wasix_and_runs(collection_modules: Callable[[str], dict[str, Path]]) -> None:  # noqa: F811
    import wasmtime

    less = collection_modules("less")["less"]
    imports = {(i.module, i.name) for i in wasmtime.Module(wasmtime.Engine(), less.read_bytes()).imports}
    # setjmp/longjmp (its signal handling) and system() are the real libc's, not stubs.
    assert {("wasix_32v1", "stack_checkpoint"), ("wasix_32v1", "stack_restore")} <= imports
    assert ("wasix_32v1", "proc_spawn2") in imports  # system()/popen() spawn a process
    result = run(less, ["-F", "-X", "f.txt"], files={"/workspace/f.txt": "paged\n"}, env={"TERM": "xterm"})
    assert result.exit_code == 0 and b"paged" in result.stdout
