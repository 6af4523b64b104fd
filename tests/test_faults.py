"""Attacks by a hostile user, a hostile archive and a faulty machine (issue 14), kept as tests.

Everything here is real: packages built by the real toolchain and served over HTTP on
127.0.0.1, concurrent processes, signals, a size limit set with RLIMIT_FSIZE, read-only bind
mounts in a private mount namespace, FIFOs and /dev/zero. Each test is bounded in time.
"""

from __future__ import annotations

import contextlib
import email.parser
import hashlib
import io
import os
import resource
import signal
import stat
import subprocess
import sys
import tarfile
import textwrap
import time
from pathlib import Path

import pytest
from conftest import make_tarball, write_plugin
from httpserver import serve

from wasix_backend.errors import FetchError, RecipeError, WasixError
from wasix_backend.recipe import recipe_from_dict
from wasix_backend.runtime import run

SHA = "0" * 64
PY = [sys.executable, "-m", "wasix_backend"]

# A program printing its word; `make` can be slowed down (WASIX_TEST_SLEEP) and the module can
# be padded with a custom section (BIG=bytes) so copying it takes long enough to collide.
TINY_C = '#include <stdio.h>\nint main(void) { puts("WORD"); return 0; }\n'
TINY_MK = """\
tiny: tiny.c
\tif [ -n "$$WASIX_TEST_SLEEP" ]; then sleep 30 & echo $$! > $$WASIX_TEST_SLEEP; wait; fi
\t$(CC) $(CFLAGS) -o tiny tiny.c
\tif [ -n "$(BIG)" ]; then python3 pad.py tiny $(BIG); fi
"""
# Appends a custom section of N zero bytes: still a valid module, just a big one.
PAD_PY = """\
import sys
name, n = b"pad", int(sys.argv[2])
body = bytes([len(name)]) + name + bytes(n)
size, leb = len(body), bytearray()
while True:
    byte, size = size & 127, size >> 7
    leb.append(byte | (128 if size else 0))
    if not size:
        break
with open(sys.argv[1], "ab") as fh:
    fh.write(bytes([0]) + bytes(leb) + body)
"""


def tiny_recipe(name: str, url: str, sha: str, extra: str = "") -> str:
    return textwrap.dedent(f"""\
        [package]
        name = "{name}"
        version = "1.0"
        kind = "program"
        description = "test package {name}"
        license = "MIT"

        [[source]]
        url = "{url}"
        sha256 = "{sha}"

        [build]
        system = "make"
        {extra}

        [outputs]
        bin = ["tiny"]
        """)


@pytest.fixture
def tiny(tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch):
    """A served, unique (so its source sha is new to the shared cache) package ``tiny``."""
    word = f"tiny {hashlib.sha256(str(tmp_path).encode()).hexdigest()[:12]}"  # unique per run
    upstream = tmp_path / "upstream"
    sha = make_tarball(upstream / "tiny-1.0.tar.gz", "tiny-1.0",
                       {"tiny.c": TINY_C.replace("WORD", word), "Makefile": TINY_MK, "pad.py": PAD_PY})
    monkeypatch.chdir(tmp_path)
    with serve(upstream) as srv:
        plugins = tmp_path / "plugins"
        url = srv.url_for("tiny-1.0.tar.gz")
        write_plugin(plugins, "tiny", tiny_recipe("tiny", url, sha))
        yield type("Tiny", (), {"root": tmp_path, "plugins": plugins, "word": word, "sha": sha, "url": url,
                                "store": store, "upstream": upstream, "server": srv})


def wb(tiny, *args: str, timeout: float = 300, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*PY, "--plugin-dir", str(tiny.plugins), *args], cwd=tiny.root, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})}, **kw)


def one_line_error(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    return errors[0]


# ------------------------------------------------------------------ 2. wheel METADATA injection
def test_a_description_with_a_newline_cannot_inject_metadata_headers() -> None:
    from wasix_backend.outputs.wheel import metadata_files

    evil = recipe_from_dict({"package": {"name": "x", "version": "1", "description": "x\nRequires-Dist: evil-pkg"},
                             "outputs": {"bin": ["x"]}}, plugin="t")
    with pytest.raises(WasixError, match=r"package\.description.*single line"):
        metadata_files(evil)
    for field in ("license", "homepage"):
        bad = recipe_from_dict({"package": {"name": "x", "version": "1", field: "a\r\nClassifier: x"},
                                "outputs": {"bin": ["x"]}}, plugin="t")
        with pytest.raises(WasixError, match=rf"package\.{field}"):
            metadata_files(bad)
    good = recipe_from_dict({"package": {"name": "x", "version": "1", "description": "Grüße: a: b"},
                             "outputs": {"bin": ["x"]}}, plugin="t")
    meta = metadata_files(good)["wasix_x-1.dist-info/METADATA"].decode()
    msg = email.parser.Parser().parsestr(meta)
    assert msg["Summary"] == "Grüße: a: b"
    assert msg.get_all("Requires-Dist") == ["wasmer-sdk>=0.5; platform_system != 'Windows'"]


# ------------------------------------------------------------------ 3. `file` path traversal
@pytest.mark.parametrize("file", ["x/../../evil.tar.gz", "../evil.tar.gz", "/tmp/evil.tar.gz", "..", "a\\b.tar", "a\nb"])
def test_a_source_file_name_must_be_a_plain_name(file: str) -> None:
    data = {"package": {"name": "x", "version": "1"}, "outputs": {"bin": ["x"]},
            "source": [{"url": "http://127.0.0.1:9/x.tar.gz", "file": file, "sha256": SHA}]}
    with pytest.raises(RecipeError, match=r"source\[0\]\.file.*plain file name"):
        recipe_from_dict(data, plugin="t")


def test_a_url_ending_in_dot_dot_is_refused_too() -> None:
    data = {"package": {"name": "x", "version": "1"}, "outputs": {"bin": ["x"]},
            "source": [{"url": "http://127.0.0.1:9/a/..", "sha256": SHA}]}
    with pytest.raises(RecipeError, match=r"source\[0\]\.url"):
        recipe_from_dict(data, plugin="t")


# ------------------------------------------------------------------ 4. concurrent writes to one --out
@pytest.mark.build
def test_concurrent_builds_into_one_out_dir_never_splice_or_fail(tiny) -> None:
    write_plugin(tiny.plugins, "tiny", tiny_recipe("tiny", tiny.url, tiny.sha, 'make-args = ["BIG=8000000"]'))
    first = wb(tiny, "build", "tiny")
    assert first.returncode == 0, first.stderr
    entry = next(tiny.store.glob("*-tiny-1.0"))
    want = hashlib.sha256((entry / "bin/tiny.wasm").read_bytes()).hexdigest()
    assert (entry / "bin/tiny.wasm").stat().st_size > 8_000_000
    cmd = [*PY, "--plugin-dir", str(tiny.plugins), "build", "tiny"]
    failures = []
    for _round in range(3):
        procs = [subprocess.Popen(cmd, cwd=tiny.root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for _ in range(6)]
        for p in procs:
            _, err = p.communicate(timeout=300)
            if p.returncode != 0:
                failures.append(err)
        out = tiny.root / "dist/bin/tiny.wasm"
        assert hashlib.sha256(out.read_bytes()).hexdigest() == want  # a whole file, never a splice
    assert failures == []
    assert [p.name for p in (tiny.root / "dist/bin").iterdir()] == ["tiny.wasm"]  # no temp or lock files
    assert run(tiny.root / "dist/bin/tiny.wasm").text == tiny.word + "\n"


# ------------------------------------------------------------------ 5. re-verify what is reused
@pytest.mark.build
def test_a_cached_source_substituted_under_its_pinned_name_is_refetched(tiny) -> None:
    from wasix_backend import paths

    assert wb(tiny, "build", "tiny").returncode == 0
    cached = paths.sources_dir() / f"{tiny.sha}-tiny-1.0.tar.gz"
    assert cached.is_file()
    make_tarball(cached, "tiny-1.0", {"tiny.c": TINY_C.replace("WORD", "substituted"), "Makefile": TINY_MK, "pad.py": PAD_PY})
    for entry in tiny.store.glob("*-tiny-1.0"):  # force a rebuild from the source cache
        subprocess.run(["rm", "-rf", str(entry)], check=True)
    again = wb(tiny, "build", "tiny")
    assert again.returncode == 0, again.stderr
    assert "no longer matches its pin" in again.stderr
    assert run(tiny.root / "dist/bin/tiny.wasm").text == tiny.word + "\n"
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == tiny.sha


@pytest.mark.build
def test_a_damaged_store_entry_is_quarantined_and_rebuilt_and_verify_finds_it(tiny, tmp_path: Path) -> None:
    assert wb(tiny, "build", "tiny").returncode == 0
    private = {"WASIX_CACHE": str(tmp_path / "cache")}  # verify's source-cache half: not the shared one
    entry = next(tiny.store.glob("*-tiny-1.0"))
    module = entry / "bin/tiny.wasm"
    data = module.read_bytes()
    assert wb(tiny, "verify", env=private).returncode == 0
    module.write_bytes(data[:100])  # truncated behind the store's back
    check = wb(tiny, "verify", env=private)
    assert check.returncode == 1
    assert "damaged" in check.stderr and "bin/tiny.wasm is 100 bytes" in check.stderr
    again = wb(tiny, "build", "tiny")
    assert again.returncode == 0, again.stderr
    assert "(cached)" not in again.stderr and "damaged" in again.stderr and "rebuilding" in again.stderr
    assert module.read_bytes() == data  # rebuilt in place, same bytes
    assert run(tiny.root / "dist/bin/tiny.wasm").text == tiny.word + "\n"
    assert len(list((tiny.store / "quarantine").iterdir())) == 1
    # the same flip of one byte, same size: found by the hash; --repair sets it aside
    module.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    repaired = wb(tiny, "verify", "--repair", env=private)
    assert repaired.returncode == 0 and "does not match its recorded sha256" in repaired.stderr
    assert not entry.exists() and len(list((tiny.store / "quarantine").iterdir())) == 2
    assert wb(tiny, "verify", env=private).returncode == 0


# ------------------------------------------------------------------ 6. outputs honour the umask
def test_outputs_honour_the_umask(tmp_path: Path) -> None:
    from wasix_backend.outputs.index import write_index
    from wasix_backend.outputs.wasmer_pkg import write_wasmer_package
    from wasix_backend.outputs.webc import write_webc
    from wasix_backend.outputs.wheel import write_wheel

    recipe = recipe_from_dict({"package": {"name": "x", "version": "1.0", "description": "x"},
                               "outputs": {"bin": ["x"]}}, plugin="t")
    prefix = tmp_path / "prefix"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin/x.wasm").write_bytes(b"\0asm\x01\0\0\0")
    old = os.umask(0o022)
    try:
        out = tmp_path / "dist"
        whl = write_wheel(recipe, prefix, out / "wheels")
        simple = write_index(out / "wheels", out / "simple")
        pkg = write_wasmer_package(recipe, prefix, out)
        webc = write_webc(pkg, out / "x-1.0.webc")
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert [mode(p) for p in (whl, webc, simple / "index.html")] == [0o644] * 3
    assert [mode(p) for p in (simple, simple / "wasix-x", pkg, pkg / "bin")] == [0o755] * 4
    assert mode(simple / "wasix-x" / whl.name) == 0o644


# ------------------------------------------------------------------ 7. downloads: deadline, rate, waiting, .part
DOWNLOAD = """\
import sys
from pathlib import Path
from wasix_backend.errors import FetchError
from wasix_backend.fetch import download
try:
    download(sys.argv[1], Path(sys.argv[2]), sys.argv[3], what="t: blob", progress=False)
except FetchError as exc:
    print(exc, file=sys.stderr)
    sys.exit(1)
"""


def _download_in_child(url: str, dest: Path, sha: str, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    """A download in its own process, so a hang on the old code fails the test instead of stalling it."""
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", DOWNLOAD, url, str(dest), sha], capture_output=True, text=True,
                          timeout=30, env={**os.environ, **env})
    return proc, time.monotonic() - start


@pytest.fixture
def blob(tmp_path: Path) -> tuple[Path, str]:
    site = tmp_path / "site"
    site.mkdir()
    data = bytes(range(256)) * 40  # 10 kB
    (site / "blob.bin").write_bytes(data)
    return site, hashlib.sha256(data).hexdigest()


def test_a_dripping_server_hits_the_total_deadline(tmp_path: Path, blob) -> None:
    site, sha = blob
    with serve(site, chunk=1, delay=0.2) as srv:  # 5 bytes/s: never silent long enough to stall
        proc, took = _download_in_child(srv.url_for("blob.bin"), tmp_path / "out/blob.bin", sha,
                                        {"WASIX_DOWNLOAD_DEADLINE": "2", "WASIX_DOWNLOAD_TIMEOUT": "1",
                                         "WASIX_DOWNLOAD_MIN_RATE": "0"})
    assert proc.returncode == 1 and "gave up after 2 s in all" in proc.stderr, proc.stderr
    assert took < 15
    assert not list((tmp_path / "out").iterdir())  # no .part left


def test_a_slow_server_falls_below_the_minimum_rate(tmp_path: Path, blob) -> None:
    site, sha = blob
    with serve(site, chunk=10, delay=0.1) as srv:  # ~100 bytes/s
        proc, took = _download_in_child(srv.url_for("blob.bin"), tmp_path / "out/blob.bin", sha,
                                        {"WASIX_DOWNLOAD_TIMEOUT": "1", "WASIX_DOWNLOAD_MIN_RATE": "1000"})
    assert proc.returncode == 1 and "too slow" in proc.stderr and "WASIX_DOWNLOAD_MIN_RATE" in proc.stderr, proc.stderr
    assert took < 15


def test_a_stalled_server_times_out_as_configured(tmp_path: Path, blob) -> None:
    site, sha = blob
    with serve(site, chunk=100, delay=60) as srv:  # 100 bytes, then a minute of silence
        proc, took = _download_in_child(srv.url_for("blob.bin"), tmp_path / "out/blob.bin", sha,
                                        {"WASIX_DOWNLOAD_TIMEOUT": "1"})
    assert proc.returncode == 1 and "timed out after 1 s without data" in proc.stderr, proc.stderr
    assert took < 15


FETCH = """\
import sys
from pathlib import Path
from wasix_backend.fetch import fetch_source
from wasix_backend.recipe import Source
src = Source(sha256=sys.argv[2], urls=(sys.argv[1],))
print(fetch_source(src, package="t", cache_dir=Path(sys.argv[3]), mirror=None, progress=False))
"""


def test_waiting_on_another_download_says_for_whom_and_dead_parts_go(tmp_path: Path, blob) -> None:
    from filelock import FileLock

    site, sha = blob
    cache = tmp_path / "cache"
    cache.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_part = cache / f".{sha}-blob.bin.{int(dead.stdout)}.k3x9a.part"
    live_part = cache / f".{sha}-blob.bin.{os.getpid()}.q8r2b.part"
    for part in (dead_part, live_part):
        part.write_bytes(b"half a download")
    lock = FileLock(str(cache / f"{sha}-blob.bin.lock"))
    with serve(site) as srv:
        lock.acquire()  # this test process is "the other process downloading it"
        try:
            proc = subprocess.Popen([sys.executable, "-c", FETCH, srv.url_for("blob.bin"), sha, str(cache)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(3)
        finally:
            lock.release()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"waiting for process {os.getpid()} to finish downloading t: blob.bin" in err
    assert (cache / f"{sha}-blob.bin").is_file()
    assert not dead_part.exists() and live_part.exists()


# ------------------------------------------------------------------ 8. one-line errors for faulty machines
def _readonly(paths: list[Path], cmd: list[str]) -> list[str]:
    """``cmd`` in a private mount namespace where each of ``paths`` is a read-only bind mount."""
    script = " && ".join(f'mount --bind "{p}" "{p}" && mount -o remount,ro,bind "{p}"' for p in paths)
    return ["unshare", "-m", "sh", "-c", script + ' && exec "$@"', "sh", *cmd]


def _can_mount_readonly(tmp: Path) -> bool:
    probe = tmp / "ro-probe"
    probe.mkdir(exist_ok=True)
    try:
        done = subprocess.run(_readonly([probe], ["sh", "-c", f"! touch {probe}/x"]), capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@pytest.mark.build
@pytest.mark.parametrize("command", ["build", "wheel", "wasmer"])
def test_an_unwritable_out_dir_is_one_line_naming_it(tiny, command: str) -> None:
    if not _can_mount_readonly(tiny.root):
        pytest.skip(reason="needs `unshare -m` and bind mounts (root in a private mount namespace) for a read-only --out")
    assert wb(tiny, "build", "tiny").returncode == 0
    out = tiny.root / "ro-out"
    out.mkdir()
    proc = subprocess.run(_readonly([out], [*PY, "--plugin-dir", str(tiny.plugins), command, "tiny", "--out", str(out)]),
                          cwd=tiny.root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    line = one_line_error(proc.stderr)
    assert f"cannot write output {out}" in line and "Read-only file system" in line and "--out" in line
    assert list(out.iterdir()) == []


@pytest.mark.build
def test_a_file_size_limit_while_copying_to_dist_leaves_nothing(tiny) -> None:
    write_plugin(tiny.plugins, "tiny", tiny_recipe("tiny", tiny.url, tiny.sha, 'make-args = ["BIG=1000000"]'))
    assert wb(tiny, "build", "tiny", "--out", "elsewhere").returncode == 0
    module = next(tiny.store.glob("*-tiny-1.0")) / "bin/tiny.wasm"
    limit = 100_000
    assert module.stat().st_size > limit
    (tiny.root / "dist/bin").mkdir(parents=True)
    (tiny.root / "dist/bin/tiny.wasm").write_bytes(b"the previous build")

    def small_files() -> None:  # EFBIG for any write past `limit` bytes (Python ignores SIGXFSZ)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = wb(tiny, "build", "tiny", "--out", "dist", preexec_fn=small_files)
    assert proc.returncode == 1
    line = one_line_error(proc.stderr)
    assert "cannot write output" in line and "tiny.wasm" in line and "File too large" in line and "ulimit -f" in line
    assert [p.name for p in (tiny.root / "dist/bin").iterdir()] == ["tiny.wasm"]  # no temp or lock file
    assert (tiny.root / "dist/bin/tiny.wasm").read_bytes() == b"the previous build"  # not half a new one


@pytest.mark.build
def test_a_read_only_store_names_the_store_and_what_to_do(tiny) -> None:
    if not _can_mount_readonly(tiny.root):
        pytest.skip(reason="needs `unshare -m` and bind mounts (root in a private mount namespace) for a read-only store")
    assert wb(tiny, "build", "tiny").returncode == 0
    sha = make_tarball(tiny.upstream / "tiny2-1.0.tar.gz", "tiny-1.0",
                       {"tiny.c": TINY_C.replace("WORD", tiny.word + " 2"), "Makefile": TINY_MK, "pad.py": PAD_PY})
    write_plugin(tiny.plugins, "tiny2", tiny_recipe("tiny2", tiny.server.url_for("tiny2-1.0.tar.gz"), sha))
    proc = subprocess.run(_readonly([tiny.store], [*PY, "--plugin-dir", str(tiny.plugins), "build", "tiny2"]),
                          cwd=tiny.root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    line = one_line_error(proc.stderr)
    assert "tiny2: store failed" in line and str(tiny.store) in line and "Read-only file system" in line
    assert "--store" in line and "OSError(" not in line


# ------------------------------------------------------------------ 9. plugins that exit at import
def test_a_plugin_calling_sys_exit_at_import_is_reported_and_the_rest_works(tiny) -> None:
    write_plugin(tiny.plugins, "quitter", tiny_recipe("quitter", tiny.url, tiny.sha), "import sys\nsys.exit(3)\n")
    write_plugin(tiny.plugins, "basher", tiny_recipe("basher", tiny.url, tiny.sha),
                 "class Boom(BaseException):\n    pass\nraise Boom('no')\n")
    proc = wb(tiny, "list")
    assert proc.returncode == 0, proc.stderr
    assert "tiny" in proc.stdout
    assert "plugin 'quitter'" in proc.stderr and "SystemExit: 3" in proc.stderr
    assert "plugin 'basher'" in proc.stderr and "Boom: no" in proc.stderr


# ------------------------------------------------------------------ 10. SIGTERM / SIGINT stop a build at once
def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_to_wasix_build_alone_stops_make_and_cleans_up(tiny, sig: int, status: int) -> None:
    pidfile = tiny.root / "sleep.pid"
    cmd = [*PY, "--plugin-dir", str(tiny.plugins), "build", "tiny"]
    # Builds see only their recipe's variables: the slow step is asked for there.
    write_plugin(tiny.plugins, "tiny", tiny_recipe("tiny", tiny.url, tiny.sha, f'env = {{ WASIX_TEST_SLEEP = "{pidfile}" }}'))
    proc = subprocess.Popen(cmd, cwd=tiny.root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    sleeper = None
    try:
        deadline = time.monotonic() + 120
        while not (pidfile.exists() and pidfile.read_text().strip()):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.1)
        sleeper = int(pidfile.read_text())
        assert _alive(sleeper)
        os.kill(proc.pid, sig)  # the Python process only, as `kill PID` does
        _, err = proc.communicate(timeout=15)  # at once, not after make's 30 s
        assert proc.returncode == status, err
        assert "Traceback" not in err and "interrupted" in err
        for _ in range(50):
            if not _alive(sleeper):
                break
            time.sleep(0.1)
        assert not _alive(sleeper), "make's child outlived wasix-build"
        assert list((tiny.store / "tmp").iterdir()) == []  # no staging left
        assert not list(tiny.store.glob("*-tiny-1.0"))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        if sleeper is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(sleeper, signal.SIGKILL)
        proc.wait()


# ------------------------------------------------------------------ 11. inspect on devices and FIFOs
def _no_more_than(megabytes: int):
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (megabytes << 20, megabytes << 20))

    return limit


@pytest.mark.parametrize("kind", ["/dev/zero", "fifo", "directory"])
def test_inspect_takes_regular_files_only_and_does_not_hang(tmp_path: Path, kind: str) -> None:
    target = Path(kind)
    if kind == "fifo":
        target = tmp_path / "pipe.wasm"
        os.mkfifo(target)
    elif kind == "directory":
        target = tmp_path
    proc = subprocess.run([*PY, "inspect", str(target)], capture_output=True, text=True, timeout=20,
                          preexec_fn=_no_more_than(2048))  # the old code ate memory without bound
    assert proc.returncode == 1
    line = one_line_error(proc.stderr)
    assert str(target) in line and "not a regular file" in line


def test_inspect_reads_only_the_head_of_a_large_non_module(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    with open(big, "wb") as fh:  # sparse: 3 GiB on paper, nothing on disk
        fh.truncate(3 << 30)
    proc = subprocess.run([*PY, "inspect", str(big)], capture_output=True, text=True, timeout=20,
                          preexec_fn=_no_more_than(1024))
    assert proc.returncode == 1
    assert "not a WebAssembly module" in one_line_error(proc.stderr)


# ------------------------------------------------------------------ 12. smaller ones
def _tar_with_dangling_hard_link(path: Path) -> None:
    with tarfile.open(path, "w:gz") as tar:
        data = b"int x;\n"
        info = tarfile.TarInfo("pkg-1.0/real.c")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("pkg-1.0/link.c")
        link.type = tarfile.LNKTYPE
        link.linkname = "pkg-1.0/missing.c"
        tar.addfile(link)


@pytest.mark.parametrize("strip", [0, 1])
def test_a_hard_link_to_a_missing_member_is_a_bad_archive(tmp_path: Path, strip: int) -> None:
    from wasix_backend.extract import extract
    from wasix_backend.extract import tarfile as tar_module

    archive = tmp_path / "pkg-1.0.tar.gz"
    _tar_with_dangling_hard_link(archive)
    with pytest.raises(FetchError, match=r"member 'pkg-1\.0/link\.c' is a hard link to 'pkg-1\.0/missing\.c'.*not an earlier member"):
        extract(archive, tmp_path / "out", strip=strip, what="pkg")
    assert not (tmp_path / "out").exists()
    assert tar_module.__name__ in ("tarfile", "backports.tarfile")


def test_a_hard_link_to_a_missing_member_is_blamed_on_the_archive_in_a_build(tiny) -> None:
    _tar_with_dangling_hard_link(tiny.upstream / "bad-1.0.tar.gz")
    sha = hashlib.sha256((tiny.upstream / "bad-1.0.tar.gz").read_bytes()).hexdigest()
    write_plugin(tiny.plugins, "bad", tiny_recipe("bad", tiny.server.url_for("bad-1.0.tar.gz"), sha))
    proc = wb(tiny, "build", "bad")
    assert proc.returncode == 1
    assert "hard link" in proc.stderr and "KeyError" not in proc.stderr and "raised" not in proc.stderr


def test_graph_shows_the_rest_and_names_an_unrelated_cycle(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    for name, deps in {"aa": "", "bb": '"cc"', "cc": '"bb"', "dd": '"aa"'}.items():
        text = tiny_recipe(name, "http://127.0.0.1:9/x.tar.gz", SHA).replace("[build]", f"[dependencies]\nbuild = [{deps}]\n\n[build]")
        write_plugin(plugins, name, text)
    proc = subprocess.run([*PY, "--plugin-dir", str(plugins), "graph"], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    names = [line.split()[0] for line in proc.stdout.splitlines()]
    assert "aa" in names and "dd" in names and "bb" not in names and "cc" not in names
    assert "dependency cycle: bb -> cc -> bb" in proc.stderr and "left out" in proc.stderr
    assert proc.returncode == 1


@pytest.mark.build
def test_gc_removes_dead_staging_stale_locks_parts_and_unreferenced_entries(tiny, tmp_path: Path) -> None:
    assert wb(tiny, "build", "tiny").returncode == 0  # dist/ keeps this entry
    kept = next(tiny.store.glob("*-tiny-1.0"))
    write_plugin(tiny.plugins, "tiny", tiny_recipe("tiny", tiny.url, tiny.sha, 'env = { SOMETHING = "else" }'))
    assert wb(tiny, "build", "tiny", "--out", "gone").returncode == 0
    subprocess.run(["rm", "-rf", str(tiny.root / "gone")], check=True)
    unreferenced = next(e for e in tiny.store.glob("*-tiny-1.0") if e != kept)
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout)
    staging = tiny.store / "tmp" / f"{'a' * 32}-{dead}-1"
    staging.mkdir(parents=True)
    live_staging = tiny.store / "tmp" / f"{'b' * 32}-{os.getpid()}-1"
    live_staging.mkdir()
    stale_lock = tiny.store / "locks" / f"{'c' * 32}.lock"
    stale_lock.touch()
    cache = tmp_path / "cache"  # a private source cache: gc must not touch the shared one here
    (cache / "sources").mkdir(parents=True)
    part = cache / "sources" / f".{SHA}-x.tar.gz.{dead}.zz9.part"
    part.write_bytes(b"half")
    env = {"WASIX_CACHE": str(cache)}

    dry = wb(tiny, "gc", "--keep", "0", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    for path in (staging, stale_lock, part, unreferenced):
        assert f"would remove {path}" in dry.stdout and path.exists()
    assert str(kept) not in dry.stdout and str(live_staging) not in dry.stdout

    done = wb(tiny, "gc", "--keep", "0", env=env)
    assert done.returncode == 0, done.stderr
    assert not any(p.exists() for p in (staging, stale_lock, part, unreferenced))
    assert kept.exists() and live_staging.exists()
    assert wb(tiny, "verify", env=env).returncode == 0
    again = wb(tiny, "build", "tiny", "--out", "dist")  # the env change is still in the recipe: rebuilt
    assert again.returncode == 0, again.stderr
