"""Wheels carrying .wasm: layout, RECORD, metadata, determinism, and a real pip install."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import venv
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from test_wasmer_pkg import TOOL_BUILDS, compile_tool, tool_of  # the shared C test program

from wasix_backend import fsutil
from wasix_backend.errors import WasixError
from wasix_backend.outputs import wheel as wheel_mod
from wasix_backend.outputs.index import write_index
from wasix_backend.outputs.wheel import dist_name, import_name, write_wheel
from wasix_backend.recipe import recipe_from_dict


@pytest.fixture(scope="session")
def tool_wasm(provider: str, provider_env) -> Path:
    """The tool compiled by each provider: what the installed wheels run."""
    return compile_tool(provider_env(provider))


@pytest.fixture(scope="session", params=TOOL_BUILDS)
def any_tool(request: pytest.FixtureRequest) -> Path:
    """The tool for the writer's own tests: prebuilt (unit tier), then each provider's."""
    return tool_of(request)


def make_prefix(root: Path, tool_wasm: Path, names=("hello", "tool")) -> Path:
    (root / "bin").mkdir(parents=True, exist_ok=True)
    for name in names:
        (root / "bin" / f"{name}.wasm").write_bytes(tool_wasm.read_bytes())
    return root


def hello_recipe(name="hello", version="1.2", kind="program"):
    outputs = {"bin": ["hello", "tool"], "commands": {"hello": "hello", "hello-tool": "tool"}}
    return recipe_from_dict(
        {"package": {"name": name, "version": version, "kind": kind, "license": "MIT",
                     "description": "Greets.", "homepage": "https://example.org/hello"},
         "outputs": outputs if kind == "program" else {}},
        plugin="t",
    )


def test_layout_metadata_and_record(tmp_path, any_tool):
    whl = write_wheel(hello_recipe(), make_prefix(tmp_path / "p", any_tool), tmp_path / "wheels")
    assert whl.name == "wasix_hello-1.2-py3-none-any.whl"
    with zipfile.ZipFile(whl) as zf:
        names = zf.namelist()
        assert "wasix_hello/bin/hello.wasm" in names and "wasix_hello/bin/tool.wasm" in names
        assert zf.read("wasix_hello/_launcher.py") == Path(wheel_mod.__file__).with_name("launcher.py").read_bytes()
        meta = Parser().parsestr(zf.read("wasix_hello-1.2.dist-info/METADATA").decode())
        assert meta["Metadata-Version"] == "2.1"
        assert meta["Name"] == "wasix-hello" and meta["Version"] == "1.2"
        assert meta["Summary"] == "Greets." and meta["License"] == "MIT"
        assert meta["Requires-Python"] == ">=3.9"
        assert meta.get_all("Requires-Dist") == ["wasmer-sdk>=0.5; platform_system != 'Windows'"]
        assert meta["Home-page"] == "https://example.org/hello"
        wheel_txt = zf.read("wasix_hello-1.2.dist-info/WHEEL").decode()
        assert "Root-Is-Purelib: true" in wheel_txt and "Tag: py3-none-any" in wheel_txt
        entry = zf.read("wasix_hello-1.2.dist-info/entry_points.txt").decode()
        assert "hello = wasix_hello._launcher:main" in entry
        assert "hello-tool = wasix_hello._launcher:main" in entry
        rows = list(csv.reader(io.StringIO(zf.read("wasix_hello-1.2.dist-info/RECORD").decode())))
        listed = {r[0] for r in rows}
        assert listed == set(names)  # every file, nothing else
        for path, digest, size in rows:
            if path.endswith("/RECORD"):
                assert (digest, size) == ("", "")
                continue
            data = zf.read(path)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert digest == f"sha256={expected}" and int(size) == len(data), path
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in zf.infolist())


def test_deterministic(tmp_path, any_tool):
    prefix = make_prefix(tmp_path / "p", any_tool)
    a = write_wheel(hello_recipe(), prefix, tmp_path / "a").read_bytes()
    b = write_wheel(hello_recipe(), prefix, tmp_path / "b").read_bytes()
    assert a == b


@pytest.mark.parametrize(("name", "dist", "pkg"), [
    ("nano", "wasix-nano", "wasix_nano"),
    ("my.tool_x", "wasix-my-tool-x", "wasix_my_tool_x"),
    ("ncurses-utils", "wasix-ncurses-utils", "wasix_ncurses_utils"),
])
def test_name_normalization(name, dist, pkg):
    recipe = recipe_from_dict({"package": {"name": name, "version": "1"}, "outputs": {"bin": ["x"]}}, plugin="t")
    assert dist_name(recipe) == dist and import_name(recipe) == pkg
    assert wheel_mod.wheel_filename(recipe) == f"{pkg}-1-py3-none-any.whl"


def test_normalization_of_mixed_case():
    from packaging.utils import canonicalize_name

    # recipe names are lower-case already; the same rule turns "Wasix_Nano" into "wasix-nano"
    assert canonicalize_name("Wasix_Nano") == "wasix-nano"


def test_library_is_a_clear_error(tmp_path):
    lib = hello_recipe(name="ncurses", kind="library")
    with pytest.raises(WasixError, match="ncurses is a library; wheels are made for programs"):
        write_wheel(lib, tmp_path, tmp_path / "wheels")
    assert not (tmp_path / "wheels").exists() or not list((tmp_path / "wheels").iterdir())


def test_failed_write_leaves_the_old_wheel(tmp_path, any_tool, monkeypatch):
    prefix = make_prefix(tmp_path / "p", any_tool)
    whl = write_wheel(hello_recipe(), prefix, tmp_path / "w")
    before = whl.read_bytes()
    (prefix / "bin" / "tool.wasm").write_bytes(b"changed")
    monkeypatch.setattr(fsutil.os, "replace", lambda *a: (_ for _ in ()).throw(OSError("no space")))
    with pytest.raises(OSError, match="no space"):
        write_wheel(hello_recipe(), prefix, tmp_path / "w")
    assert whl.read_bytes() == before
    assert [p.name for p in (tmp_path / "w").iterdir()] == [whl.name]


def test_data_travels_in_the_wheel_and_the_launcher_shows_it_at_its_guest_path(tmp_path, any_tool):
    """[outputs] data reaches the program from the wheel as from the Wasmer package: a figlet
    built to read /usr/share/figlet finds its fonts there."""
    prefix = make_prefix(tmp_path / "p", any_tool)
    (prefix / "share" / "hello" / "fonts").mkdir(parents=True)
    (prefix / "share" / "hello" / "fonts" / "big.flf").write_text("big font\n")
    (prefix / "etc").mkdir()
    (prefix / "etc" / "hello.conf").write_text("conf\n")
    recipe = recipe_from_dict(
        {"package": {"name": "hello", "version": "1.2"},
         "outputs": {"bin": ["hello", "tool"], "commands": {"hello": "hello", "hello-tool": "tool"},
                     "data": {"/usr/share/hello": "share/hello", "/etc/hello.rc": "etc/hello.conf"}}},
        plugin="t")  # fmt: skip
    whl = write_wheel(recipe, prefix, tmp_path / "wheels")
    site = tmp_path / "site"
    with zipfile.ZipFile(whl) as zf:
        names = set(zf.namelist())
        zf.extractall(site)
    assert {"wasix_hello/data/usr/share/hello/fonts/big.flf", "wasix_hello/data/etc/hello.rc"} <= names
    env = {**script_env(tmp_path), "PYTHONPATH": str(site)}
    for path, text in (("/usr/share/hello/fonts/big.flf", "big font\n"), ("/etc/hello.rc", "conf\n")):
        res = subprocess.run([sys.executable, "-m", "wasix_hello", "cat", path], capture_output=True, text=True,
                             env=env, cwd=tmp_path, timeout=300)  # fmt: skip
        assert (res.returncode, res.stdout) == (0, text), res.stderr
    # The wasmer CLI route mounts the same directories (a file through its parent).
    from wasix_backend.outputs import launcher

    meta = json.loads((site / "wasix_hello" / "_commands.json").read_text())
    assert launcher.data_mounts(meta, site / "wasix_hello" / "data") == [
        ("/etc", site / "wasix_hello" / "data" / "etc"), ("/usr/share/hello", site / "wasix_hello" / "data" / "usr" / "share" / "hello")]


def test_missing_data_is_an_error_naming_it(tmp_path, any_tool):
    recipe = recipe_from_dict({"package": {"name": "hello", "version": "1.2"},
                               "outputs": {"bin": ["hello"], "data": {"/usr/share/hello": "share/hello"}}}, plugin="t")
    with pytest.raises(WasixError, match=r"data path 'share/hello' \(guest '/usr/share/hello'\) not found"):
        write_wheel(recipe, make_prefix(tmp_path / "p", any_tool, names=("hello",)), tmp_path / "w")


# --------------------------------------------------------------- a real installation ---


@pytest.fixture(scope="session")
def installed(tmp_path_factory, tool_wasm, runtime_wheelhouse):
    """A fresh venv with wasix-hello installed from our PEP 503 index (file://)."""
    root = tmp_path_factory.mktemp("inst")
    dist = root / "dist"
    write_wheel(hello_recipe(), make_prefix(root / "prefix", tool_wasm), dist / "wheels")
    simple = write_index(dist / "wheels", dist / "simple")
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    res = subprocess.run(
        [str(py), "-m", "pip", "install", "--disable-pip-version-check", "-q",
         "--index-url", simple.as_uri(), "--find-links", str(runtime_wheelhouse), "wasix-hello"],
        capture_output=True, text=True,
    )
    assert res.returncode == 0, res.stderr
    return env_dir


def script_env(tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(WASIX_RUNTIME="sdk", WASIX_WHEELS_CACHE=str(tmp / "cache"))
    return env


@pytest.mark.collection  # a fresh venv and a real pip install
def test_console_scripts_run(installed, tmp_path):
    env = script_env(tmp_path)
    res = subprocess.run([str(installed / "bin" / "hello"), "a", "b"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("hello from ") and res.stdout.endswith(" [a] [b]\n")
    assert "preparing hello (first run)" in res.stderr
    again = subprocess.run([str(installed / "bin" / "hello"), "a"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert "preparing" not in again.stderr  # compiled module cached
    tool = subprocess.run([str(installed / "bin" / "hello-tool"), "exit", "7"], capture_output=True, env=env, cwd=tmp_path)
    assert tool.returncode == 7
    piped = subprocess.run([str(installed / "bin" / "hello"), "echo"], input=b"shout\n", capture_output=True, env=env, cwd=tmp_path)
    assert piped.stdout == b"SHOUT\n"


@pytest.mark.collection  # a fresh venv and a real pip install
def test_files_are_copied_in_and_written_back(installed, tmp_path):
    env = script_env(tmp_path)
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    (work / "notes.txt").write_text("edit me\n")
    (work / "keep.txt").write_text("untouched\n")
    os.chmod(work / "notes.txt", 0o640)
    exe = str(installed / "bin" / "hello")
    res = subprocess.run([exe, "upcase", "notes.txt"], capture_output=True, text=True, env=env, cwd=work)
    assert (res.returncode, res.stdout) == (0, "upcased 8 bytes\n"), res.stderr
    assert (work / "notes.txt").read_text() == "EDIT ME\n"
    assert (work / "notes.txt").stat().st_mode & 0o777 == 0o640
    # a new file, in a sub-directory, and an absolute path outside the working directory
    subprocess.run([exe, "new", "sub/new.txt", "fresh"], check=True, env=env, cwd=work)
    assert (work / "sub" / "new.txt").read_text() == "fresh"
    outside = tmp_path / "outside.txt"
    outside.write_text("far away")
    subprocess.run([exe, "upcase", str(outside)], check=True, capture_output=True, env=env, cwd=work)
    assert outside.read_text() == "FAR AWAY"
    # reading does not rewrite; nothing is ever deleted
    before = (work / "keep.txt").stat().st_mtime_ns
    res = subprocess.run([exe, "cat", "keep.txt"], capture_output=True, text=True, env=env, cwd=work)
    assert res.stdout == "untouched\n"
    assert (work / "keep.txt").stat().st_mtime_ns == before
    assert sorted(p.name for p in work.iterdir()) == ["keep.txt", "notes.txt", "sub"]


@pytest.mark.collection  # a fresh venv and a real pip install
def test_terminal_is_restored(installed, tmp_path):
    """Under a pseudo-terminal the launcher goes raw and puts the terminal back."""
    pty = pytest.importorskip("pty")
    import termios

    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    proc = subprocess.Popen([str(installed / "bin" / "hello"), "tty"], stdin=slave, stdout=slave,
                            stderr=slave, env=script_env(tmp_path), cwd=tmp_path)
    assert proc.wait(timeout=120) == 0
    out = b""
    while True:
        import select

        if not select.select([master], [], [], 0.5)[0]:
            break
        chunk = os.read(master, 4096)
        if not chunk:
            break
        out += chunk
    assert b"hello from" in out and b"[tty]" in out
    assert termios.tcgetattr(slave) == before
    os.close(master)
    os.close(slave)
