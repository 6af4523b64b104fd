"""The wheel launcher and the host's files (issue 37, items 7-12): changes made on the host
while a program runs are kept, host permissions are honoured, names the sandbox cannot hold
are left out, long names are written back, kernel file systems are never read, new programs
come back executable, and a changed file stays the same file (owner, group, links), as after
a native write.

The program is ``test_launcher``'s ``files`` (a real wheel, run as a subprocess under
wasmer-sdk); the concurrent cases run two real processes against one real file, and the
permission case runs the launcher as the unprivileged user ``nobody`` (root may write any
file, which would hide the failure).
"""

from __future__ import annotations

import io
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from test_launcher import files_prog, rescued, run_prog, work  # noqa: F401  (fixtures)

from wasix_backend.outputs import mirror


def _env(cache: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "WASIX_"))}
    return {**env, "WASIX_RUNTIME": "sdk", "WASIX_WHEELS_CACHE": str(cache), **extra}


def start(site: Path, cwd: Path, *args: str) -> subprocess.Popen:
    """The launcher running ``args`` in ``cwd``, stdin a pipe; returns once it printed
    ``waiting`` (every operation before ``wait`` is done)."""
    proc = subprocess.Popen([sys.executable, "-m", "wasix_files", *args], cwd=cwd,
                            env=_env(cwd.parent / "cache", PYTHONPATH=str(site)), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line == "waiting\n", (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc


def finish(proc: subprocess.Popen) -> tuple[int, str]:
    _out, err = proc.communicate("", timeout=300)
    return proc.returncode, err


# ------------------------------------------------------------------- 7: lost updates ---


@pytest.mark.build
def test_a_host_change_made_while_the_program_runs_is_kept(files_prog, work):  # noqa: F811
    proc = start(files_prog, work, "put", "notes.txt", "program", "wait")
    with open(work / "notes.txt", "a") as fh:  # the host appends meanwhile
        fh.write("host line\n")
    status, err = finish(proc)
    assert status == 0, err
    assert (work / "notes.txt").read_text() == "first\nhost line\n"  # the host's line is not lost
    assert rescued(work) == {str(work / "notes.txt").lstrip("/"): "program"}
    assert "notes.txt: it changed on the host while the program ran; the host's version is kept" in err


@pytest.mark.build
def test_two_programs_writing_one_file_do_not_lose_a_write_silently(files_prog, work):  # noqa: F811
    a = start(files_prog, work, "put", "notes.txt", "from-a", "wait")
    b = start(files_prog, work, "put", "notes.txt", "from-b", "wait")
    assert finish(a)[0] == 0
    status, err = finish(b)
    assert status == 0, err
    assert (work / "notes.txt").read_text() == "from-a"
    assert rescued(work) == {str(work / "notes.txt").lstrip("/"): "from-b"}
    assert "changed on the host while the program ran" in err


def test_write_back_compares_with_what_was_copied_in(tmp_path):
    (tmp_path / "f").write_text("copied")
    mirror.safe_write(str(tmp_path), ["f"], b"mine", b"copied")
    assert (tmp_path / "f").read_text() == "mine"
    with pytest.raises(mirror.Refused, match="changed on the host"):
        mirror.safe_write(str(tmp_path), ["f"], b"again", b"copied")
    mirror.safe_write(str(tmp_path), ["f"], b"mine", b"copied")  # the same bytes: nothing to do
    (tmp_path / "f").unlink()
    with pytest.raises(mirror.Refused, match="removed on the host"):
        mirror.safe_write(str(tmp_path), ["f"], b"again", b"mine")
    assert not (tmp_path / "f").exists()


# ------------------------------------------------------------ 8: host permissions ---


@pytest.fixture
def as_nobody(files_prog):  # noqa: F811
    """A directory ``nobody`` can use: the unpacked wheel, a working directory and a cache."""
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip(reason="needs root and runuser to run the launcher as an unprivileged user")
    probe = subprocess.run(["runuser", "-u", "nobody", "--", sys.executable, "-c", "import wasmer_sdk"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(reason=f"nobody cannot run this test's interpreter and its wasmer-sdk ({sys.executable}: the "
                           "checkout is in a directory others may not enter, such as root's 0700 home)")  # fmt: skip
    nobody = pwd.getpwnam("nobody")
    base = Path(tempfile.mkdtemp(prefix="wasix-nobody-"))
    try:
        base.chmod(0o755)
        shutil.copytree(files_prog, base / "site")
        for name in ("work", "cache", "home"):
            (base / name).mkdir()
        (base / "work" / "ro.txt").write_text("read only\n")
        (base / "work" / "ro.txt").chmod(0o444)
        for path in [base / "work", base / "cache", base / "home", base / "work" / "ro.txt"]:
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        for path in (base / "site").rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)

        def run(*argv: str) -> subprocess.CompletedProcess:
            env = _env(base / "cache", PYTHONPATH=str(base / "site"), HOME=str(base / "home"))
            return subprocess.run(["runuser", "-u", "nobody", "--", "env", *(f"{k}={v}" for k, v in env.items()), *argv],
                                  cwd=base / "work", capture_output=True, text=True, timeout=300)  # fmt: skip

        yield base, run
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.build
def test_a_read_only_host_file_is_not_replaced_by_an_ordinary_user(as_nobody):
    base, run = as_nobody
    native = run("sh", "-c", "echo changed > ro.txt")
    assert native.returncode != 0 and "Permission denied" in native.stderr  # what a native program gets
    res = run(sys.executable, "-m", "wasix_files", "put", "ro.txt", "changed")
    assert (base / "work" / "ro.txt").read_text() == "read only\n", res.stderr
    assert (base / "work" / "ro.txt").stat().st_mode & 0o777 == 0o444
    assert "ro.txt: it is read-only on the host" in res.stderr
    saved = list((base / "cache" / "rescue").rglob("ro.txt"))
    assert len(saved) == 1 and saved[0].read_text() == "changed"


# ------------------------------------------------- 9: names the sandbox cannot hold ---


@pytest.mark.build
def test_a_name_that_is_not_utf8_does_not_stop_programs(files_prog, work):  # noqa: F811
    fd = os.open(os.fsencode(work) + b"/bad\xffname", os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, b"x")
    os.close(fd)
    res = run_prog(files_prog, work, "cat", "notes.txt", "put", "new.txt", "ok")
    assert res.returncode == 0, res.stderr
    assert "cat notes.txt: first" in res.stdout and (work / "new.txt").read_text() == "ok"
    assert "1 name(s) that are not UTF-8 are not copied into the sandbox" in res.stderr
    assert "bad\\xffname" in res.stderr
    assert os.path.exists(os.fsencode(work) + b"/bad\xffname")  # left as it was


def test_names_that_are_not_utf8_are_left_out_of_the_plan(tmp_path):
    os.makedirs(os.fsencode(tmp_path) + b"/d\xfe/sub")
    open(os.fsencode(tmp_path) + b"/d\xfe/sub/f", "w").close()
    (tmp_path / "good.txt").write_text("g")
    plan = mirror.plan_mirror([], str(tmp_path), "prog")
    assert list(plan.originals) == [str(tmp_path / "good.txt")]
    assert all(mirror._utf8(p) for p in [*plan.originals, *plan.dirs])
    assert len(plan.unnamed) == 1 and "not UTF-8" in plan.warnings[0]


# ---------------------------------------------------------------- 10: long names ---


def test_a_file_with_a_255_byte_name_is_written_back(tmp_path):
    name = "n" * 251 + ".txt"
    (tmp_path / name).write_text("old")
    plan = mirror.plan_mirror([], str(tmp_path), "prog")
    err = io.StringIO()
    written = mirror.sync_back(plan, {str(tmp_path / name): b"new", str(tmp_path / ("m" * 255)): b"made"},
                               tmp_path / "cache", "prog", err=err)  # fmt: skip
    assert sorted(written) == sorted([str(tmp_path / name), str(tmp_path / ("m" * 255))]), err.getvalue()
    assert (tmp_path / name).read_text() == "new" and (tmp_path / ("m" * 255)).read_text() == "made"
    assert not (tmp_path / "cache").exists() and err.getvalue() == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, "m" * 255])  # no temp file left


def test_an_argument_at_the_top_that_only_looks_like_a_path_keeps_the_links(tmp_path):
    """`openssl req -subj /CN=x`: "/CN=x" is planned as a path whose directory is "/", which is
    never linked; it must not hide the working directory's link (the program's writes there
    were lost: nothing came back)."""
    plain = mirror.plan_mirror(["-out", "c.pem"], str(tmp_path), "prog").links()
    named = mirror.plan_mirror(["-subj", "/CN=wasix.test", "-out", "c.pem"], str(tmp_path), "prog").links()
    assert plain and any(mirror._inside(str(tmp_path), d) for d in plain)
    assert named == plain


# -------------------------------------------------------- 11: kernel file systems ---


def test_kernel_file_systems_are_never_read(tmp_path):
    """Planning a mirror of /proc (which holds /proc/kmsg: a read blocks until the kernel
    logs something) ends at once, copying nothing; in a subprocess, so a hang fails the test."""
    code = ("from wasix_backend.outputs import mirror\n"
            "plan = mirror.plan_mirror(['/sys/kernel', '/dev/null'], '/proc', 'prog')\n"
            "print(len(plan.originals), plan.warnings)\n")  # fmt: skip
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("0 ") and "kernel file system" in res.stdout


def test_copying_is_bounded_in_time(tmp_path, monkeypatch):
    for i in range(300):
        (tmp_path / f"f{i}").write_text("x")
    monkeypatch.setenv("WASIX_MIRROR_MAX_SECONDS", "0.000001")
    plan = mirror.plan_mirror([str(tmp_path / "f7")], str(tmp_path), "prog")
    assert not plan.roots[0].complete and list(plan.originals) == [str(tmp_path / "f7")]
    assert "took more than 1e-06 s to copy" in plan.warnings[0] and "WASIX_MIRROR_MAX_SECONDS" in plan.warnings[0]
    monkeypatch.setenv("WASIX_MIRROR_MAX_SECONDS", "soon")
    with pytest.raises(SystemExit, match="WASIX_MIRROR_MAX_SECONDS"):
        mirror.plan_mirror([], str(tmp_path), "prog")


@pytest.mark.build
def test_a_program_run_from_the_root_directory_as_root_starts(files_prog, tmp_path):  # noqa: F811
    if os.geteuid() != 0:
        pytest.skip(reason="reading /proc/kmsg blocks only for root")
    res = subprocess.run([sys.executable, "-m", "wasix_files", "cwd"], cwd="/",
                         env=_env(tmp_path / "cache", PYTHONPATH=str(files_prog)), capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("cwd /")


# ------------------------------------------------------- 12: modes, owners and links ---


@pytest.mark.build
def test_a_new_program_comes_back_executable(files_prog, work):  # noqa: F811
    res = run_prog(files_prog, work, "put", "tool.sh", "#!/bin/true", "chmod", "755", "tool.sh",
                   "put", "data.txt", "plain")  # fmt: skip
    assert res.returncode == 0, res.stderr
    umask = os.umask(0)
    os.umask(umask)
    assert (work / "tool.sh").stat().st_mode & 0o777 == 0o755  # chmod's mode, exactly (recorded)
    assert (work / "data.txt").stat().st_mode & 0o777 == 0o666 & ~umask
    assert subprocess.run([str(work / "tool.sh")]).returncode == 0  # runs, as natively


@pytest.mark.build
@pytest.mark.parametrize("umask", [0o027, 0o000])
def test_new_files_take_the_umask_the_program_ran_with(files_prog, work, umask):  # noqa: F811
    old = os.umask(umask)  # the launcher inherits it, as a native program would
    try:
        res = run_prog(files_prog, work, "put", "tool.sh", "#!/bin/true", "put", "data.txt", "plain")
    finally:
        os.umask(old)
    assert res.returncode == 0, res.stderr
    # fopen() asks for 0666 (recorded by modes.c), whatever the content: as natively.
    assert stat.S_IMODE((work / "tool.sh").stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE((work / "data.txt").stat().st_mode) == 0o666 & ~umask


def test_a_new_file_without_a_record_takes_its_mode_from_its_content() -> None:
    """Programs that record no modes (a Rust program, a call modes.c does not wrap): a script
    or an ELF binary comes back executable, anything else as data; the umask comes off later."""
    assert mirror._new_file_mode(b"#!/bin/true\n") == 0o777
    assert mirror._new_file_mode(b"\x7fELF\x02\x01") == 0o777
    assert mirror._new_file_mode(b"plain") == 0o666


@pytest.mark.build
def test_a_changed_file_stays_the_same_file_as_a_native_write_leaves_it(as_nobody):
    """Owner, group, hard links and set-user-ID as a native write leaves them, and a writable
    file in a directory ``nobody`` may not write: the same writes, natively and from the wheel."""
    base, run = as_nobody
    nobody = pwd.getpwnam("nobody")
    (base / "links").mkdir()
    names = ("shared.txt", "linked.txt", "tool", "locked/f.txt", "grouped.txt")
    for side in ("native", "work"):
        top = base / side
        top.mkdir(exist_ok=True)
        os.chown(top, nobody.pw_uid, nobody.pw_gid)
        for name, text in zip(names, ("v1\n", "v1\n", "#!/bin/sh\n", "v1\n", "v1\n"), strict=True):
            (top / name).parent.mkdir(exist_ok=True)
            (top / name).write_text(text)
        # root's file that nobody's group may write; nobody's own set-user-ID program; nobody's
        # file with a second link elsewhere; nobody's file in root's directory; nobody's file
        # in root's group, which nobody cannot give a file of its own.
        os.chown(top / "shared.txt", 0, nobody.pw_gid)
        (top / "shared.txt").chmod(0o664)
        for name in ("linked.txt", "tool", "locked/f.txt"):
            os.chown(top / name, nobody.pw_uid, nobody.pw_gid)
        os.chown(top / "grouped.txt", nobody.pw_uid, 0)
        (top / "tool").chmod(0o4755)
        os.link(top / "linked.txt", base / "links" / f"{side}.txt")
    native = run("sh", "-c", "cd ../native && for f in " + " ".join(names) + "; do printf changed > $f; done")
    assert native.returncode == 0, native.stderr
    res = run(sys.executable, "-m", "wasix_files", *(w for name in names for w in ("put", name, "changed")))
    assert res.returncode == 0 and "not copied back" not in res.stderr, res.stderr

    def state(path: Path) -> tuple:
        st = path.stat()
        return path.read_text(), st.st_uid, st.st_gid, oct(stat.S_IMODE(st.st_mode)), st.st_nlink

    for name in names:
        assert state(base / "work" / name) == state(base / "native" / name), name
    assert state(base / "work" / "shared.txt")[1] == 0  # still root's
    assert (base / "links" / "work.txt").read_text() == "changed"


def test_the_sandbox_keeps_no_file_modes() -> None:
    """Why programs record the modes they give files (toolchain/compat/src/modes.c,
    ``test_launcher_modes``) and a file known to no record gets its mode from its content:
    wasmer-sdk's sandbox keeps none. When this fails, wasmer-sdk keeps modes: read them back
    instead."""
    import dataclasses

    from wasmer_sdk import FileStat

    assert [f.name for f in dataclasses.fields(FileStat)] == ["kind", "size"]  # no mode to read
