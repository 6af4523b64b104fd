"""The wheel launcher under wasmer-sdk: host paths, write-back confinement, rescue, crashes.

A small C program, compiled with ``wasixcc`` (so it carries the toolchain's mirror step), is packed into a real wheel; the wheel is unpacked and its launcher run as a
subprocess in a host directory made by the test, with real symlinks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from test_c_programs import build

from wasix_backend.outputs import launcher, mirror
from wasix_backend.outputs.wheel import write_wheel
from wasix_backend.recipe import recipe_from_dict

# Runs its arguments as a script of operations, so one run can do what an editor does.
FILES_C = r"""
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
static void on_cont(int sig) { (void)sig; printf("continued\n"); }
int main(int argc, char **argv) {
    signal(SIGCONT, on_cont);
    static char line[8192], *words[256];
    if (argc >= 2 && argv[1][0] == '/') {  /* `files PATH…`: the script on stdin names the rest */
        size_t n = fread(line, 1, sizeof line - 1, stdin);
        line[n] = 0;
        argc = 1;
        for (char *w = strtok(line, " \n"); w && argc < 256; w = strtok(NULL, " \n"))
            words[argc++] = w;
        argv = words;
    }
    for (int i = 1; i < argc; i++) {
        const char *op = argv[i];
        if (!strcmp(op, "cwd")) { char b[1024]; printf("cwd %s\n", getcwd(b, sizeof b)); }
        else if (!strcmp(op, "cat") && i + 1 < argc) {
            FILE *f = fopen(argv[++i], "rb");
            if (!f) { printf("cat %s: %s\n", argv[i], strerror(errno)); continue; }
            char b[4096]; size_t n = fread(b, 1, sizeof b, f); fclose(f);
            printf("cat %s: %.*s\n", argv[i], (int)n, b);
        } else if (!strcmp(op, "put") && i + 2 < argc) {
            FILE *f = fopen(argv[i + 1], "wb");
            if (!f) { printf("put %s: %s\n", argv[i + 1], strerror(errno)); i += 2; continue; }
            fputs(argv[i + 2], f); fclose(f); i += 2;
        } else if (!strcmp(op, "mkdir") && i + 1 < argc) { mkdir(argv[++i], 0755); }
        else if (!strcmp(op, "chmod") && i + 2 < argc) {
            int r = chmod(argv[i + 2], (mode_t)strtol(argv[i + 1], NULL, 8));
            if (r) printf("chmod %s: %s\n", argv[i + 2], strerror(errno));
            i += 2;
        }
        else if (!strcmp(op, "env") && i + 1 < argc) {
            const char *v = getenv(argv[++i]);
            printf("env %s=%s\n", argv[i], v ? v : "(unset)");
        } else if (!strcmp(op, "stop")) { printf("kill %d\n", kill(0, SIGSTOP)); }
        else if (!strcmp(op, "trap")) { fflush(stdout); __builtin_trap(); }
        else if (!strcmp(op, "wait")) { printf("waiting\n"); fflush(stdout); while (getchar() != EOF) {} }
    }
    return 0;
}
"""


@pytest.fixture(scope="session")
def files_prog(tmp_path_factory) -> Path:
    """The program packed in a wheel, unpacked: run with ``python -m wasix_files``."""
    root = tmp_path_factory.mktemp("launcher")
    wasm = build(root, FILES_C, "-O2", name="files")
    (root / "prefix" / "bin").mkdir(parents=True)
    (root / "prefix" / "bin" / "files.wasm").write_bytes(wasm.read_bytes())
    return unpacked_wheel(root, "files")


def unpacked_wheel(root: Path, name: str) -> Path:
    """The wheel of ``root/prefix/bin/NAME.wasm`` (a package NAME with that one command),
    unpacked into ``root/site``: run with ``python -m wasix_NAME``."""
    recipe = recipe_from_dict({"package": {"name": name, "version": "1"}, "outputs": {"bin": [name]}}, plugin="t")
    whl = write_wheel(recipe, root / "prefix", root / "wheels")
    site = root / "site"
    with zipfile.ZipFile(whl) as zf:
        zf.extractall(site)
    return site


def run_prog(site: Path, cwd: Path, *args: str, script: str | None = None, **env: str) -> subprocess.CompletedProcess:
    """Run the launcher in ``cwd``; its cache (and rescue directory) is ``cwd/../cache``."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "WASIX_"))}
    full.update(PYTHONPATH=str(site), WASIX_RUNTIME="sdk", WASIX_WHEELS_CACHE=str(cwd.parent / "cache"), **env)
    return subprocess.run([sys.executable, "-m", "wasix_files", *args], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=300, input=script or "")  # fmt: skip


def rescued(work: Path) -> dict[str, str]:
    """Rescued files by host path (without the leading ``/``)."""
    base = work.parent / "cache" / "rescue"
    return {str(p.relative_to(base)).split("/", 1)[1]: p.read_text() for p in base.rglob("*") if p.is_file()} if base.exists() else {}


@pytest.fixture
def work(tmp_path) -> Path:
    w = tmp_path / "work"
    (w / "sub").mkdir(parents=True)
    (w / "notes.txt").write_text("first\n")
    (w / "sub" / "deep.txt").write_text("deep\n")
    return w


@pytest.mark.build
@pytest.mark.xfail(reason="wasix-libc's getcwd() answers the path of the sandbox's copy (/workspace/.host/REAL): "
                          "mirror.c's chdir() goes through the link to it; relative paths work (README, launcher limits)")
def test_the_program_starts_in_the_real_working_directory(files_prog, work):
    res = run_prog(files_prog, work, "cwd", "cat", "notes.txt", "cat", "sub/deep.txt", "cat", str(work / "notes.txt"))
    assert res.returncode == 0, res.stderr
    assert res.stdout == (f"cwd {work}\ncat notes.txt: first\n\ncat sub/deep.txt: deep\n\n"
                          f"cat {work}/notes.txt: first\n\n")


@pytest.mark.build
def test_the_users_environment_reaches_the_program_but_not_host_places(files_prog, work):
    out = run_prog(files_prog, work, "env", "GREETING", "env", "LC_ALL", "env", "PATH", "env", "HOME", "env", "PWD",
                   GREETING="hi there", LC_ALL="C.UTF-8", PWD="/somewhere/else")  # fmt: skip
    assert out.returncode == 0, out.stderr
    # PATH is the sandbox's (where commands and sandbox scripts are), never the host's.
    assert out.stdout.splitlines() == ["env GREETING=hi there", "env LC_ALL=C.UTF-8", "env PATH=/usr/local/bin:/usr/bin:/bin",
                                       "env HOME=/workspace", f"env PWD={work}"]  # where it starts, as a shell says


@pytest.mark.build
def test_empty_directories_the_program_makes_reach_the_host(files_prog, work):
    # git init's refs/ and objects/ start empty; without them the repository is not one.
    out = run_prog(files_prog, work, "mkdir", "repo", "mkdir", "repo/refs", "mkdir", "repo/refs/heads", "put", "repo/HEAD", "x")
    assert out.returncode == 0, out.stderr
    assert (work / "repo" / "refs" / "heads").is_dir() and (work / "repo" / "HEAD").read_text() == "x"


@pytest.mark.build
def test_new_files_by_relative_and_absolute_path_reach_the_host(files_prog, work):
    # None of these is named on the command line as a file of its own: an editor's "save as".
    res = run_prog(files_prog, work, "put", "saveas.txt", "relative", "put", str(work / "abs.txt"), "absolute",
                   "put", "sub/new.txt", "in a sub-directory", "mkdir", "fresh", "put", "fresh/x.txt", "new dir",
                   "put", "notes.txt", "changed")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert (work / "saveas.txt").read_text() == "relative"
    assert (work / "abs.txt").read_text() == "absolute"
    assert (work / "sub" / "new.txt").read_text() == "in a sub-directory"
    assert (work / "fresh" / "x.txt").read_text() == "new dir"
    assert (work / "notes.txt").read_text() == "changed"
    assert rescued(work) == {}


@pytest.mark.build
def test_a_named_file_elsewhere_is_seen_and_written_at_its_path(files_prog, work, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "far.txt").write_text("far")
    os.chmod(other / "far.txt", 0o640)
    res = run_prog(files_prog, work, "cat", str(other / "far.txt"), "put", str(other / "far.txt"), "FAR")
    assert res.returncode == 0, res.stderr
    assert res.stdout == f"cat {other}/far.txt: far\n"
    assert (other / "far.txt").read_text() == "FAR"
    assert (other / "far.txt").stat().st_mode & 0o777 == 0o640  # replaced, mode kept


@pytest.mark.build
def test_writes_through_a_symlinked_directory_never_leave_the_named_one(files_prog, work, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_text("must survive")
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "link").symlink_to(outside)
    (proj / "real.txt").write_text("real")
    (proj / "filelink.txt").symlink_to(outside / "victim.txt")
    # Only proj/ is named; the program reaches the rest on its own (the paths are on stdin),
    # by the real path and, as a hostile program could, through the sandbox's copy.
    copy = mirror.GUEST_ROOT + str(proj)
    script = (f"mkdir {copy}/link put {copy}/link/victim.txt overwritten put {proj}/link/new.txt escaped "
              f"put {copy}/filelink.txt replaced put {proj}/real.txt fine")
    res = run_prog(files_prog, work, str(proj), script=script)
    assert res.returncode == 0, res.stderr
    assert (outside / "victim.txt").read_text() == "must survive"
    assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"]
    assert (proj / "filelink.txt").is_symlink() and (proj / "link").is_symlink()
    assert (proj / "real.txt").read_text() == "fine"
    # Refused, reported, and kept.
    assert "not copied back" in res.stderr and "symlink" in res.stderr
    saved = rescued(work)
    assert saved[str(proj / "link" / "victim.txt").lstrip("/")] == "overwritten"
    assert saved[str(proj / "link" / "new.txt").lstrip("/")] == "escaped"
    assert saved[str(proj / "filelink.txt").lstrip("/")] == "replaced"


@pytest.mark.build
def test_a_write_outside_what_was_mirrored_is_rescued_not_lost(files_prog, work):
    scratch = Path("/tmp/wasix-launcher-scratch.txt")
    scratch.unlink(missing_ok=True)
    res = run_prog(files_prog, work, str(work), script=f"put {scratch} scratch")  # not named
    assert res.returncode == 0, res.stderr
    assert not scratch.exists()  # not named: never written to the host …
    assert rescued(work)["tmp/wasix-launcher-scratch.txt"] == "scratch"
    assert "outside the working directory" in res.stderr


@pytest.mark.build
def test_an_oversized_working_directory_is_named_with_what_to_do(files_prog, work):
    (work / "big.bin").write_bytes(b"x" * 4096)
    res = run_prog(files_prog, work, "/dev/null", "notes.txt", WASIX_MIRROR_MAX_BYTES="1K",
                   script="cat big.bin put big.bin clobber put new.txt new cat notes.txt")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "WASIX_MIRROR_MAX_BYTES" in res.stderr and str(work) in res.stderr
    assert "cat big.bin: No such file" in res.stdout  # not copied in …
    assert "cat notes.txt: first" in res.stdout  # … but what was named is
    assert (work / "big.bin").read_bytes() == b"x" * 4096  # … so never overwritten blindly
    assert (work / "new.txt").read_text() == "new"
    assert rescued(work) == {str(work / "big.bin").lstrip("/"): "clobber"}


@pytest.mark.build
def test_a_trap_is_one_line_and_saved_files_still_come_back(files_prog, work):
    res = run_prog(files_prog, work, "put", "saved.txt", "before the crash", "trap")
    assert res.returncode == launcher.CRASH_STATUS
    assert (work / "saved.txt").read_text() == "before the crash"
    assert "Traceback" not in res.stderr
    lines = [line for line in res.stderr.splitlines() if not line.startswith("preparing")]
    assert len(lines) == 1, res.stderr  # no traceback, no WebAssembly backtrace either
    assert lines[0].startswith("files: ") and "unreachable" in lines[0]


@pytest.mark.build
def test_the_trace_names_each_phase_after_the_run_and_changes_nothing_else(files_prog, work):
    plain = run_prog(files_prog, work, "put", "t.txt", "x", "cat", "t.txt")
    (work / "t.txt").unlink()
    traced = run_prog(files_prog, work, "put", "t.txt", "x", "cat", "t.txt", WASIX_LAUNCHER_TRACE="1")
    assert traced.returncode == plain.returncode == 0, traced.stderr
    assert traced.stdout == plain.stdout
    lines = [line for line in traced.stderr.splitlines() if line.startswith("wasix-launcher:")]
    phases = [line.split("CPU", 1)[1].strip() for line in lines]
    assert [p.split(" (")[0] for p in phases] == [
        "python started, launcher imported", "wasmer_sdk imported", "mirror planned", "module read, exports, environment",
        "runtime started", "package loaded", "sandbox made, directories linked", "program spawned", "program ran",
        "written back", "runtime closed", "in all"]  # fmt: skip
    assert "written back (1 files)" in phases
    words = lines[-1].split()  # wasix-launcher: W s wall C s CPU in all …
    assert float(words[1]) > 0 and float(words[4]) > 0
    assert "wasix-launcher:" not in plain.stderr


@pytest.mark.build
def test_sigterm_stops_the_program_and_still_writes_back(files_prog, work):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "WASIX_"))}
    env.update(PYTHONPATH=str(files_prog), WASIX_RUNTIME="sdk", WASIX_WHEELS_CACHE=str(work.parent / "cache"))
    proc = subprocess.Popen([sys.executable, "-m", "wasix_files", "put", "kept.txt", "saved", "wait"], cwd=work,
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert proc.stdout.readline() == b"waiting\n"  # the file is saved in the sandbox, the program blocks
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert (work / "kept.txt").read_text() == "saved"
    assert b"Traceback" not in err


@pytest.mark.build
def test_stopping_itself_continues_at_once(files_prog, work):
    res = run_prog(files_prog, work, "stop", "put", "after.txt", "still running")
    assert res.returncode == 0, res.stderr
    # WASIX does not stop the program (kill succeeds) and sends no SIGCONT: no "continued".
    assert res.stdout == "kill 0\n"
    assert (work / "after.txt").read_text() == "still running"


@pytest.mark.build
def test_the_preparing_line_is_erased_on_a_terminal(files_prog, tmp_path):
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "WASIX_"))}
    env.update(PYTHONPATH=str(files_prog), WASIX_RUNTIME="sdk", WASIX_WHEELS_CACHE=str(tmp_path / "fresh-cache"))
    proc = subprocess.Popen([sys.executable, "-m", "wasix_files", "cwd"], stdin=slave, stdout=slave, stderr=slave,
                            env=env, cwd=tmp_path)  # fmt: skip
    assert proc.wait(timeout=300) == 0
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert b"preparing files (first run)" in out
    assert out.index(b"\r\x1b[K") > out.index(b"preparing")  # erased before the program's output
    assert out.index(b"cwd ") > out.index(b"\r\x1b[K")


@pytest.mark.build
def test_a_wasix_libc_program_sees_host_paths_too(tmp_path, work):
    """The mirror step is linked by the ``wasix`` provider as well (when a sysroot is here)."""
    from wasix_backend.toolchain import driver_bin_dir

    (tmp_path / "files.c").write_text(FILES_C)
    proc = subprocess.run([str(driver_bin_dir() / "wasixcc"), "-O2", "files.c", "-o", "files.wasm"], cwd=tmp_path,
                          env={**os.environ, "WASIXCC_PROVIDER": "wasix"}, capture_output=True, text=True)  # fmt: skip
    if "cannot be used" in proc.stderr:
        pytest.skip(reason=f"no wasix-libc toolchain here: {proc.stderr.strip()[-200:]}")
    assert proc.returncode == 0, proc.stderr
    (tmp_path / "prefix" / "bin").mkdir(parents=True)
    (tmp_path / "prefix" / "bin" / "files.wasm").write_bytes((tmp_path / "files.wasm").read_bytes())
    recipe = recipe_from_dict({"package": {"name": "files", "version": "1"}, "outputs": {"bin": ["files"]}}, plugin="t")
    with zipfile.ZipFile(write_wheel(recipe, tmp_path / "prefix", tmp_path / "wheels")) as zf:
        zf.extractall(tmp_path / "site")
    res = run_prog(tmp_path / "site", work, "cwd", "cat", "sub/deep.txt", "put", str(work / "abs.txt"), "absolute")
    assert res.returncode == 0, res.stderr
    # Wasmer resolves the link on chdir() and wasix-libc asks it for the working directory:
    # getcwd() names the sandbox's copy. Relative and absolute host paths both work.
    assert res.stdout in (f"cwd {work}\ncat sub/deep.txt: deep\n\n", f"cwd {mirror.GUEST_ROOT}{work}\ncat sub/deep.txt: deep\n\n")
    assert (work / "abs.txt").read_text() == "absolute"


# --------------------------------------------------------- the host-side rules alone ---


def test_safe_write_refuses_symlinks_and_keeps_modes(tmp_path):
    base = tmp_path / "base"
    (base / "d").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (base / "esc").symlink_to(tmp_path / "elsewhere")
    (base / "f.txt").write_text("old")
    os.chmod(base / "f.txt", 0o600)
    mirror.safe_write(str(base), ["f.txt"], b"new", b"old")
    assert (base / "f.txt").read_text() == "new" and (base / "f.txt").stat().st_mode & 0o777 == 0o600
    mirror.safe_write(str(base), ["d", "e", "g.txt"], b"deep", None)
    assert (base / "d" / "e" / "g.txt").read_text() == "deep"
    for parts in (["esc", "x.txt"], ["esc"], ["..", "x"], ["d", "..", "x"]):
        with pytest.raises(mirror.Refused):
            mirror.safe_write(str(base), parts, b"no", None)
    with pytest.raises(mirror.Refused, match="not copied"):
        mirror.safe_write(str(base), ["f.txt"], b"blind", None)
    assert list((tmp_path / "elsewhere").iterdir()) == []
    assert sorted(p.name for p in base.iterdir()) == ["d", "esc", "f.txt"]  # no temp files left


@pytest.mark.build
def test_exports_finds_the_mirror_marker(files_prog):
    wasm = next(files_prog.rglob("files.wasm")).read_bytes()
    assert launcher.MIRROR_EXPORT in launcher.exports(wasm)
    assert launcher.exports(b"not wasm") == set()


def test_limits_are_configurable(monkeypatch):
    monkeypatch.setenv("WASIX_MIRROR_MAX_BYTES", "2M")
    monkeypatch.setenv("WASIX_MIRROR_MAX_FILES", "7")
    assert mirror.limits() == (2 << 20, 7)
    monkeypatch.setenv("WASIX_MIRROR_MAX_FILES", "many")
    with pytest.raises(SystemExit, match="WASIX_MIRROR_MAX_FILES"):
        mirror.limits()

