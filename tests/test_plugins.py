"""Recipe validation and plugin discovery: errors name the plugin, field and problem."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import write_plugin

import wasix_backend
from wasix_backend import schema
from wasix_backend.errors import RecipeError
from wasix_backend.plugins import generic_registry, load_plugins
from wasix_backend.recipe import recipe_from_dict

SHA = "0" * 64
GOOD = f"""\
[package]
name = "good"
version = "1.0"

[[source]]
url = "http://127.0.0.1:9/good-1.0.tar.gz"
sha256 = "{SHA}"

[outputs]
bin = ["good"]
"""


@pytest.mark.parametrize(
    ("data", "field", "problem"),
    [
        ({"package": {"version": "1"}}, "package.name", "expected str"),
        ({"package": {"name": "Bad Name", "version": "1"}}, "package.name", "lower-case"),
        ({"package": {"name": "x", "version": "one"}}, "package.version", "not a PEP 440"),
        ({"package": {"name": "x", "version": "1", "kind": "daemon"}}, "package.kind", "not one of"),
        ({"package": {"name": "x", "version": "1"}, "source": [{"url": "u", "sha256": "abc"}]}, "source[0].sha256", "64 hex"),
        ({"package": {"name": "x", "version": "1"}, "source": [{"sha256": SHA}]}, "source[0]", "needs `url`"),
        ({"package": {"name": "x", "version": "1"}, "dependencies": {"build": ["ncurses >= = 6"]}}, "dependencies.build[0]", "not a valid dependency"),
        ({"package": {"name": "x", "version": "1"}, "build": {"system": "scons"}}, "build.system", "not a registered build system"),
        ({"package": {"name": "x", "version": "1", "kind": "program"}}, "outputs.bin", "at least one binary"),
        ({"package": {"name": "x", "version": "1"}, "outputs": {"bin": ["x"], "commands": {"y": "z"}}}, "outputs.commands.y", "not in outputs.bin"),
        ({"package": {"name": "x", "version": "1"}, "outputs": {"bin": ["x"]}, "patches": ["nope.patch"]}, "patches[0]", "no such file"),
    ],
)
def test_invalid_recipes_name_plugin_field_and_problem(data, field, problem, tmp_path) -> None:
    with pytest.raises(RecipeError) as info:
        recipe_from_dict(data, plugin="myplugin", plugin_dir=tmp_path)
    assert info.value.plugin == "myplugin" and info.value.field == field
    assert problem in str(info.value) and "myplugin" in str(info.value)


def test_a_broken_plugin_is_reported_and_does_not_hide_the_others(tmp_path) -> None:
    write_plugin(tmp_path, "good", GOOD)
    write_plugin(tmp_path, "importfails", GOOD.replace("good", "importfails"), "import does_not_exist\n")
    write_plugin(tmp_path, "badrecipe", GOOD.replace('name = "good"', 'name = "badrecipe"').replace('version = "1.0"', 'version = "x.y"'))
    write_plugin(tmp_path, "raises", GOOD.replace("good", "raises"),
                 "from wasix_backend import hookimpl\n@hookimpl\ndef wasix_recipes():\n    raise RuntimeError('boom')\n")
    loaded = load_plugins([tmp_path], builtins=False, entry_points=False)
    assert set(loaded.recipes) == {"good"}
    problems = "\n".join(map(str, loaded.errors))
    assert "'importfails'" in problems and "does_not_exist" in problems
    assert "'badrecipe'" in problems and "package.version" in problems
    assert "'raises'" in problems and "boom" in problems


def test_plugin_dir_may_be_one_plugin_folder(tmp_path) -> None:
    folder = write_plugin(tmp_path, "good", GOOD)
    loaded = load_plugins([folder], builtins=False, entry_points=False)
    assert loaded.recipes["good"].plugin == "good"


def test_builtin_plugins_load_cleanly() -> None:
    loaded = load_plugins(entry_points=False)
    assert not loaded.errors, loaded.errors


def test_a_misspelt_hook_is_an_error_naming_the_plugin_and_the_right_name(tmp_path) -> None:
    write_plugin(tmp_path, "good", GOOD)
    write_plugin(tmp_path, "typo", GOOD.replace("good", "typo"),
                 "from wasix_backend import hookimpl\n@hookimpl\ndef wasix_configur(ctx):\n    return True\n")
    loaded = load_plugins([tmp_path], builtins=False, entry_points=False)
    assert set(loaded.recipes) == {"good"}  # the broken plugin does not half-load
    problems = "\n".join(map(str, loaded.errors))
    assert "'typo'" in problems and "'wasix_configur'" in problems and "did you mean 'wasix_configure'" in problems
    assert "plugin.py:2" in problems


def test_recipes_are_collected_through_pluggy(tmp_path) -> None:
    # Without @hookimpl pluggy never calls it: say so rather than load nothing silently.
    write_plugin(tmp_path, "unmarked", GOOD.replace("good", "unmarked"),
                 "from pathlib import Path\nfrom wasix_backend.recipe import load_recipe\n"
                 "def recipes():\n    return [load_recipe(Path(__file__).with_name('recipe.toml'))]\n")
    write_plugin(tmp_path, "badresult", GOOD.replace("good", "badresult"),
                 "from wasix_backend import hookimpl\n@hookimpl\ndef wasix_recipes():\n    return ['not a recipe']\n")
    loaded = load_plugins([tmp_path], builtins=False, entry_points=False)
    assert not loaded.recipes
    problems = "\n".join(map(str, loaded.errors))
    assert "'unmarked'" in problems and "without @hookimpl" in problems
    assert "'badresult'" in problems and "list of Recipe" in problems


@pytest.mark.parametrize(
    ("extra", "field", "problem"),
    [
        ({"package": {"name": "x", "version": "1", "licence": "MIT"}}, "package.licence", "did you mean 'license'?"),
        ({"dependancies": {"build": ["ncurses"]}}, "dependancies", "did you mean 'dependencies'?"),
        ({"build": {"configure_args": ["--disable-nls"]}}, "build.configure_args", "did you mean 'configure-args'?"),
        ({"outputs": {"binz": ["x"]}}, "outputs.binz", "did you mean 'bin'?"),
        ({"build": {"cmake-args": ["-DX=1"]}}, "build.cmake-args", "a setting of the cmake build system, not of 'autotools'"),
        ({"build": {"system": "cargo", "features": "serde"}}, "build.features", "expected list of strings"),
        ({"update": {"listing": "u", "url_template": "t"}}, "update.url_template", "did you mean 'url-template'?"),
        ({"mytool": {"x": 1}}, "mytool", "must be claimed"),
    ],
)
def test_the_schema_rejects_unknown_keys_with_the_closest_name(extra, field, problem, tmp_path) -> None:
    data = {"package": {"name": "x", "version": "1"}, "outputs": {"bin": ["x"]}}
    for key, value in extra.items():
        data[key] = {**data.get(key, {}), **value}
    with pytest.raises(RecipeError) as info:
        recipe_from_dict(data, plugin="myplugin", plugin_dir=tmp_path)
    assert info.value.field == field and problem in str(info.value), str(info.value)


def test_autotools_configure_cache_is_a_declared_setting(tmp_path) -> None:
    # Documented and read by the autotools build system; once missing from its settings, so
    # `configure-cache = false` was refused as a typo.
    data = {"package": {"name": "x", "version": "1"}, "outputs": {"bin": ["x"]}, "build": {"configure-cache": False}}
    assert recipe_from_dict(data, plugin="myplugin", plugin_dir=tmp_path).build == {"configure-cache": False}
    data["build"] = {"configure-cache": "no"}
    with pytest.raises(RecipeError, match="expected bool"):
        recipe_from_dict(data, plugin="myplugin", plugin_dir=tmp_path)


#: How they read a ``[build]`` key: ``build.get("KEY"``, ``build["KEY"]``, autotools' ``args(ctx, "KEY")``.
_READS = re.compile(r'(?:build\.get\(|build\[|args\(ctx, )"([a-z][a-z0-9-]*)"')


def test_every_build_key_the_code_reads_is_declared() -> None:
    """A key read but not declared is refused in every recipe that sets it (the configure-cache bug)."""
    package = Path(wasix_backend.__file__).parent
    registry = generic_registry()
    common = set(schema.BUILD_COMMON.names())
    for system in registry.build_systems:  # each built-in system is its module's namesake
        read = set(_READS.findall((package / "buildsystems" / f"{system}.py").read_text()))
        declared = common | set(registry.build_systems[system].settings.names())
        if system == "make":  # it uses autotools' make helpers, which read only what make declares too
            read -= set(_READS.findall((package / "buildsystems" / "autotools.py").read_text())) - declared
        assert read <= declared, (system, sorted(read - declared))
    for module in ("engine", "finalize", "buildenv", "context"):  # every system's builds: the common keys
        read = set(_READS.findall((package / f"{module}.py").read_text()))
        assert read <= common, (module, sorted(read - common))


def test_recipes_differing_only_in_their_tables_are_not_equal(tmp_path) -> None:
    def recipe(**tables):
        data = {"package": {"name": "x", "version": "1"}, "outputs": {"bin": ["x"]}, **tables}
        return recipe_from_dict(data, plugin="myplugin", plugin_dir=tmp_path)

    plain = recipe(build={"configure-args": ["--disable-nls"]})
    assert plain == recipe(build={"configure-args": ["--disable-nls"]})
    assert hash(plain) == hash(recipe(build={"configure-args": ["--disable-nls"]}))  # equal ones hash alike
    assert plain != recipe(build={"configure-args": []})  # once `compare=False`: equal
    assert recipe() != recipe(outputs={"bin": ["x"], "commands": {"y": "x"}})
    assert recipe() != recipe(wasmer={"namespace": "me"})
    assert len({plain, recipe(build={"configure-args": []}), recipe(build={"configure-args": ["--disable-nls"]})}) == 2
    # Where it was declared from is no part of what it is.
    assert recipe_from_dict({"package": {"name": "x", "version": "1"}, "outputs": {"bin": ["x"]}}, plugin="other",
                            plugin_dir=tmp_path / "elsewhere") == recipe()  # fmt: skip


def test_a_plugin_claims_its_own_table(tmp_path) -> None:
    data = {"package": {"name": "x", "version": "1"}, "outputs": {"bin": ["x"]}, "mytool": {"anything": [1]}}
    recipe = recipe_from_dict(data, plugin="myplugin", plugin_dir=tmp_path, extra_tables=["mytool"])
    assert recipe.extra["mytool"] == {"anything": [1]}


# ------------------------------------------------------------------ registered build systems
SYSTEM_PY = """\
import sys
from wasix_backend.api import BuildSystem, Field, Section, hookimpl

@hookimpl
def wasix_register(registry):
    registry.build_system(BuildSystem("echo", hooks=sys.modules[__name__],
                                      settings=Section("build (echo)", (Field("word", "string", "", "what to write"),))))

@hookimpl
def wasix_configure(ctx):
    return True

@hookimpl
def wasix_compile(ctx):
    return True

@hookimpl
def wasix_package(ctx):
    ctx.stage.mkdir(parents=True, exist_ok=True)
    (ctx.stage / "by").write_text("echo " + ctx.recipe.build.get("word", ""))
    return True
"""
LIB = """\
[package]
name = "{name}"
version = "1.0"
kind = "library"

[build]
system = "echo"
word = "hi"
"""


def _system_plugin(root, name: str = "zzz-echo"):
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "plugin.py").write_text(SYSTEM_PY)
    return folder


def test_a_folder_recipe_may_use_a_build_system_of_a_plugin_loaded_after_it(tmp_path) -> None:
    write_plugin(tmp_path, "aaa-lib", LIB.format(name="aaa-lib"))  # loads first: sorted by name
    _system_plugin(tmp_path)
    loaded = load_plugins([tmp_path], builtins=False, entry_points=False)
    assert not loaded.errors, loaded.errors
    assert loaded.recipes["aaa-lib"].build == {"word": "hi"}
    assert loaded.registry.owners[("build system", "echo")] == "zzz-echo"


def test_a_key_the_registered_build_system_does_not_declare_is_refused(tmp_path) -> None:
    write_plugin(tmp_path, "lib", LIB.format(name="lib").replace("word =", "wurd ="))
    _system_plugin(tmp_path)
    problems = "\n".join(map(str, load_plugins([tmp_path], builtins=False, entry_points=False).errors))
    assert "build.wurd" in problems and "did you mean 'word'?" in problems


def test_a_build_system_registered_twice_is_an_error_naming_both_plugins(tmp_path) -> None:
    _system_plugin(tmp_path, "one")
    _system_plugin(tmp_path, "two")
    loaded = load_plugins([tmp_path], builtins=False, entry_points=False)
    problems = "\n".join(map(str, loaded.errors))
    assert "build system 'echo' of plugin 'two' is already registered by plugin 'one'" in problems
    assert loaded.registry.owners[("build system", "echo")] == "one"


def test_an_old_unprefixed_hook_is_an_error_saying_its_new_name(tmp_path) -> None:
    write_plugin(tmp_path, "old", GOOD.replace("good", "old"),
                 "from wasix_backend import hookimpl\n@hookimpl\ndef configure(ctx):\n    return True\n")
    problems = "\n".join(map(str, load_plugins([tmp_path], builtins=False, entry_points=False).errors))
    assert "'configure'" in problems and "was renamed to 'wasix_configure'" in problems


def test_the_package_plugin_runs_before_its_build_system_and_other_systems_not_at_all(tmp_path, store, wb, capsys) -> None:
    """The recipe's plugin replaces the build system's package step; the echo system's hooks
    run for its recipes only (a `none` recipe whose plugin does not package is not packaged)."""
    from wasix_backend.store import Store

    plugins = tmp_path / "plugins"
    own = ("from wasix_backend import hookimpl\n@hookimpl\ndef wasix_package(ctx):\n"
           "    ctx.stage.mkdir(parents=True, exist_ok=True)\n    (ctx.stage / 'by').write_text('package')\n    return True\n")
    write_plugin(plugins, "aaa-lib", LIB.format(name="aaa-lib"), own)
    write_plugin(plugins, "plain", LIB.format(name="plain"))
    bare = "from wasix_backend import hookimpl\n@hookimpl\ndef wasix_configure(ctx):\n    return True\n" \
           "@hookimpl\ndef wasix_compile(ctx):\n    return True\n"
    write_plugin(plugins, "bare", LIB.format(name="bare").replace('system = "echo"\nword = "hi"', 'system = "none"'), bare)
    _system_plugin(plugins)
    assert wb("build", "aaa-lib", "plain", "bare", "--keep-going", "--plugin-dir", str(plugins)) == 1
    assert "no plugin handled the package phase for build system 'none'" in capsys.readouterr().err
    entries = {p.name.split("-", 1)[1]: p for p in Store(store).entries()}
    assert (entries["aaa-lib-1.0"] / "by").read_text() == "package"
    assert (entries["plain-1.0"] / "by").read_text() == "echo hi"
    assert "bare-1.0" not in entries


PLUGIN_PY = """\
from pathlib import Path
from wasix_backend import hookimpl
from wasix_backend.recipe import load_recipe

HERE = Path(__file__).resolve().parent


@hookimpl
def wasix_recipes():
    return [load_recipe(HERE / "recipe.toml")]
"""


def _installed(site, monkeypatch, name: str, folder_files: dict[str, str]):
    """A plugin folder installed as a wheel of `wasix-build new`'s layout installs it: package
    ``wasix_plugin_NAME`` (the folder's files and an empty ``__init__.py``), entry point
    ``NAME = wasix_plugin_NAME.plugin``."""
    import importlib
    import sys

    pkg = site / f"wasix_plugin_{name}"
    for rel, text in {**folder_files, "__init__.py": ""}.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    info = site / f"wasix_{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: wasix-{name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[wasix_backend.plugins]\n{name} = wasix_plugin_{name}.plugin\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    monkeypatch.delitem(sys.modules, f"wasix_plugin_{name}", raising=False)
    monkeypatch.delitem(sys.modules, f"wasix_plugin_{name}.plugin", raising=False)


def test_an_installed_plugin_has_the_fingerprint_of_its_folder(tmp_path, monkeypatch) -> None:
    """`pip install PLUGIN`, then `wasix-build build NAME`: the same store key, no second build
    (the installed package's other files count, as the folder's do; its empty __init__ does not)."""
    files = {"recipe.toml": GOOD, "plugin.py": PLUGIN_PY, "tools/table.txt": "a b\n", "patches/README.md": "x\n"}
    folder = tmp_path / "plugins" / "good"
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    from_folder = load_plugins([folder], builtins=False, entry_points=False).fingerprint("good")
    _installed(tmp_path / "site", monkeypatch, "good", files)
    loaded = load_plugins(builtins=False)
    assert loaded.origins["good"].startswith("entry point")
    assert loaded.fingerprint("good") == from_folder
    assert set(from_folder) == {"plugin.py", "table.txt"}


def test_a_folder_named_on_the_command_line_replaces_an_installed_copy_of_its_recipe(tmp_path, monkeypatch) -> None:
    """pip builds the folder it is given even where the plugin is installed already (the
    folder's name, like an unpacked sdist's, need not be the installed plugin's)."""
    _installed(tmp_path / "site", monkeypatch, "good", {"recipe.toml": GOOD, "plugin.py": PLUGIN_PY})
    folder = write_plugin(tmp_path / "work", "wasix_good-1.0", GOOD.replace('version = "1.0"', 'version = "1.1"'))
    loaded = load_plugins([folder], builtins=False)
    assert loaded.recipes["good"].version == "1.1" and loaded.recipes["good"].plugin_dir == folder
    assert not loaded.errors
    # Two folders named alike still keep the first and say so.
    other = write_plugin(tmp_path / "other", "good-copy", GOOD)
    twice = load_plugins([folder, other], builtins=False, entry_points=False)
    assert twice.recipes["good"].version == "1.1"
    assert "already declared" in "\n".join(map(str, twice.errors))
