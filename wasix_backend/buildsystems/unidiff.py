"""Unified diffs applied in Python, as ``patch -p1 --forward --fuzz=0`` does, for machines
without GNU patch.

Context must match exactly (no fuzz); a hunk may move (GNU patch's "offset"), the nearest
matching place wins. A hunk that is found already applied is "Reversed (or previously
applied)". All or nothing per patch: every file is worked out in memory, and only when every
hunk of every file applies are the files written. Handles new and deleted files and
``\\ No newline at end of file``; git's binary diffs, renames and mode changes are refused
(our recipes' patches are plain text diffs).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


class PatchError(Exception):
    """The patch does not apply (or cannot be read); the message names file and hunk."""


@dataclass
class Hunk:
    number: int
    old_start: int
    old: list[str] = field(default_factory=list)  # lines with their endings
    new: list[str] = field(default_factory=list)
    tags: str = ""  # " ", "-", "+" per line, in order


@dataclass
class FilePatch:
    old_path: str
    new_path: str
    hunks: list[Hunk] = field(default_factory=list)


def _strip(path: str, strip: int) -> str:
    path = path.split("\t", 1)[0].strip()
    if path == "/dev/null":
        return path
    parts = path.split("/")
    if len(parts) <= strip:
        raise PatchError(f"cannot strip {strip} leading components from {path!r}")
    return "/".join(parts[strip:])


def parse(text: str, strip: int = 1) -> list[FilePatch]:
    """The files and hunks of a unified diff (text before the first ``---`` is comment)."""
    lines = text.splitlines(keepends=True)
    files: list[FilePatch] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("GIT binary patch") or line.startswith(
            ("rename from ", "new mode ", "old mode ")
        ):
            raise PatchError(f"git extended diffs are not supported ({line.strip()})")
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            files.append(FilePatch(_strip(line[4:], strip), _strip(lines[i + 1][4:], strip)))
            i += 2
            continue
        match = _HUNK.match(line)
        if match:
            if not files:
                raise PatchError(f"a hunk before any file header (line {i + 1})")
            i = _read_hunk(lines, i, match, files[-1])
            continue
        i += 1
    if not files:
        raise PatchError("no file to patch (not a unified diff)")
    return files


def _read_hunk(lines: list[str], i: int, match: re.Match[str], fp: FilePatch) -> int:
    old_len = int(match.group(2)) if match.group(2) is not None else 1
    new_len = int(match.group(4)) if match.group(4) is not None else 1
    hunk = Hunk(len(fp.hunks) + 1, int(match.group(1)))
    i += 1
    last: list[str] | None = None
    while i < len(lines) and (
        len(hunk.old) < old_len or len(hunk.new) < new_len or lines[i].startswith("\\")
    ):
        line = lines[i]
        if line.startswith("\\"):  # "\ No newline at end of file": the line before has none
            for side in [hunk.old, hunk.new] if last is None else [last]:
                if side and side[-1].endswith("\n"):
                    side[-1] = side[-1].removesuffix("\n")
            i += 1
            continue
        tag, body = line[:1], line[1:]
        if line in ("\n", "\r\n"):  # an empty context line whose space was lost
            tag, body = " ", line
        hunk.tags += tag if tag in " -+" else "?"
        if tag == " ":
            hunk.old.append(body)
            hunk.new.append(body)
            last = None
        elif tag == "-":
            hunk.old.append(body)
            last = hunk.old
        elif tag == "+":
            hunk.new.append(body)
            last = hunk.new
        else:
            raise PatchError(f"{fp.new_path}: hunk #{hunk.number} is malformed at {line.strip()!r}")
        i += 1
    if len(hunk.old) != old_len or len(hunk.new) != new_len:
        raise PatchError(f"{fp.new_path}: hunk #{hunk.number} is truncated (malformed patch)")
    fp.hunks.append(hunk)
    return i


def _find(lines: list[str], wanted: list[str], at: int, start: int, anchor: str = "") -> int | None:
    """Where ``wanted`` occurs in ``lines`` at or after ``start``, nearest to ``at``.
    ``anchor`` ``"start"``/``"end"``: only at the file's start or end (see :func:`_anchor`)."""
    if not wanted:
        return min(max(at, start), len(lines))
    limit = len(lines) - len(wanted)
    if anchor:
        pos = 0 if anchor == "start" else limit
        return pos if start <= pos and lines[pos : pos + len(wanted)] == wanted else None
    for delta in range(0, len(lines) + 1):
        for pos in (at + delta, at - delta) if delta else (at,):
            if start <= pos <= limit and lines[pos : pos + len(wanted)] == wanted:
                return pos
    return None


def _anchor(hunk: Hunk) -> str:
    """GNU patch's rule without fuzz: a hunk with less context before its change than after
    it must match at the start of the file, one with less after than before at its end (diff
    writes such hunks only there)."""
    lead = len(hunk.tags) - len(hunk.tags.lstrip(" "))
    trail = len(hunk.tags) - len(hunk.tags.rstrip(" "))
    if lead == len(hunk.tags):
        return ""
    return "start" if lead < trail else "end" if trail < lead else ""


def _apply_file(fp: FilePatch, root: Path) -> tuple[Path, list[str] | None]:
    """``(path, new lines)`` for one file (``None``: delete it); :class:`PatchError` if a hunk
    does not apply."""
    creating = fp.old_path == "/dev/null"
    name = fp.new_path if creating or fp.new_path != "/dev/null" else fp.old_path
    path = root / name
    if creating:
        if path.exists():
            raise PatchError(
                f"{name}: file to be created already exists (Reversed (or previously applied) patch?)"
            )
        lines: list[str] = []
    else:
        if not path.is_file():
            raise PatchError(f"{name}: can't find file to patch")
        lines = path.read_bytes().decode("latin-1").splitlines(keepends=True)
    start = shift = 0
    for hunk in fp.hunks:
        # Where the hunk belongs now: its old line number moved by the hunks applied before
        # (a pure insertion, "-N,0", goes after line N).
        at = max(hunk.old_start - (1 if hunk.old else 0), 0) + shift
        pos = _find(lines, hunk.old, at, start, _anchor(hunk))
        if pos is None:
            if hunk.new != hunk.old and _find(lines, hunk.new, at, 0, _anchor(hunk)) is not None:
                raise PatchError(
                    f"{name}: hunk #{hunk.number}: Reversed (or previously applied) patch detected"
                )
            raise PatchError(f"{name}: Hunk #{hunk.number} FAILED at {hunk.old_start}")
        lines[pos : pos + len(hunk.old)] = hunk.new
        start = pos + len(hunk.new)
        shift += len(hunk.new) - len(hunk.old) + (pos - at)
    if fp.new_path == "/dev/null":
        if lines:
            raise PatchError(f"{name}: file to be deleted is not empty after the patch")
        return path, None
    return path, lines


def apply(patch: Path, root: Path, strip: int = 1) -> list[str]:
    """Apply ``patch`` under ``root``: every file or none. Returns the paths patched."""
    try:
        files = parse(patch.read_bytes().decode("latin-1"), strip)
    except PatchError as exc:
        raise PatchError(f"malformed patch: {exc}") from None
    results = [_apply_file(fp, root) for fp in files]
    done = []
    for path, lines in results:
        if lines is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            mode = path.stat().st_mode & 0o7777 if path.exists() else None
            tmp = path.with_name(f".{path.name}.patch-tmp")
            tmp.write_bytes("".join(lines).encode("latin-1"))
            if mode is not None:
                os.chmod(tmp, mode)
            os.replace(tmp, path)
        done.append(str(path.relative_to(root)))
    return done
