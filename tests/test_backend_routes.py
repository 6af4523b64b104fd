"""The PEP 517 backend's routes without a compiler: one-line failures, the same plugin whether
built from its folder, its sdist or in editable mode, and an sdist that respects the
plugin's own fetch hook. (The real front-ends and builds: tests/test_plugin_author.py.)"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from conftest import make_tarball, write_plugin
from httpserver import serve

from wasix_backend import pep517
from wasix_backend.errors import WasixError
from wasix_backend.outputs.sdist import engine_pyproject, write_sdist
from wasix_backend.plugins import _plugin_files, load_plugins

PYPROJECT = """\
[build-system]
requires = ["wasix-backend"]
build-backend = "wasix_backend.pep517"

[project]
name = "wasix-demo"
dynamic = ["version", "description"]

[project.entry-points."wasix_backend.plugins"]
demo = "wasix_plugin_demo.plugin"

[tool.wasix-backend]
recipe = "demo"
"""


def recipe(url: str, sha: str) -> str:
    return f"""\
[package]
name = "demo"
version = "1.0"

[[source]]
url = "{url}"
sha256 = "{sha}"

[build]
system = "make"

[outputs]
bin = ["demo"]
"""


def plugin_folder(root: Path, url: str = "http://127.0.0.1:9/demo-1.0.tar.gz", sha: str = "0" * 64,
                  plugin_py: str = "") -> Path:  # fmt: skip
    folder = write_plugin(root, "demo", recipe(url, sha), plugin_py or None)
    (folder / "pyproject.toml").write_text(PYPROJECT)
    (folder / "tools").mkdir()
    (folder / "tools" / "table.txt").write_text("a b\n")
    return folder


def test_a_backend_failure_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    """What pip and build show: the message, exit status 1, no traceback."""
    code = "from wasix_backend import pep517; pep517.build_wheel('out', {'colour': 'blue'})"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr == "wasix-backend: error: config_settings 'colour' not understood (known: provider, jobs, store)\n"
    with pytest.raises(WasixError, match="'colour' not understood"):  # still a WasixError to Python callers
        pep517.build_wheel("out", {"colour": "blue"})


def test_a_wheel_built_from_the_sdist_carries_the_folders_files_only(tmp_path: Path) -> None:
    """A wheel from the sdist was 20 times the size: the bundled sources went into it."""
    folder = plugin_folder(tmp_path / "a")
    unpacked = plugin_folder(tmp_path / "b")
    (unpacked / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: wasix-demo\nVersion: 1.0\n")
    (unpacked / "sources").mkdir()
    (unpacked / "sources" / "demo-1.0.tar.gz").write_bytes(b"\0" * 4096)
    (unpacked / "_backend" / "wasix_backend").mkdir(parents=True)
    (unpacked / "_backend" / "wasix_backend" / "pep517.py").write_text("")
    files, eps = pep517._plugin_payload(folder)
    assert pep517._plugin_payload(unpacked) == (files, eps)
    assert sorted(files) == ["wasix_plugin_demo/__init__.py", "wasix_plugin_demo/recipe.toml", "wasix_plugin_demo/tools/table.txt"]
    # …and the same store key: the plugin's files are the folder's.
    assert [p.relative_to(unpacked) for p in sorted(_plugin_files(unpacked))] == \
        [p.relative_to(folder) for p in sorted(_plugin_files(folder))]  # fmt: skip


def test_the_editable_wheel_points_at_the_folder(tmp_path: Path) -> None:
    folder = plugin_folder(tmp_path)
    files, eps = pep517._plugin_payload(folder, editable=True)
    assert eps == {"demo": "wasix_plugin_demo.plugin"}
    assert list(files) == ["wasix_plugin_demo/__init__.py"]
    namespace: dict[str, object] = {}
    exec(files["wasix_plugin_demo/__init__.py"].decode(), namespace)
    assert namespace["__path__"] == [str(folder)]


OWN_FETCH = """\
from wasix_backend import hookimpl

@hookimpl
def wasix_fetch(ctx):
    (ctx.source_dir / "Makefile").parent.mkdir(parents=True, exist_ok=True)
    return True
"""


def test_the_sdist_leaves_a_source_to_the_plugins_own_fetch_hook(tmp_path: Path, store: Path, capsys) -> None:
    with serve(tmp_path / "empty") as srv:  # the archive is not there: 404
        url = srv.url_for("demo-1.0.tar.gz")
        hooked = plugin_folder(tmp_path / "hooked", url=url, plugin_py=OWN_FETCH)
        loaded = load_plugins([hooked], builtins=False, entry_points=False)
        sdist = write_sdist(loaded, loaded.recipes["demo"], hooked, tmp_path / "out", engine=Path(pep517.__file__).parent)
        assert "demo: source demo-1.0.tar.gz not bundled" in capsys.readouterr().err
        with tarfile.open(sdist) as tar:
            names = tar.getnames()
        assert "wasix_demo-1.0/plugin.py" in names and "wasix_demo-1.0/_backend/wasix_backend/_data/pyproject.toml" in names
        assert not [n for n in names if n.startswith("wasix_demo-1.0/sources/") and n != "wasix_demo-1.0/sources"]

        plain = plugin_folder(tmp_path / "plain", url=url)
        loaded = load_plugins([plain], builtins=False, entry_points=False)
        with pytest.raises(WasixError, match=r"demo: cannot bundle its source demo-1\.0\.tar\.gz into the sdist"):
            write_sdist(loaded, loaded.recipes["demo"], plain, tmp_path / "out2", engine=Path(pep517.__file__).parent)


def test_the_sdist_bundles_what_it_can_fetch_and_refuses_a_folder_with_its_own_sources(tmp_path: Path, store: Path) -> None:
    sha = make_tarball(tmp_path / "up" / "demo-1.0.tar.gz", "demo-1.0", {"Makefile": "all:\n"})
    with serve(tmp_path / "up") as srv:
        folder = plugin_folder(tmp_path / "p", url=srv.url_for("demo-1.0.tar.gz"), sha=sha)
        loaded = load_plugins([folder], builtins=False, entry_points=False)
        sdist = write_sdist(loaded, loaded.recipes["demo"], folder, tmp_path / "out", engine=Path(pep517.__file__).parent)
        with tarfile.open(sdist) as tar:
            assert "wasix_demo-1.0/sources/demo-1.0.tar.gz" in tar.getnames()
        (folder / "sources").mkdir()
        with pytest.raises(WasixError, match="the plugin folder has sources, which the sdist adds itself"):
            write_sdist(loaded, loaded.recipes["demo"], folder, tmp_path / "out", engine=Path(pep517.__file__).parent)


def test_the_engines_pyproject_is_found_or_written_from_its_metadata(tmp_path: Path) -> None:
    """An installed wheel of the tool carries _data/pyproject.toml; without it (an older
    install) one is written from the installed metadata instead of a FileNotFoundError."""
    import tomllib

    engine = Path(pep517.__file__).parent
    assert tomllib.loads(engine_pyproject(engine).decode())["project"]["name"] == "wasix-backend"
    bare = tmp_path / "site" / "wasix_backend"
    bare.mkdir(parents=True)
    written = tomllib.loads(engine_pyproject(bare).decode())["project"]
    assert written["name"] == "wasix-backend" and any(d.startswith("pluggy") for d in written["dependencies"])
