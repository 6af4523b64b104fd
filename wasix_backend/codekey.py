"""The part of a store key that stands for this tool's own code: what runs inside a build.

A package's build runs a small part of this package: the phase runner and the build
environment, the build context, fetching's extraction and patching, the toolchain (driver,
providers, wrappers, flags), finalizing, and the module of the package's build system with
what it imports. That part, and nothing else, is in the package's key, so a docstring, the
command line, the scheduler or an output writer can change without rebuilding anything, and
a change to the autotools build system rebuilds the autotools packages alone.

The part is found, not listed: the import closure (imports inside functions included) of
:data:`BUILD_ROOTS` plus the build system's module, which stops at the modules in
:data:`NOT_BUILD_CODE` — code that runs around builds without shaping their results, each
with the reason. A new module imported by build code is therefore covered by default: a
module wrongly left in costs a rebuild, never a stale result. ``tests/test_codekey.py``
records which modules run during real builds and checks that each is in the key or listed
here.

Modules are hashed by their syntax tree without docstrings, so comments, formatting and
docstrings change nothing; the same code gives the same digest wherever it is installed
(editable, ``pip install .``, a wheel, another clone).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import sys
import time
from pathlib import Path

_PKG = Path(__file__).resolve().parent
PACKAGE = _PKG.name

#: Modules (relative dotted names) whose code runs inside every package's build.
BUILD_ROOTS = (
    "buildenv",  # the phases in order and the environment each build sees
    "context",  # the build context: substitutions, commands, logs of every build system
    "finalize",  # optimising and collecting the outputs into the entry
    "extract",  # how a source archive becomes the source tree
    "buildsystems.fetching", "buildsystems.patching",  # the fetch and patch phases of every recipe
    "toolchain", "toolchain.driver", "toolchain.providers", "toolchain.wrappers",
    "toolchain.settings", "toolchain.compat", "toolchain.zigllvm",  # flags and programs of every compile
)  # fmt: skip

#: Code that runs around builds (or only to find their inputs) without shaping their results.
#: The import closure stops here; ``tests/test_codekey.py`` keeps this list honest.
NOT_BUILD_CODE: dict[str, str] = {
    "": "the package's namespace: version, hook markers",
    "api": "the plugin API's names (each is hashed where it is defined, when build code uses it)",
    "__main__": "the command line",
    "cli": "the command line",
    "engine": "scheduling: order, parallelism, cache look-ups",
    "store": "where entries live, their locks and records",
    "plugins": "plugin loading (each plugin's own files are in its key)",
    "registry": "looking up build systems and outputs by name",
    "hookspecs": "hook signatures",
    "recipe": "parsing recipes (the parsed recipe's build fields are in the key)",
    "schema": "validating recipes",
    "schema_docs": "documentation",
    "errors": "messages of errors",
    "interrupt": "stopping builds on Ctrl-C",
    "logsummary": "the log lines shown with a failure",
    "summary": "the summary table",
    "textfmt": "text layout",
    "paths": "where caches live (caches never change results)",
    "fsutil": "atomic writes and hashing",
    "excludes": "which files of a plugin folder count",
    "fastpath": "replaying a no-op build",
    "codekey": "computing keys",
    "keydiff": "explaining keys",
    "check": "comparing a rebuild with a stored entry",
    "hosttools": "naming the Debian package of a missing program (a missing one skips the build)",
    "fetch": "downloading sources (verified against their sha256 pins)",
    "debian": "finding a source in Debian's archive (verified against its pin)",
    "gitsource": "fetching a git source (verified against its commit id)",
    "pinning": "writing pins",
    "update": "looking for new releases",
    "scaffold": "writing new plugin folders",
    "graph": "the dependency graph (dependencies' keys are in the key)",
    "toolchain.sysroot": "finding and building the wasix-libc sysroot (its identity is in the key)",
    "toolchain.install": "downloading the pinned toolchain (its identity is in the key)",
    "toolchain.pins": "the pinned toolchain's download addresses and hashes",
    "toolchain.versioncache": "remembering tools' versions and hashes (the results are in the key)",
    "toolchain.shell": "`wasix-build shell`",
    "driver_entry": "the console scripts' hand-over to wrappers resolved earlier (builds use the wrappers directly)",
    "outputs": "writing outputs from finished entries",
    "versions": "version strings of outputs",
    "selfwheel": "building this tool's own wheel",
    "pep517": "the PEP 517 backend (it runs the engine)",
    "runtime": "running finished modules",
    "difftest": "behaviour tests of finished modules",
    "rundeps": "which packages a program runs: brought beside it by the outputs, never part of its build",
    "nativebuild": "the native side of behaviour tests (the package's sources built for the build machine)",
    "gc": "removing unused entries",
    "substitute": "binary caches (pulled entries are checked against the signed record)",
    "executors": "running builds elsewhere",
    "session": "assembling a command's plugins, store, toolchain, caches and engine",
}


def _module_files(root: Path) -> dict[str, Path]:
    """Dotted module name (relative to the package; ``""`` for it) -> its file."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if "__pycache__" in rel.parts or rel.parts[0].startswith("_data"):
            continue
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _import_names(module: str, is_package: bool, tree: ast.AST) -> list[str]:
    """Every dotted name (relative to the package) ``module``'s code imports from it, before
    they are matched with the package's modules."""
    package = module if is_package else module.rpartition(".")[0]
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                stem = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module and (node.module == PACKAGE or node.module.startswith(PACKAGE + ".")):
                stem = node.module.removeprefix(PACKAGE).lstrip(".")
            else:
                continue
            names += [f"{stem}.{alias.name}".lstrip(".") for alias in node.names]
            names.append(stem)
        elif isinstance(node, ast.Import):
            names += [a.name.removeprefix(PACKAGE + ".") for a in node.names if a.name.startswith(PACKAGE + ".")]
    return names


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules ``module`` imports, anywhere in its code."""
    found: set[str] = set()
    for name in _parse(module, path)[0]:
        while name not in known and "." in name:  # ``from .toolchain import Toolchain``
            name = name.rpartition(".")[0]
        if name in known:
            found.add(name)
    found.discard(module)
    return found


def _stopped(module: str) -> bool:
    """Whether ``module`` is declared not to shape builds (itself or a package above it)."""
    parts = module.split(".")
    return any(".".join(parts[:i]) in NOT_BUILD_CODE for i in range(len(parts), 0, -1)) or module in NOT_BUILD_CODE


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):  # fmt: skip
                node.body = body[1:] or [ast.Pass()]
    return tree


def source_digest(source: bytes, name: str = "<source>") -> str:
    """A hash of Python code that ignores comments, formatting and docstrings."""
    return _tree_digest(ast.parse(source, name))


def _tree_digest(tree: ast.AST) -> str:
    tree = _strip_docstrings(tree)
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).hexdigest()


#: A file changed within this many nanoseconds of being read may change again unseen within
#: one tick of a coarse clock: such results are not remembered.
_RACY_NS = 2_000_000_000


class _Memo:
    """Per-file results (import names, digest) remembered across processes, keyed on the
    file's path, size and modification time: parsing every module costs about a second, on
    every command and every first ``wasixcc`` call. The syntax tree depends on the Python
    version, hence one file per version. Losing it costs time, never correctness."""

    def __init__(self) -> None:
        from .paths import cache_root

        version = f"{sys.version_info[0]}.{sys.version_info[1]}"
        self.path = cache_root() / "codekey" / f"py{version}.json"
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            data = {}
        self.entries: dict[str, list] = data if isinstance(data, dict) else {}
        self.dirty = False

    def get(self, path: Path, stamp: list[int]) -> tuple[list[str], str] | None:
        entry = self.entries.get(str(path))
        if isinstance(entry, list) and len(entry) == 3 and entry[0] == stamp:
            return entry[1], entry[2]
        return None

    def put(self, path: Path, stamp: list[int], names: list[str], digest: str) -> None:
        if time.time_ns() - stamp[1] > _RACY_NS:
            self.entries[str(path)] = [stamp, names, digest]
            self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.entries))
            os.replace(tmp, self.path)
            self.dirty = False
        except OSError:
            pass  # a read-only cache costs time only


@functools.cache
def _memo() -> _Memo:
    return _Memo()


def _parse(module: str, path: Path) -> tuple[list[str], str]:
    """``module``'s import names and digest, from the memo when its file is unchanged."""
    st = path.stat()
    stamp = [st.st_size, st.st_mtime_ns]
    memo = _memo()
    found = memo.get(path, stamp)
    if found is not None:
        return found
    tree = ast.parse(path.read_bytes(), str(path))
    names = _import_names(module, path.name == "__init__.py", tree)
    digest = _tree_digest(tree)
    memo.put(path, stamp, names, digest)
    return names, digest


@functools.cache
def _graph(root: Path) -> tuple[dict[str, Path], dict[str, frozenset[str]]]:
    files = _module_files(root)
    known = set(files)
    graph = {m: frozenset(_imports(m, p, known)) for m, p in files.items()}
    _memo().save()
    return files, graph


def build_modules(extra: tuple[str, ...] = (), root: Path = _PKG) -> list[str]:
    """The modules whose code shapes a build: the closure of :data:`BUILD_ROOTS` and
    ``extra`` (a build system's module) over imports, stopping at :data:`NOT_BUILD_CODE`."""
    files, imports = _graph(root)
    seen: set[str] = set()
    todo = [m for m in (*BUILD_ROOTS, *extra) if m in files]
    while todo:
        mod = todo.pop()
        if mod in seen or _stopped(mod):
            continue
        seen.add(mod)
        todo.extend(imports[mod])
    return sorted(seen)


def relative_module(qualified: str) -> str | None:
    """``wasix_backend.buildsystems.make`` -> ``buildsystems.make``; None outside the package."""
    if qualified == PACKAGE:
        return ""
    if qualified.startswith(PACKAGE + "."):
        return qualified.removeprefix(PACKAGE + ".")
    return None


@functools.cache
def build_code(extra: tuple[str, ...] = (), root: Path = _PKG) -> dict[str, str]:
    """``module -> digest`` of :func:`build_modules` (computed once per process)."""
    files, _ = _graph(root)
    return {m: _parse(m, files[m])[1] for m in build_modules(extra, root)}


def code_files(root: Path = _PKG) -> list[Path]:
    """Every module file of the package (what a replayed no-op build is checked against)."""
    return list(_module_files(root).values())


def clear_cache() -> None:
    """Forget computed digests (a test that edits the package's files in this process)."""
    _graph.cache_clear()
    build_code.cache_clear()
    _memo.cache_clear()
