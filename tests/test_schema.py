"""The typed recipe model: one declaration gives the loader's defaults, its checks and the JSON
schemas shipped in the package, which accept every built-in plugin and refuse what the loader
refuses."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jsonschema
import pytest

from wasix_backend import difftest, schema
from wasix_backend.api import BuildSystem, Registry, read_settings, section_of, setting
from wasix_backend.errors import RecipeError
from wasix_backend.plugins import generic_registry
from wasix_backend.recipe import recipe_from_dict
from wasix_backend.schema_docs import (
    JSON_FILES,
    SCHEMA_DIR,
    cases_json_schema,
    main,
    recipe_json_schema,
    render,
)

ROOT = Path(__file__).parents[1]
PLUGINS = ROOT / "plugins"
SHA = "0" * 64
BASE: dict[str, Any] = {"package": {"name": "x", "version": "1"}, "outputs": {"bin": ["x"]},
                        "source": [{"url": "http://127.0.0.1:9/x-1.tar.gz", "sha256": SHA}]}


def _validator(data: dict[str, Any]) -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(data)
    return jsonschema.Draft202012Validator(data)


def test_the_shipped_json_schemas_are_the_models() -> None:
    assert main(["--check", "--json", str(ROOT / "docs" / "plugins.md")]) == 0, \
        "run `python -m wasix_backend.schema_docs --json docs/plugins.md`"
    assert json.loads((SCHEMA_DIR / JSON_FILES["recipe"]).read_text()) == recipe_json_schema()
    assert json.loads((SCHEMA_DIR / JSON_FILES["cases"]).read_text()) == cases_json_schema()


@pytest.mark.parametrize("recipe", sorted(PLUGINS.glob("*/recipe.toml")), ids=lambda p: p.parent.name)
def test_every_builtin_recipe_is_valid_by_the_json_schema(recipe: Path) -> None:
    errors = list(_validator(recipe_json_schema()).iter_errors(tomllib.loads(recipe.read_text())))
    assert not errors, [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]


@pytest.mark.parametrize("cases", sorted(PLUGINS.glob("*/cases.toml")), ids=lambda p: p.parent.name)
def test_every_builtin_cases_file_is_valid_by_the_json_schema(cases: Path) -> None:
    errors = list(_validator(cases_json_schema()).iter_errors(tomllib.loads(cases.read_text())))
    assert not errors, [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]


def test_there_are_builtin_recipes_and_cases_to_check() -> None:
    assert len(list(PLUGINS.glob("*/recipe.toml"))) > 20 and len(list(PLUGINS.glob("*/cases.toml"))) > 10


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"package": {"name": "x", "version": "1", "licence": "MIT"}}, "package.licence"),
        ({"package": {"name": "x", "version": "1", "kind": "daemon"}}, "package.kind"),
        ({"package": {"version": "1"}}, "package.name"),
        ({"source": [{"url": "http://127.0.0.1:9/x.tgz", "sha256": SHA, "strip": "1"}]}, "source[0].strip"),
        ({"build": {"cmake-args": ["-DX=1"]}}, "build.cmake-args"),  # a cmake key, autotools recipe
        ({"build": {"configure-cache": "no"}}, "build.configure-cache"),
        ({"build": {"system": "cargo", "features": "serde"}}, "build.features"),
        ({"build": {"system": "cargo", "crates-git": {"a": {"git": "u"}}}}, "build.crates-git.a.rev"),
        ({"build": {"system": "make", "configure-args": []}}, "build.configure-args"),
        ({"outputs": {"bin": ["x"], "network": "yes"}}, "outputs.network"),
        ({"update": {"listing": "u"}}, "update.url-template"),
    ],
)
def test_the_json_schema_refuses_what_the_loader_refuses(change: dict[str, Any], field: str, tmp_path: Path) -> None:
    data = {**BASE, **change}
    with pytest.raises(RecipeError) as info:
        recipe_from_dict(data, plugin="p", plugin_dir=tmp_path, registry=generic_registry())
    assert info.value.field == field, str(info.value)
    assert not _validator(recipe_json_schema()).is_valid(data)
    assert _validator(recipe_json_schema()).is_valid(BASE)


def test_the_loader_fills_in_the_declared_defaults(tmp_path: Path) -> None:
    recipe = recipe_from_dict(BASE, plugin="p", plugin_dir=tmp_path, registry=generic_registry())
    assert recipe.kind == schema.PACKAGE.get("kind").value == "program"  # type: ignore[union-attr]
    assert recipe.sources[0].strip == schema.SOURCE.get("strip").value == 1  # type: ignore[union-attr]
    assert recipe.build_system == schema.DEFAULT_BUILD_SYSTEM and recipe.network is False
    path = tmp_path / "cases.toml"
    path.write_text('[defaults]\ncommand = "x"\nnative = "/bin/true"\n[[case]]\nname = "a"\n')
    (case,) = difftest.load_cases(path)
    defaults = difftest.DefaultsTable()
    assert case.timeout == defaults.timeout == 60 and case.compare == tuple(defaults.compare)
    assert case.network is defaults.network is False


def test_a_table_default_is_a_fresh_copy_each_time() -> None:
    first = schema.load(schema.OutputsTable, "p", "outputs", {})
    first.bin.append("changed")
    assert schema.load(schema.OutputsTable, "p", "outputs", {}).bin == []


#: Build code, which is in store keys, reads ``[build]`` with its own defaults
#: (``build.get("wasm-opt-flags", [...])``): they must be the declared ones.
_BUILD_READERS = [*(ROOT / "wasix_backend" / "buildsystems").glob("*.py"),
                  *(ROOT / "wasix_backend" / n for n in ("finalize.py", "buildenv.py", "engine.py", "nativebuild.py"))]


def _restated_defaults() -> list[tuple[str, str, Any]]:
    """(module, key, literal default) of every ``….build.get("KEY", LITERAL)`` in build code."""
    out = []
    for path in _BUILD_READERS:
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
                    and ast.unparse(node.func.value).endswith("build") and len(node.args) == 2
                    and isinstance(node.args[0], ast.Constant)):
                try:
                    value = ast.literal_eval(node.args[1])
                except ValueError:
                    continue  # worked out by the code (a toolchain's triple, the recipe's binaries)
                out.append((path.name, node.args[0].value, value))
    return out


def test_defaults_restated_by_build_code_are_the_declared_ones() -> None:
    systems = generic_registry().build_systems.values()
    restated = _restated_defaults()
    assert len(restated) >= 10, restated  # the check reads the code it guards
    for module, key, value in restated:
        declared = [f for s in (schema.BUILD_COMMON, *(s.settings for s in systems)) if (f := s.get(key))]
        assert declared, (module, key)
        defaults = {repr(f.default_value()) for f in declared} - {repr(schema.COMPUTED)}
        assert defaults <= {repr(value)}, (module, key, value, defaults)


@dataclass(frozen=True, kw_only=True)
class SconsSettings:
    """A third-party build system's ``[build]`` keys, declared as the built-in tables are."""

    targets: list[str] = setting("targets to build", default=["all"])
    jobs: int = setting("parallel jobs", default=1)
    variant: Literal["debug", "release"] = setting("which build", default="release")


def test_a_plugin_build_system_declares_and_reads_typed_settings(tmp_path: Path) -> None:
    registry = Registry()
    registry.build_system(BuildSystem("scons", settings=section_of(SconsSettings, "build (scons)")))
    data = {**BASE, "build": {"system": "scons", "jobs": 4, "env": {"A": "1"}}}
    recipe = recipe_from_dict(data, plugin="p", plugin_dir=tmp_path, registry=registry)
    assert read_settings(SconsSettings, recipe.build) == SconsSettings(jobs=4)
    assert read_settings(SconsSettings, recipe.build).targets == ["all"]
    for build, field, problem in [({"jbos": 4}, "build.jbos", "did you mean 'jobs'?"),
                                  ({"variant": "fast"}, "build.variant", "not one of debug, release"),
                                  ({"targets": "all"}, "build.targets", "expected list of strings")]:
        with pytest.raises(RecipeError) as info:
            recipe_from_dict({**BASE, "build": {"system": "scons", **build}}, plugin="p", plugin_dir=tmp_path,
                             registry=registry)
        assert info.value.field == field and problem in str(info.value), str(info.value)
    props = recipe_json_schema(registry)["properties"]["build"]["properties"]
    assert props["variant"] == {"type": "string", "enum": ["debug", "release"], "description": "which build",
                                "default": "release"}
    assert "| `jobs` | integer | `1` | parallel jobs |" in render("build-scons", list(section_of(SconsSettings).fields))


def test_the_schema_command_prints_and_writes_the_json_schemas(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "cases.json"
    out.parent.mkdir()
    run = subprocess.run([sys.executable, "-m", "wasix_backend", "schema", "cases", "-o", str(out)],
                         capture_output=True, text=True, check=True)
    assert out.read_text() == (SCHEMA_DIR / JSON_FILES["cases"]).read_text() and str(out) in run.stderr
    printed = subprocess.run([sys.executable, "-m", "wasix_backend", "schema"], capture_output=True, text=True, check=True)
    build = json.loads(printed.stdout)["properties"]["build"]
    assert {"configure-args", "cmake-args", "crates-git", "bin-dir"} <= set(build["properties"])
