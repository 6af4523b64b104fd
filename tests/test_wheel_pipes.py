"""Installed wheels in pipelines: `pip install wasix-gzip wasix-jq wasix-git`, then the commands
with their standard streams on pipes, files and a terminal, as a user runs them.

wasmer-sdk's sandbox calls every standard stream a terminal. The launcher tells programs built
here which of the host's are (``WASIX_HOST_TTYS``, read by toolchain/compat/src/mirror.c), so
they compress into pipes, write no colours there and start no pager; on a real terminal
(a pty here) they still see one. The packages come from the session's collection builds.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import venv_with_wheels
from test_collection import collection_modules  # noqa: F401  (the session's builds)

pytestmark = pytest.mark.collection

PACKAGES = ("gzip", "jq", "git", "sqlite3")
DATA = b"".join(b"line %d of some text that compresses well\n" % i for i in range(2000))


@pytest.fixture(scope="module")
def bin_dir(collection_modules: Callable[[str], dict[str, Path]], provider_env, tmp_path_factory, runtime_wheelhouse) -> Path:  # noqa: F811
    """A fresh venv with the three wheels (made from the session's builds) installed by pip."""
    for name in PACKAGES:
        collection_modules(name)
    return venv_with_wheels(tmp_path_factory.mktemp("pipes-wheels"), list(PACKAGES), provider_env("wasix"), runtime_wheelhouse)


def _env(bin_dir: Path, home: Path) -> dict[str, str]:
    return {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(home), "WASIX_RUNTIME": "sdk", "LANG": "C.UTF-8"}


def test_gzip_compresses_from_a_pipe_into_a_file(bin_dir: Path, tmp_path: Path) -> None:
    """`producer | gzip > data.gz`: natively fine; in the sandbox gzip refused ("compressed
    data not written to a terminal") until it was told its stdout is a file."""
    with (tmp_path / "data.gz").open("wb") as out:
        res = subprocess.run(["gzip"], input=DATA, stdout=out, stderr=subprocess.PIPE, cwd=tmp_path,
                             env=_env(bin_dir, tmp_path), timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stderr
    back = subprocess.run(["/usr/bin/gzip", "-dc", str(tmp_path / "data.gz")], capture_output=True, check=True)
    assert back.stdout == DATA
    # and back through the wheel's gzip, pipe to pipe
    res = subprocess.run(["gzip", "-d"], input=(tmp_path / "data.gz").read_bytes(), capture_output=True, cwd=tmp_path,
                         env=_env(bin_dir, tmp_path), timeout=300)  # fmt: skip
    assert (res.returncode, res.stdout) == (0, DATA), res.stderr


def test_messages_name_the_command(bin_dir: Path, tmp_path: Path) -> None:
    """argv[0] is the command's name (it was "main")."""
    res = subprocess.run(["gzip", "-d"], input=b"not gzip data", capture_output=True, cwd=tmp_path,
                         env=_env(bin_dir, tmp_path), timeout=300)  # fmt: skip
    native = subprocess.run(["/usr/bin/gzip", "-d"], input=b"not gzip data", capture_output=True)
    assert (res.returncode, native.returncode) == (1, 1)
    # after the launcher's "preparing gzip (first run)…" line
    assert res.stderr.endswith(native.stderr) and native.stderr.strip().startswith(b"gzip: stdin:"), res.stderr


def test_jq_colours_a_terminal_but_not_a_pipe(bin_dir: Path, tmp_path: Path) -> None:
    doc = b'{"a": [1, "two"]}'
    piped = subprocess.run(["jq", "."], input=doc, capture_output=True, cwd=tmp_path, env=_env(bin_dir, tmp_path), timeout=300)
    assert piped.returncode == 0, piped.stderr
    assert b"\x1b[" not in piped.stdout
    native = subprocess.run(["/usr/bin/jq", "."], input=doc, capture_output=True, check=True)
    assert piped.stdout == native.stdout
    # stdout on a terminal (a pty; stdin stays a pipe): jq colours, as natively
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(["jq", "."], stdin=subprocess.PIPE, stdout=slave, stderr=subprocess.PIPE, cwd=tmp_path,
                                env=_env(bin_dir, tmp_path))  # fmt: skip
        os.close(slave)
        _, err = proc.communicate(doc, timeout=300)
        shown = b""
        while select.select([master], [], [], 1)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the terminal's other side is closed
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(master)
    assert proc.returncode == 0, err
    assert b"\x1b[" in shown and b"two" in shown


def test_git_commits_and_logs_in_a_pipeline(bin_dir: Path, tmp_path: Path) -> None:
    """init, add, commit, log through the wheel's git with stdout on a pipe: no pager, no
    colours, and commit's auto-maintenance runs git itself (it said "cannot run
    maintenance"); Debian's git then reads the repository."""
    env = _env(bin_dir, tmp_path / "home")
    (tmp_path / "home").mkdir()
    repo = tmp_path / "repo"

    def git(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["git", *args], capture_output=True, cwd=repo if repo.exists() else tmp_path, env=env, timeout=300)

    assert git("init", "-q", "repo").returncode == 0
    (repo / "a.txt").write_text("hello\n")
    assert git("add", "a.txt").returncode == 0
    commit = git("-c", "user.name=A U Thor", "-c", "user.email=a@example.org", "commit", "-q", "-m", "first")
    assert commit.returncode == 0, commit.stderr
    assert b"cannot run" not in commit.stderr, commit.stderr
    log = git("log", "--oneline")
    assert log.returncode == 0 and b"first" in log.stdout, log.stderr
    assert b"\x1b[" not in log.stdout and b"cannot run" not in log.stderr, (log.stdout, log.stderr)
    native = subprocess.run(["/usr/bin/git", "log", "--format=%s"], cwd=repo, capture_output=True,
                            env={**env, "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert (native.returncode, native.stdout) == (0, b"first\n"), native.stderr
    fsck = subprocess.run(["/usr/bin/git", "fsck", "--strict"], cwd=repo, capture_output=True, env={**env, "PATH": "/usr/bin:/bin"})
    assert fsck.returncode == 0, fsck.stderr


SPILLING_SQL = b"""create table t(a integer, b text, c real);
with recursive n(i) as (select 1 union all select i+1 from n where i < 300000)
  insert into t select i, hex(i * 2654435761 % 4294967296), (i * 7919) % 1000 / 7.0 from n;
select count(*), sum(a), round(avg(c), 3) from t;
select b from t order by b limit 3;
select c, count(*) from t group by c order by 2 desc, 1 limit 3;
"""


def test_sqlite3_sorts_more_than_fits_in_memory(bin_dir: Path, tmp_path: Path) -> None:
    """A sort too big for sqlite3's cache spills into a temporary file. Under the host's /tmp
    (a symlink into the copied tree in the sandbox) that open failed: "unable to open
    database file", exit 1. The launcher gives programs a $TMPDIR of the sandbox's own."""
    res = subprocess.run(["sqlite3", ":memory:"], input=SPILLING_SQL, capture_output=True, cwd=tmp_path,
                         env=_env(bin_dir, tmp_path), timeout=300)  # fmt: skip
    native = subprocess.run(["/usr/bin/sqlite3", ":memory:"], input=SPILLING_SQL, capture_output=True, timeout=300)
    assert (res.returncode, res.stdout, res.stderr) == (0, native.stdout, b""), res.stderr
