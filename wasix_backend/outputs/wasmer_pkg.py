"""Write a Wasmer package directory (``wasmer.toml`` + modules + data) for a built recipe.

The directory is what ``wasmer package build`` and ``wasmer run DIR`` take, and what
:func:`wasix_backend.outputs.webc.write_webc` turns into a single ``.webc`` file.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

import tomlkit

from ..errors import WasixError
from ..fsutil import make_temp_dir, replace_dir
from ..recipe import Recipe
from ..rundeps import SCRIPT_DIR, runtime_deps, sandbox_commands, sandbox_script_files
from ..versions import semver

WASI_RUNNER = "https://webc.org/runner/wasi"
DEFAULT_NAMESPACE = "wasmer"
#: The package folder of ``[outputs] sandbox-scripts``, shown at :data:`.rundeps.SCRIPT_DIR`.
SCRIPTS_DIR = "sandbox-scripts"


def package_owner(recipe: Recipe, namespace: str | None = None) -> str:
    """The package's namespace: the flag, else ``[wasmer] namespace``, else ``wasmer``."""
    if namespace:
        return namespace
    table = recipe.extra.get("wasmer", {})
    if isinstance(table, dict) and isinstance(table.get("namespace"), str) and table["namespace"]:
        return table["namespace"]
    return DEFAULT_NAMESPACE


def package_commands(recipe: Recipe, prefix: Path) -> dict[str, str]:
    """Command name -> module name: the recipe's commands, else one per ``bin/*.wasm``."""
    commands = recipe.command_map()
    if commands:
        return commands
    return {p.stem: p.stem for p in sorted((prefix / "bin").glob("*.wasm"))}


def data_sources(recipe: Recipe, prefix: Path) -> dict[str, tuple[str, Path]]:
    """The recipe's ``[outputs] data``, checked: guest path -> (path inside the prefix, the
    file or directory in ``prefix``). Every output that carries the program carries these, at
    their guest paths: a Wasmer package through ``[fs]``, a wheel in its ``data/`` tree."""
    out: dict[str, tuple[str, Path]] = {}
    for guest, rel in sorted(recipe.data.items()):
        parts = guest.split("/")
        if not guest.startswith("/") or guest == "/" or ".." in parts:
            raise WasixError(f"{recipe.name}: data guest path {guest!r} must be an absolute path below / (no '..')")
        inner = Path(rel.strip("/"))
        if inner.is_absolute() or ".." in inner.parts or not inner.parts:
            raise WasixError(f"{recipe.name}: data path {rel!r} must stay inside the prefix")
        src = prefix / inner
        if not src.exists():
            raise WasixError(f"{recipe.name}: data path {rel!r} (guest {guest!r}) not found in {prefix}")
        out[guest.rstrip("/")] = (inner.as_posix(), src)
    return out


def data_files(recipe: Recipe, prefix: Path) -> dict[str, bytes]:
    """Every data file of the recipe by its guest path (what a sandbox shows the program)."""
    files: dict[str, bytes] = {}
    for guest, (_, src) in data_sources(recipe, prefix).items():
        if src.is_dir():
            for path in sorted(p for p in src.rglob("*") if p.is_file()):
                files[f"{guest}/{path.relative_to(src).as_posix()}"] = path.read_bytes()
        else:
            files[guest] = src.read_bytes()
    return files


def _description(recipe: Recipe) -> str:
    # wasmer rejects a manifest without a description.
    return recipe.description or f"{recipe.name} {recipe.version} compiled to WebAssembly (WASIX)."


def package_dependencies(recipe: Recipe, owner: str, versions: Mapping[str, str] | None = None) -> dict[str, str]:
    """``wasmer.toml``'s ``[dependencies]``: ``"OWNER/NAME" = "^SEMVER"`` for each runtime
    dependency (``versions``: their recipes' versions; unknown: any version)."""
    versions = versions or {}
    return {f"{owner}/{dep.name}": (f"^{semver(versions[dep.name])}" if dep.name in versions else "*")
            for dep in runtime_deps(recipe)}  # fmt: skip


def write_wasmer_package(
    recipe: Recipe, prefix: Path, out_dir: Path, *, namespace: str | None = None, versions: Mapping[str, str] | None = None
) -> Path:
    """Write ``out_dir/pkg/NAME/{wasmer.toml, bin/*.wasm, data}`` and return that directory.
    Its ``[dependencies]`` are the recipe's runtime ones (``versions``: their versions), which
    ``wasmer run`` brings into the same sandbox; sandbox-only commands are commands of the
    package, and sandbox scripts files at ``/usr/bin``.

    The package is assembled in a temporary sibling directory and moved into place, so an
    interrupted write never leaves a half-filled package where a finished one is expected.
    """
    prefix = Path(prefix)
    commands = package_commands(recipe, prefix)
    if commands:  # other packages' programs run these inside the sandbox (sh = "bash")
        commands = {**commands, **{c: m for c, m in sandbox_commands(recipe).items() if c not in commands}}
    if not commands:
        raise WasixError(
            f"{recipe.name}: no commands to package: {prefix / 'bin'} holds no .wasm modules "
            "and the recipe names no binaries (is it a library? Wasmer packages are made for programs)"
        )
    modules = sorted(set(commands.values()))
    missing = [m for m in modules if not (prefix / "bin" / f"{m}.wasm").is_file()]
    if missing:
        raise WasixError(
            f"{recipe.name}: module(s) {', '.join(missing)} missing from {prefix / 'bin'}; "
            "rebuild the package (wasix-build build " + recipe.name + ")"
        )

    doc = tomlkit.document()
    pkg = tomlkit.table()
    pkg["name"] = f"{package_owner(recipe, namespace)}/{recipe.name}"
    pkg["version"] = semver(recipe.version)
    pkg["description"] = _description(recipe)
    if recipe.license:
        pkg["license"] = recipe.license
    if recipe.homepage:
        pkg["homepage"] = recipe.homepage
    # One command: it is the entrypoint. Several: `[wasmer] entrypoint`, else the first.
    wanted = (recipe.extra.get("wasmer") or {}).get("entrypoint")
    pkg["entrypoint"] = wanted if wanted in commands else next(iter(commands))
    doc["package"] = pkg
    dependencies = package_dependencies(recipe, package_owner(recipe, namespace), versions)
    if dependencies:
        doc["dependencies"] = dependencies

    module_tables = tomlkit.aot()
    for name in modules:
        t = tomlkit.table()
        t["name"] = name
        t["source"] = f"bin/{name}.wasm"
        t["abi"] = "wasi"  # wasmer has no "wasix" abi value: WASIX is told by the imports
        module_tables.append(t)
    doc["module"] = module_tables

    command_tables = tomlkit.aot()
    for cmd, module in commands.items():
        t = tomlkit.table()
        t["name"] = cmd
        t["module"] = module
        t["runner"] = WASI_RUNNER
        command_tables.append(t)
    doc["command"] = command_tables

    data_paths: dict[str, Path] = {}
    scripts = sandbox_script_files(recipe)
    if recipe.data or scripts:
        fs = tomlkit.table()
        for guest, (inner, src) in data_sources(recipe, prefix).items():
            fs[guest] = inner
            data_paths[inner] = src
        if scripts:
            fs[SCRIPT_DIR] = SCRIPTS_DIR
        doc["fs"] = fs

    final = Path(out_dir) / "pkg" / recipe.name
    tmp = make_temp_dir(final)
    try:
        (tmp / "bin").mkdir()
        for name in modules:
            shutil.copyfile(prefix / "bin" / f"{name}.wasm", tmp / "bin" / f"{name}.wasm")
        for inside, data_src in data_paths.items():
            dest = tmp / inside
            dest.parent.mkdir(parents=True, exist_ok=True)
            if data_src.is_dir():
                shutil.copytree(data_src, dest, dirs_exist_ok=True)
            else:
                shutil.copyfile(data_src, dest)
        for guest, content in scripts.items():
            script = tmp / SCRIPTS_DIR / guest.rsplit("/", 1)[1]
            script.parent.mkdir(exist_ok=True)
            script.write_bytes(content)
            script.chmod(0o755)
        (tmp / "wasmer.toml").write_text(tomlkit.dumps(doc), encoding="utf-8")
        replace_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final
