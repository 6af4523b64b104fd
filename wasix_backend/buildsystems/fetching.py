"""Default ``fetch``: get every ``[[source]]`` (archive or git commit), verify it, unpack it safely."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from .. import hookimpl
from ..context import BuildContext


def _merge_into(src: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        target = dest / item.name
        if target.exists():
            raise FileExistsError(f"{target} exists already (two sources unpack to the same place: give one a `subdir`)")
        shutil.move(str(item), target)


@hookimpl
def wasix_fetch(ctx: BuildContext) -> bool | None:
    # Imported here: a no-op build never fetches and should not pay for these modules.
    from ..extract import extract
    from ..fetch import fetch_source
    from ..gitsource import export_git_source

    recipe = ctx.recipe
    ctx.source_dir.mkdir(parents=True, exist_ok=True)
    for source in recipe.sources:
        dest = ctx.source_dir / source.subdir if source.subdir else ctx.source_dir
        # Unpack beside the tree, then merge, so several sources can share the top directory.
        with tempfile.TemporaryDirectory(dir=ctx.source_dir.parent, prefix=".unpack-") as tmp:
            unpacked = Path(tmp) / "out"
            if source.is_git:
                export_git_source(source, unpacked, package=recipe.name)
                ctx.log.info("source %s commit %s", source.git, source.rev)
            else:
                archive = fetch_source(source, package=recipe.name)
                ctx.log.info("source %s -> %s", source.filename, archive)
                what = f"{recipe.name}: {source.filename}"
                extract(archive, unpacked, strip=source.strip, what=what)
            _merge_into(unpacked, dest)
    return True
