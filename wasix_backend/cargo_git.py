"""Crates pinned by git commit, turned into what ``cargo vendor`` makes of a published crate.

A registry crate is a ``.crate`` archive that ``cargo package`` made from the crate's
repository; ``Cargo.lock`` pins it by the sha256 of that archive. Where the archive cannot be
had (no registry, no mirror copy) but the repository can, a recipe may pin the crate to the
commit that published it (``[build] crates-git``, :func:`parse_pins`). The commit id hashes
the whole tree (:mod:`wasix_backend.gitsource`), so the files are exactly upstream's — but
they are *not* the registry's archive, so Cargo.lock's checksum cannot be checked against
them: such a crate is vendored unverified (its lock checksum dropped, its
``.cargo-checksum.json`` with ``"package": null``, as ``cargo vendor`` writes for git
dependencies), and the plan, the build log and the summary say so.

:func:`package_crate` does what ``cargo package`` does to a crate's directory, as far as a
dependency's build can tell:

- the crate is the package of that name in the commit's tree (its root, or the shallowest
  ``Cargo.toml`` naming it in a workspace), and its version must be the locked one;
- its files are those committed under its directory, minus nested packages (a sub-folder with
  its own ``Cargo.toml``), filtered by the manifest's ``include``/``exclude`` (gitignore-style
  patterns, as cargo reads them);
- ``Cargo.toml`` is normalised: ``[workspace]`` is dropped, ``workspace = true`` fields and
  dependencies are taken from the workspace's root manifest, ``path``/``git`` keys of
  dependencies that also give a ``version`` are removed, dev-dependencies without a version
  are dropped; the original is kept as ``Cargo.toml.orig``; ``.cargo_vcs_info.json`` records
  the commit and the crate's path in the repository.

What it does not do: ``cargo package`` also writes a ``Cargo.lock`` into binary crates and
copies a ``readme``/``license-file`` that lies outside the crate's folder; a dependency's
build reads neither.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit

from .errors import FetchError

#: Dependency tables of a manifest (and of each ``[target.'cfg'.*]``), both spellings.
DEP_TABLES = (
    "dependencies",
    "dev-dependencies",
    "dev_dependencies",
    "build-dependencies",
    "build_dependencies",
)
_DEV = {"dev-dependencies", "dev_dependencies"}
VCS_INFO = ".cargo_vcs_info.json"
#: Files ``cargo package`` writes itself; a tree's own copies are not taken.
_GENERATED = {"Cargo.toml.orig", VCS_INFO, ".cargo-checksum.json", ".cargo-ok"}
_HEX = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


@dataclass(frozen=True)
class GitPin:
    """A crate of Cargo.lock taken from commit ``rev`` of repository ``git``."""

    name: str
    git: str
    rev: str

    def source(self) -> Any:
        from .recipe import Source

        return Source(git=self.git, rev=self.rev)


def parse_pins(table: Mapping[str, Any] | None) -> dict[str, GitPin]:
    """``[build] crates-git`` (crate name → ``{git, rev}``) as pins; a malformed entry is a
    :class:`ValueError` naming it (the recipe loader checked the types already)."""
    pins: dict[str, GitPin] = {}
    for name, entry in (table or {}).items():
        if not isinstance(entry, Mapping):
            raise ValueError(f"crates-git.{name}: expected a table {{ git = URL, rev = COMMIT }}")
        git, rev = entry.get("git"), entry.get("rev")
        if not isinstance(git, str) or not git:
            raise ValueError(f"crates-git.{name}: `git` (the repository URL) is required")
        if not isinstance(rev, str) or not _HEX.fullmatch(rev):
            raise ValueError(f"crates-git.{name}: `rev` must be the full commit id (40 or 64 hex digits), got {rev!r}")
        pins[name] = GitPin(name, git, rev)
    return pins


class GitCrateError(FetchError):
    """The pinned commit does not hold the locked crate (wrong commit, version or layout)."""


# ------------------------------------------------------------------------------ patterns ---
def _glob_regex(glob: str) -> str:
    out, i = [], 0
    while i < len(glob):
        c = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if glob.startswith("/**", i) and i + 3 == len(glob):
            out.append("/.*")
            i += 3
            continue
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = glob.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = glob[i + 1 : end]
                out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
                i = end
        elif c == "\\" and i + 1 < len(glob):
            i += 1
            out.append(re.escape(glob[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern[str]
    negated: bool
    dir_only: bool


def _compile(pattern: str) -> _Pattern | None:
    text = pattern.strip()
    if not text or text.startswith("#"):
        return None
    negated = text.startswith("!")
    text = text[1:] if negated else text
    dir_only = text.endswith("/")
    text = text.rstrip("/")
    anchored = "/" in text
    text = text.lstrip("/")
    body = _glob_regex(text)
    regex = re.compile(("" if anchored else "(?:.*/)?") + body + r"\Z")
    return _Pattern(regex, negated, dir_only)


def _matches(patterns: list[_Pattern], path: str) -> bool:
    """gitignore semantics: the last pattern matching the file, or one of its folders, wins."""
    parts = path.split("/")
    folders = ["/".join(parts[:n]) for n in range(1, len(parts))]
    result = False
    for p in patterns:
        if any(p.regex.match(f) for f in folders) or (not p.dir_only and p.regex.match(path)):
            result = not p.negated
    return result


# ----------------------------------------------------------------------------- manifests ---
def _load(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}


def find_crate(tree: Path, name: str) -> Path | None:
    """The folder of package ``name`` in ``tree``: the root, else the shallowest match."""
    found = []
    for manifest in sorted(tree.rglob("Cargo.toml"), key=lambda p: (len(p.parts), str(p))):
        rel = manifest.relative_to(tree).parts
        if any(part in (".git", "target") for part in rel[:-1]):
            continue
        pkg = _load(manifest).get("package", {})
        if isinstance(pkg, dict) and pkg.get("name") == name:
            found.append(manifest.parent)
    return found[0] if found else None


def _workspace_root(tree: Path, crate_dir: Path) -> dict[str, Any]:
    """The ``[workspace]`` table of the nearest manifest at or above ``crate_dir`` in ``tree``."""
    here = crate_dir
    while True:
        ws = _load(here / "Cargo.toml").get("workspace")
        if isinstance(ws, dict):
            return ws
        if here == tree or tree not in here.parents:
            return {}
        here = here.parent


def _inherit(value: Any, inherited: Any, what: str) -> Any:
    if inherited is None:
        raise GitCrateError(f"{what} says `workspace = true`, but the workspace's manifest does not define it")
    return inherited


def _normalise_dep(table: Any, key: str, dep_name: str, workspace_deps: Mapping[str, Any], dev: bool, crate: str) -> bool:
    """Normalise one dependency in place; False: drop it (a dev-dependency by path only)."""
    dep = table[dep_name]
    if isinstance(dep, dict) and dep.get("workspace") is True:
        base = _inherit(dep, workspace_deps.get(dep_name), f"{crate}: {key}.{dep_name}")
        merged: dict[str, Any] = {"version": base} if isinstance(base, str) else dict(base)
        extra = [f for f in dep.get("features", []) if f not in merged.get("features", [])]
        if extra:
            merged["features"] = [*merged.get("features", []), *extra]
        for k, v in dep.items():
            if k not in ("workspace", "features"):
                merged[k] = v
        table[dep_name] = dep = tomlkit.inline_table()
        dep.update(merged)
    if not isinstance(dep, dict):
        return True
    local = [k for k in ("path", "git", "branch", "tag", "rev") if k in dep]
    if not local:
        return True
    if "version" not in dep:
        if dev:
            return False
        raise GitCrateError(
            f"{crate}: dependency {dep_name} has no version (only {', '.join(local)}): "
            "`cargo package` refuses such a crate, and so does vendoring it"
        )
    for k in local:
        del dep[k]
    return True


def normalised_manifest(text: str, workspace: Mapping[str, Any], crate: str) -> str:
    """``Cargo.toml`` as ``cargo package`` publishes it (see the module docstring)."""
    doc = tomlkit.parse(text)
    doc.pop("workspace", None)
    ws_package = workspace.get("package", {}) if isinstance(workspace.get("package"), dict) else {}
    ws_deps = workspace.get("dependencies", {}) if isinstance(workspace.get("dependencies"), dict) else {}
    package = doc.get("package")
    if isinstance(package, dict):
        for key in list(package.keys()):
            value = package[key]
            if isinstance(value, dict) and value.get("workspace") is True:
                package[key] = _inherit(value, ws_package.get(key), f"{crate}: package.{key}")
    tables: list[tuple[Any, str]] = [(doc, k) for k in DEP_TABLES]
    target = doc.get("target")
    if isinstance(target, dict):
        tables += [(t, k) for t in target.values() if isinstance(t, dict) for k in DEP_TABLES]
    for parent, key in tables:
        deps = parent.get(key)
        if not isinstance(deps, dict):
            continue
        for dep_name in list(deps.keys()):
            if not _normalise_dep(deps, key, dep_name, ws_deps, key in _DEV, crate):
                del deps[dep_name]
    header = (
        "# Written by wasix-backend from the crate's git commit, as `cargo package` normalises\n"
        "# a manifest for publishing; the original is Cargo.toml.orig.\n\n"
    )
    return header + tomlkit.dumps(doc)


# ------------------------------------------------------------------------------ packaging ---
def crate_files(crate_dir: Path, manifest: Mapping[str, Any]) -> list[str]:
    """The files ``cargo package`` would take from ``crate_dir`` (paths relative to it)."""
    package = manifest.get("package", {}) if isinstance(manifest.get("package"), dict) else {}
    include = [p for p in (_compile(s) for s in package.get("include", []) or []) if p]
    exclude = [p for p in (_compile(s) for s in package.get("exclude", []) or []) if p]
    nested = {
        m.parent.relative_to(crate_dir).as_posix()
        for m in crate_dir.rglob("Cargo.toml")
        if m.parent != crate_dir
    }
    files = []
    for path in sorted(crate_dir.rglob("*")):
        if not (path.is_file() or path.is_symlink()) or path.is_dir():
            continue
        rel = path.relative_to(crate_dir).as_posix()
        parts = rel.split("/")
        folders = {"/".join(parts[:n]) for n in range(1, len(parts))}
        if parts[0] in (".git", "target") or folders & nested or rel in _GENERATED or rel == "Cargo.lock":
            continue
        if rel != "Cargo.toml":
            if include and not _matches(include, rel):
                continue
            if not include and exclude and _matches(exclude, rel):
                continue
        files.append(rel)
    return files


def package_crate(tree: Path, name: str, version: str, pin: GitPin, into: Path) -> Path:
    """Lay out crate ``name`` of the commit's ``tree`` in ``into`` (a new folder) as ``cargo
    package`` would publish it; the version must be ``version``. No checksum file is written."""
    crate_dir = find_crate(tree, name)
    where = f"crate {name} {version}: commit {pin.rev} of {pin.git}"
    if crate_dir is None:
        raise GitCrateError(f"{where} has no package named {name!r} (no Cargo.toml with that [package] name)")
    manifest_text = (crate_dir / "Cargo.toml").read_text(encoding="utf-8")
    manifest = tomllib.loads(manifest_text)
    workspace = _workspace_root(tree, crate_dir)
    found = manifest.get("package", {}).get("version")
    if isinstance(found, dict) and found.get("workspace") is True:
        found = workspace.get("package", {}).get("version")
    if found != version:
        raise GitCrateError(
            f"{where} is version {found}, not {version} as Cargo.lock says: pin the commit that published {version}"
        )
    into.mkdir(parents=True)
    for rel in crate_files(crate_dir, manifest):
        src, dest = crate_dir / rel, into / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink() and not src.resolve().is_relative_to(tree.resolve()):
            continue  # a link out of the tree: nothing cargo could package
        shutil.copy2(src, dest)
    (into / "Cargo.toml.orig").write_text(manifest_text, encoding="utf-8")
    (into / "Cargo.toml").write_text(normalised_manifest(manifest_text, workspace, name), encoding="utf-8")
    path_in_vcs = crate_dir.relative_to(tree).as_posix()
    info = {"git": {"sha1": pin.rev}, "path_in_vcs": "" if path_in_vcs == "." else path_in_vcs}
    (into / VCS_INFO).write_text(json.dumps(info, indent=2) + "\n")
    return into


def vendor_git_crate(pin: GitPin, name: str, version: str, into: Path, *, mirror: Path | None = None) -> Path:
    """Fetch ``pin``'s commit (``mirror``'s ``<name>-<rev>.bundle`` first, then the
    repository: :func:`wasix_backend.gitsource.export_git_source`) and package the crate into
    ``into``. An unreachable commit is a skip (:class:`~.errors.SourcesUnreachable`)."""
    from .gitsource import export_git_source

    into.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=into.parent, prefix=f".{name}-git-") as tmp:
        tree = export_git_source(pin.source(), Path(tmp) / "tree", package=name, mirror=mirror)
        return package_crate(tree, name, version, pin, into)
