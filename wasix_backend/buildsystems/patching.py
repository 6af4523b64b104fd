"""Default ``patch``: apply the recipe's patches in order, all or nothing per patch.

With GNU ``patch`` on the build's PATH it applies them; without it, :mod:`.unidiff` does, by
the same rules (no fuzz, forward only), so a machine with nothing but Python can build.

Each patch is tried with ``--dry-run`` first, so one that no longer applies stops the build
with the patch file and the failing hunk named, and leaves the sources untouched by it.
"""

from __future__ import annotations

import re
import subprocess

from .. import hookimpl, hosttools
from ..context import BuildContext
from . import unidiff

_FAILED = re.compile(r"Hunk #\d+ FAILED at \d+.*|can't find file to patch.*|No file to patch.*|Reversed \(or previously applied\) patch detected.*|malformed patch.*", re.I)


@hookimpl
def wasix_patch(ctx: BuildContext) -> bool | None:
    if not ctx.recipe.patches:
        return None
    if not hosttools.missing(["patch"], ctx.env.get("PATH")):
        _gnu_patch(ctx)
    else:  # no GNU patch on this machine: the same rules, in Python
        for path in ctx.recipe.patches:
            try:
                changed = unidiff.apply(path, ctx.source_dir)
            except (unidiff.PatchError, OSError) as exc:
                raise ctx.fail(
                    f"patch {path} does not apply: {exc}. Refresh the patch against "
                    f"{ctx.recipe.name} {ctx.recipe.version}'s sources, or drop it"
                ) from None
            ctx.log.info("patch %s (in Python; no GNU patch on PATH): %s", path.name, ", ".join(changed))
    return True


def _gnu_patch(ctx: BuildContext) -> None:
    for path in ctx.recipe.patches:
        # --fuzz=0: a patch whose context no longer matches is refreshed, not guessed at.
        args = ["patch", "-p1", "--forward", "--batch", "--fuzz=0", "--no-backup-if-mismatch", "-i", str(path)]
        probe = subprocess.run([*args, "--dry-run"], cwd=ctx.source_dir, capture_output=True, text=True, env=ctx.env)
        ctx.log.info("patch %s (dry run):\n%s%s", path.name, probe.stdout, probe.stderr)
        if probe.returncode != 0:
            output = probe.stdout + probe.stderr
            current = ""
            failing = []
            for line in output.splitlines():
                if line.startswith(("patching file", "checking file")):
                    current = line.split(" ", 2)[-1]
                elif _FAILED.search(line):
                    failing.append(f"{current}: {line.strip()}" if current else line.strip())
            last = output.strip().splitlines()
            detail = "; ".join(failing) or (last[-1] if last else "unknown error")
            raise ctx.fail(
                f"patch {path} does not apply: {detail}. Refresh the patch against "
                f"{ctx.recipe.name} {ctx.recipe.version}'s sources, or drop it"
            )
        ctx.run(args, cwd=ctx.source_dir)
