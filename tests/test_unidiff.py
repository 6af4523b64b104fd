"""Patches applied in Python (no GNU patch on the machine): the same rules as ``patch -p1
--forward --fuzz=0``, every file or none, and a loud failure naming file and hunk.

Where GNU patch is installed, each case also runs it and the two must agree (same tree, or
both refuse).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from wasix_backend.buildsystems import unidiff

ORIGINAL = "".join(f"line {i}\n" for i in range(1, 31))


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def _both(
    tmp_path: Path, files: dict[str, str], patch: str
) -> tuple[dict[str, str] | str, dict[str, str] | None]:
    """Apply ``patch`` in Python (result: the tree, or the error text) and, where GNU patch
    exists, with it (its tree, or ``None`` when it refused)."""
    (tmp_path / "p.diff").write_text(patch)
    py = _tree(tmp_path / "py", files)
    try:
        unidiff.apply(tmp_path / "p.diff", py)
        ours: dict[str, str] | str = _snapshot(py)
    except unidiff.PatchError as exc:
        ours = str(exc)
        assert _snapshot(py) == files, "a refused patch changed nothing"
    gnu_result = None
    if shutil.which("patch"):
        gnu = _tree(tmp_path / "gnu", files)
        done = subprocess.run(["patch", "-p1", "--forward", "--batch", "--fuzz=0", "--no-backup-if-mismatch", "-i",
                               str(tmp_path / "p.diff")], cwd=gnu, capture_output=True, text=True)  # fmt: skip
        gnu_result = _snapshot(gnu) if done.returncode == 0 else None
        assert (gnu_result is None) == isinstance(ours, str), (ours, done.stdout)
        if gnu_result is not None:
            assert gnu_result == ours
    return ours, gnu_result


MOVED = """comment before the diff
--- a/f.txt
+++ b/f.txt
@@ -3,4 +3,5 @@
 line 3
 line 4
+inserted after 4
 line 5
 line 6
@@ -20,3 +21,3 @@
 line 20
-line 21
+line twenty-one
 line 22
"""


def test_hunks_apply_exactly_and_may_move(tmp_path: Path) -> None:
    shifted = "extra\nextra\n" + ORIGINAL  # every hunk two lines below where the diff says
    ours, _ = _both(tmp_path, {"f.txt": shifted}, MOVED)
    assert isinstance(ours, dict)
    assert ours["f.txt"] == shifted.replace("line 4\n", "line 4\ninserted after 4\n").replace(
        "line 21\n", "line twenty-one\n"
    )


def test_a_hunk_with_less_context_on_one_side_belongs_at_that_end_of_the_file(
    tmp_path: Path,
) -> None:
    # As diff writes them at a file's start; GNU patch without fuzz holds them there.
    patch = "--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,4 @@\n+first\n line 1\n line 2\n line 3\n"
    ours, _ = _both(tmp_path, {"f.txt": ORIGINAL}, patch)
    assert isinstance(ours, dict) and ours["f.txt"] == "first\n" + ORIGINAL
    (tmp_path / "moved").mkdir()
    refused, _ = _both(tmp_path / "moved", {"f.txt": "extra\n" + ORIGINAL}, patch)
    assert refused == "f.txt: Hunk #1 FAILED at 1"


def test_a_hunk_whose_context_differs_fails_naming_file_and_hunk_and_nothing_changes(
    tmp_path: Path,
) -> None:
    changed = ORIGINAL.replace("line 22\n", "line 22 (edited upstream)\n")
    ours, _ = _both(tmp_path, {"f.txt": changed}, MOVED)
    assert (
        ours == "f.txt: Hunk #2 FAILED at 20"
    )  # hunk 1 applied in memory only: the file is untouched


def test_an_applied_patch_is_reversed_not_applied_twice(tmp_path: Path) -> None:
    done = ORIGINAL.replace("line 4\n", "line 4\ninserted after 4\n").replace(
        "line 21\n", "line twenty-one\n"
    )
    ours, _ = _both(tmp_path, {"f.txt": done}, MOVED)
    assert isinstance(ours, str) and "Reversed (or previously applied)" in ours


def test_new_files_missing_files_and_no_newline_at_end(tmp_path: Path) -> None:
    patch = """--- /dev/null
+++ b/sub/new.c
@@ -0,0 +1,2 @@
+int x;
+int y;
\\ No newline at end of file
--- a/g.txt
+++ b/g.txt
@@ -1,2 +1,2 @@
 a
-b
\\ No newline at end of file
+c
"""
    ours, _ = _both(tmp_path, {"g.txt": "a\nb"}, patch)
    assert ours == {"g.txt": "a\nc\n", "sub/new.c": "int x;\nint y;"}
    (tmp_path / "again").mkdir()
    missing, _ = _both(
        tmp_path / "again", {"other.txt": "x\n"}, "--- a/g.txt" + patch.split("--- a/g.txt", 1)[1]
    )
    assert missing == "g.txt: can't find file to patch"


@pytest.mark.parametrize("text", ["just words\n", "--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n-b\n"])
def test_malformed_patches_are_refused(tmp_path: Path, text: str) -> None:
    (tmp_path / "p.diff").write_text(text)
    _tree(tmp_path / "t", {"f": "a\nb\nc\n"})
    with pytest.raises(unidiff.PatchError, match="malformed patch"):
        unidiff.apply(tmp_path / "p.diff", tmp_path / "t")
