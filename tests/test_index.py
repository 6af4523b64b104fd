"""PEP 503 simple index written from a wheel directory."""

from __future__ import annotations

import hashlib
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_wasmer_pkg import PREBUILT_TOOL  # the shared C test program (tests/ is on sys.path)

from wasix_backend.errors import WasixError
from wasix_backend.outputs.index import write_index
from wasix_backend.outputs.wheel import write_wheel
from wasix_backend.recipe import recipe_from_dict


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs.append(dict(attrs)["href"])


def links(page: Path) -> list[str]:
    p = Links()
    p.feed(page.read_text())
    return p.hrefs


@pytest.fixture(scope="session")
def wheels(tmp_path_factory) -> Path:
    tool = PREBUILT_TOOL
    root = tmp_path_factory.mktemp("idx")
    (root / "prefix/bin").mkdir(parents=True)
    (root / "prefix/bin/x.wasm").write_bytes(tool.read_bytes())
    out = root / "wheels"
    for name, version in (("hello", "1.0"), ("hello", "1.1"), ("my.tool_x", "2")):
        recipe = recipe_from_dict({"package": {"name": name, "version": version}, "outputs": {"bin": ["x"]}}, plugin="t")
        write_wheel(recipe, root / "prefix", out)
    return out


def test_index_layout(tmp_path, wheels):
    simple = write_index(wheels, tmp_path / "simple")
    assert links(simple / "index.html") == ["wasix-hello/", "wasix-my-tool-x/"]
    hrefs = links(simple / "wasix-hello" / "index.html")
    assert [h.split("#")[0] for h in hrefs] == ["wasix_hello-1.0-py3-none-any.whl", "wasix_hello-1.1-py3-none-any.whl"]
    for href in hrefs + links(simple / "wasix-my-tool-x" / "index.html"):
        fname, frag = href.split("#")
        assert "/" not in fname  # relative to the project page: works over file://
        project_dir = next(p for p in simple.iterdir() if (p / fname).exists())
        data = (project_dir / fname).read_bytes()
        assert data == (wheels / fname).read_bytes()
        assert frag == "sha256=" + hashlib.sha256(data).hexdigest()
    assert re.search(r'<meta name="pypi:repository-version" content="1.0">', (simple / "index.html").read_text())


def test_rewrite_is_atomic_and_drops_removed_projects(tmp_path, wheels):
    simple = write_index(wheels, tmp_path / "simple")
    only = tmp_path / "only"
    only.mkdir()
    (only / "wasix_hello-1.1-py3-none-any.whl").write_bytes((wheels / "wasix_hello-1.1-py3-none-any.whl").read_bytes())
    write_index(only, simple)
    assert links(simple / "index.html") == ["wasix-hello/"]
    assert not (simple / "wasix-my-tool-x").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["only", "simple"]  # no temp dirs left


def test_bad_wheel_name_is_a_clear_error(tmp_path, wheels):
    simple = write_index(wheels, tmp_path / "simple")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "not-a-wheel.whl").write_bytes(b"")
    with pytest.raises(WasixError, match=r"not-a-wheel\.whl"):
        write_index(bad, simple)
    assert links(simple / "index.html") == ["wasix-hello/", "wasix-my-tool-x/"]  # old index intact


def test_empty_wheel_dir_gives_an_empty_index(tmp_path):
    (tmp_path / "none").mkdir()
    simple = write_index(tmp_path / "none", tmp_path / "simple")
    assert links(simple / "index.html") == []


@pytest.mark.collection  # a fresh venv and a real pip install
def test_printed_install_command_works_as_pasted_in_a_fresh_venv(tmp_path, wheels, capsys):
    """The index step's pip command is complete (no `…`), and pip never looks for the
    wheels' dependency (wasmer-sdk) in our dist/ (pip warns about every place it lacks)."""
    import shlex
    import subprocess

    from wasix_backend.cli import main

    dist = tmp_path / "my dist"  # a space: the command must be quoted to paste
    shutil.copytree(wheels, dist / "wheels")
    capsys.readouterr()
    assert main(["index", "--out", str(dist)]) == 0
    printed = [ln.split("install: ", 1)[1] for ln in capsys.readouterr().err.splitlines() if "install: pip install" in ln]
    assert len(printed) == 2 and all("…" not in c for c in printed)
    command = next(c for c in printed if c.endswith(" wasix-hello"))
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", str(venv)], check=True)
    argv = shlex.split(command)
    assert argv[:2] == ["pip", "install"]
    done = subprocess.run([str(venv / "bin" / "python"), "-m", *argv], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    warnings = [ln for ln in (done.stdout + done.stderr).splitlines() if "WARNING" in ln and str(dist) in ln]
    assert warnings == []
    assert (venv / "bin" / "x").is_file()  # the wheel's console script
    assert "Successfully installed" in done.stdout and "wasix-hello-1.1" in done.stdout
