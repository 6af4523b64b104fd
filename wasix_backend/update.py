"""``wasix-build update``: find newer upstream releases and rewrite the pins in recipe.toml.

A recipe opts in with an ``[update]`` table::

    [update]
    listing = "https://www.nano-editor.org/dist/v{major}/"     # a page listing releases
    regex = 'nano-([0-9.]+)\\.tar\\.xz'                         # group 1 is the version
    url-template = "https://www.nano-editor.org/dist/v{major}/nano-{version}.tar.xz"

``listing`` and ``url-template`` may use ``{version}``, ``{major}``, ``{minor}`` (of the
current version for the listing, of the new one for the URL). ``regex`` defaults to the
template's file name with ``{version}`` as the group. Optional: ``source`` (index of the
``[[source]]`` to update, default 0), ``file-template`` (new value of that source's ``file``,
e.g. ``"nano_{version}.orig.tar.xz"``, when it has one), ``pre-releases`` (bool).

The newest version (PEP 440 ordering) that is newer than the recipe's is downloaded once to
learn its sha256; then ``version`` and the source's ``url``/``sha256`` are replaced in place
with tomlkit, keeping every comment and the layout, and the file is swapped in atomically.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from packaging.version import InvalidVersion, Version

from .errors import FetchError, RecipeError, WasixError
from .pinning import fetch_text, pin_url, url_filename
from .recipe import Recipe, load_recipe


class UpdateError(WasixError):
    """A package could not be checked or updated; the message names it."""


@dataclass
class UpdateResult:
    name: str
    current: str
    latest: str
    #: Versions found on the listing page (newest first).
    found: list[str]
    updated: bool = False
    url: str = ""
    sha256: str = ""
    recipe_file: Path | None = None

    @property
    def newer(self) -> bool:
        return Version(self.latest) > Version(self.current)

    def describe(self, check: bool) -> str:
        if not self.newer:
            return f"{self.name}: {self.current} is the newest ({len(self.found)} versions listed)"
        if self.updated:
            return f"{self.name}: {self.current} -> {self.latest} (rewrote {self.recipe_file}; sha256 {self.sha256})"
        return f"{self.name}: {self.latest} is available (recipe has {self.current})" + (
            "; run `wasix-build update " + self.name + "` to pin it" if check else ""
        )


def _fields(version: str) -> dict[str, str]:
    release = Version(version).release
    return {"version": version, "major": str(release[0]), "minor": str(release[1] if len(release) > 1 else 0)}


def _settings(recipe: Recipe) -> dict[str, Any]:
    table = recipe.extra.get("update")
    if not isinstance(table, dict):
        raise UpdateError(f"{recipe.name}: the recipe has no [update] table (see docs/plugins.md)")
    for key in ("url-template", "listing"):
        if not isinstance(table.get(key), str) or not table[key]:
            raise RecipeError(recipe.plugin or recipe.name, f"update.{key}", "required: a string")
    if "{version}" not in table["url-template"]:
        raise RecipeError(recipe.plugin or recipe.name, "update.url-template", "must contain {version}")
    return table


def _regex(recipe: Recipe, table: dict[str, Any]) -> re.Pattern[str]:
    pattern = table.get("regex")
    if pattern is None:
        # The template's file name with the version as the one group.
        name = url_filename(table["url-template"])
        pattern = re.escape(name).replace(re.escape("{version}"), r"([0-9][0-9A-Za-z.]*?)")
        for key in ("major", "minor"):
            pattern = pattern.replace(re.escape("{" + key + "}"), "[0-9]+")
    try:
        regex = re.compile(str(pattern))
    except re.error as exc:
        raise RecipeError(recipe.plugin or recipe.name, "update.regex", f"not a valid regular expression: {exc}") from None
    if regex.groups < 1:
        raise RecipeError(recipe.plugin or recipe.name, "update.regex", "needs a group capturing the version")
    return regex


def list_versions(recipe: Recipe) -> list[str]:
    """Versions on the recipe's listing page, newest first (PEP 440 order, de-duplicated)."""
    table = _settings(recipe)
    listing = table["listing"].format(**_fields(recipe.version))
    try:
        page = fetch_text(listing, what="listing")
    except FetchError as exc:
        raise UpdateError(f"{recipe.name}: the release listing is unreachable: {exc}") from None
    versions: dict[Version, str] = {}
    for match in _regex(recipe, table).finditer(page):
        text = match.group(1).rstrip(".")
        try:
            parsed = Version(text)
        except InvalidVersion:
            continue
        if parsed.is_prerelease and not table.get("pre-releases", False):
            continue
        versions.setdefault(parsed, text)
    if not versions:
        raise UpdateError(
            f"{recipe.name}: no versions found on {listing} with regex {_regex(recipe, table).pattern!r} "
            "(check [update] listing and regex)"
        )
    return [versions[v] for v in sorted(versions, reverse=True)]


def rewrite_recipe(path: Path, *, version: str, url: str, sha256: str, source: int = 0,
                   file: str | None = None) -> None:
    """Replace version and one source's pin in ``path``, keeping comments and layout."""
    doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    doc["package"]["version"] = version  # type: ignore[index]
    sources = doc.get("source")
    if sources is None or source >= len(sources):
        raise UpdateError(f"{path}: has no [[source]] number {source} to update")
    src = sources[source]
    if "urls" in src and "url" not in src:
        src["urls"] = [url]
    else:
        src["url"] = url
    src["sha256"] = sha256
    if "file" in src:
        src["file"] = file or url_filename(url)
    text = tomlkit.dumps(doc)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def update_recipe(recipe: Recipe, *, check: bool = False) -> UpdateResult:
    """Check (and unless ``check``, apply) the newest upstream release of ``recipe``."""
    table = _settings(recipe)
    found = list_versions(recipe)
    result = UpdateResult(recipe.name, recipe.version, found[0], found)
    if not result.newer or check:
        return result
    recipe_file = (recipe.plugin_dir / "recipe.toml") if recipe.plugin_dir else None
    if recipe_file is None or not recipe_file.is_file():
        raise UpdateError(f"{recipe.name}: the recipe does not come from a recipe.toml file; cannot rewrite it")
    fields = _fields(result.latest)
    url = table["url-template"].format(**fields)
    try:
        pinned = pin_url(url, what=f"{recipe.name} {result.latest}")
    except FetchError as exc:
        raise UpdateError(str(exc)) from None  # "NAME VERSION: download of URL failed: why"
    file_template = table.get("file-template")
    rewrite_recipe(
        recipe_file,
        version=result.latest,
        url=url,
        sha256=pinned.sha256,
        source=int(table.get("source", 0)),
        file=file_template.format(**fields) if file_template else None,
    )
    load_recipe(recipe_file, plugin=recipe.plugin or None)  # the rewritten recipe must still load
    result.updated, result.url, result.sha256, result.recipe_file = True, url, pinned.sha256, recipe_file
    return result


def updatable(recipes: dict[str, Recipe], names: list[str] | None = None) -> list[Recipe]:
    """The recipes to look at: ``names`` (each must have [update]) or every one that has it."""
    if names:
        missing = [n for n in names if n not in recipes]
        if missing:
            raise UpdateError(f"no recipe named {', '.join(map(repr, missing))} (known: {', '.join(sorted(recipes))})")
        return [recipes[n] for n in names]
    return [r for _, r in sorted(recipes.items()) if "update" in r.extra]
