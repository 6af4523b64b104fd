"""crabsay: its source archive is pinned by a sha256 the user supplies (see recipe.toml).

Everything else is the generic ``cargo`` build system. This module only adds the
``[[source]]`` when ``$WASIX_CRABSAY_SHA256`` is set (so the hash is part of the recipe and
of its store key), and otherwise stops the fetch phase with what to do.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

from wasix_backend import hookimpl
from wasix_backend.context import BuildContext
from wasix_backend.errors import RecipeError
from wasix_backend.recipe import Recipe, recipe_from_dict

HERE = Path(__file__).resolve().parent


def _data() -> dict:
    return tomllib.loads((HERE / "recipe.toml").read_text(encoding="utf-8"))


@hookimpl
def recipes() -> list[Recipe]:
    data = _data()
    upstream = data["upstream"]
    sha = os.environ.get(upstream["sha256-env"], "").strip().lower()
    if sha:
        if not re.fullmatch(r"[0-9a-f]{64}", sha):
            raise RecipeError(
                "crabsay", upstream["sha256-env"], f"must be 64 hex digits, got {sha!r}"
            )
        data["source"] = [{"url": upstream["url"], "file": upstream["file"], "sha256": sha}]
    return [recipe_from_dict(data, plugin="crabsay", plugin_dir=HERE)]


@hookimpl
def fetch(ctx: BuildContext) -> bool | None:
    if ctx.recipe.sources:
        return None  # pinned: the generic fetcher takes over
    upstream = ctx.recipe.extra["upstream"]
    raise ctx.fail(
        "the source archive is not pinned: its sha256 is unknown to this recipe. Put "
        f"{upstream['file']} (GitHub's archive of commit {upstream['commit']}) into $WASIX_MIRROR "
        f"and set {upstream['sha256-env']} to its sha256 (after checking it is upstream's)."
    )
