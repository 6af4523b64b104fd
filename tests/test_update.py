"""``wasix-build update`` against a real HTTP server on 127.0.0.1 serving a release listing."""

from __future__ import annotations

import json
import textwrap
import tomllib
from pathlib import Path

import pytest
from conftest import make_tarball, write_plugin
from httpserver import serve

from wasix_backend.plugins import load_plugins
from wasix_backend.runtime import run
from wasix_backend.update import updatable

FOO_C = '#include <stdio.h>\nint main(void) { puts("foo VERSION"); return 0; }\n'
FOO_MK = "foo: foo.c\n\t$(CC) $(CFLAGS) -o foo foo.c\n"
LISTING = """\
<html><body><h1>Index of /foo/</h1>
<a href="foo-1.0.tar.gz">foo-1.0.tar.gz</a>
<a href="foo-1.2.tar.gz">foo-1.2.tar.gz</a>
<a href="foo-1.9.tar.gz">foo-1.9.tar.gz</a>
<a href="foo-1.10.tar.gz">foo-1.10.tar.gz</a>   <!-- newest: 1.10 > 1.9, not as text -->
<a href="foo-2.0rc1.tar.gz">foo-2.0rc1.tar.gz</a> <!-- a pre-release: ignored -->
<a href="foo-1.10.tar.gz.sig">signature</a>
</body></html>
"""


def recipe(base: str, sha: str) -> str:
    return textwrap.dedent(f"""\
        # foo: a test package. This comment must survive an update.

        [package]
        name = "foo"
        version = "1.2"   # the pinned release
        kind = "program"
        description = "prints its version"

        # Where it comes from.
        [[source]]
        url = "{base}/foo/foo-1.2.tar.gz"
        sha256 = "{sha}"  # sha256sum of the archive

        [build]
        system = "make"

        [outputs]
        bin = ["foo"]

        [update]
        # The listing of releases; group 1 of the regex is the version.
        listing = "{base}/foo/"
        regex = 'foo-([0-9.]+[0-9a-z]*)\\.tar\\.gz"'
        url-template = "{base}/foo/foo-{{version}}.tar.gz"
        """)


@pytest.fixture
def upstream(tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch):
    root = tmp_path / "upstream"
    shas = {}
    for version in ("1.2", "1.10"):
        shas[version] = make_tarball(root / "foo" / f"foo-{version}.tar.gz", f"foo-{version}",
                                     {"foo.c": FOO_C.replace("VERSION", version), "Makefile": FOO_MK})
    (root / "foo" / "index.html").write_text(LISTING)
    monkeypatch.chdir(tmp_path)
    with serve(root) as srv:
        plugins = tmp_path / "plugins"
        write_plugin(plugins, "foo", recipe(srv.url, shas["1.2"]))
        yield type("Upstream", (), {"root": root, "server": srv, "plugins": plugins, "shas": shas,
                                    "recipe": plugins / "foo" / "recipe.toml"})


def test_check_reports_and_changes_nothing(upstream, wb, capsys) -> None:
    before = upstream.recipe.read_bytes()
    capsys.readouterr()
    assert wb("update", "foo", "--check", "--plugin-dir", str(upstream.plugins)) == 0
    out = capsys.readouterr().out
    assert "foo: 1.10 is available (recipe has 1.2)" in out
    assert upstream.recipe.read_bytes() == before
    assert "/foo/foo-1.10.tar.gz" not in upstream.server.requests  # nothing downloaded


def test_update_rewrites_version_url_and_sha_keeping_comments(upstream, wb, capsys) -> None:
    before = upstream.recipe.read_text()
    assert wb("update", "foo", "--plugin-dir", str(upstream.plugins)) == 0
    assert "foo: 1.2 -> 1.10" in capsys.readouterr().out
    after = upstream.recipe.read_text()
    data = tomllib.loads(after)
    assert data["package"]["version"] == "1.10"
    assert data["source"][0]["url"] == upstream.server.url_for("foo/foo-1.10.tar.gz")
    assert data["source"][0]["sha256"] == upstream.shas["1.10"]
    # Only the three pinned values changed; every comment and the layout stayed.
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
    assert len(changed) == 3
    assert 'version = "1.10"   # the pinned release' in after
    assert f'sha256 = "{upstream.shas["1.10"]}"  # sha256sum of the archive' in after
    for comment in ("# foo: a test package. This comment must survive an update.", "# Where it comes from.",
                    "# The listing of releases; group 1 of the regex is the version."):
        assert comment in after
    assert not list(upstream.recipe.parent.glob(".recipe.toml.*"))  # no temp file left
    # A second run finds nothing newer.
    assert wb("update", "foo", "--plugin-dir", str(upstream.plugins)) == 0
    assert "foo: 1.10 is the newest" in capsys.readouterr().out


@pytest.mark.build
def test_the_updated_pin_builds_without_downloading_again(upstream, wb, capsys) -> None:
    assert wb("update", "foo", "--plugin-dir", str(upstream.plugins)) == 0
    downloads = upstream.server.requests.count("/foo/foo-1.10.tar.gz")
    capsys.readouterr()
    assert wb("build", "foo", "--plugin-dir", str(upstream.plugins), "--json") == 0
    assert json.loads(capsys.readouterr().out)["packages"][0]["version"] == "1.10"
    assert upstream.server.requests.count("/foo/foo-1.10.tar.gz") == downloads  # pinned into the cache
    assert run(Path("dist/bin/foo.wasm")).text == "foo 1.10\n"


def test_listing_unreachable_names_the_package(upstream, wb, capsys) -> None:
    text = upstream.recipe.read_text().replace(f'listing = "{upstream.server.url}/foo/"', 'listing = "http://127.0.0.1:9/foo/"')
    upstream.recipe.write_text(text)
    assert wb("update", "foo", "--plugin-dir", str(upstream.plugins)) == 1
    err = capsys.readouterr().err
    assert "foo: the release listing is unreachable" in err and "127.0.0.1:9" in err
    assert upstream.recipe.read_text() == text


def test_no_versions_found_names_the_package_and_regex(upstream, wb, capsys) -> None:
    text = upstream.recipe.read_text().replace("regex = 'foo-", "regex = 'bar-")
    upstream.recipe.write_text(text)
    assert wb("update", "foo", "--check", "--plugin-dir", str(upstream.plugins)) == 1
    err = capsys.readouterr().err
    assert "foo: no versions found on" in err and "bar-" in err


def test_failed_download_names_the_package_and_changes_nothing(upstream, wb, capsys) -> None:
    (upstream.root / "foo" / "foo-1.10.tar.gz").unlink()
    before = upstream.recipe.read_bytes()
    assert wb("update", "foo", "--plugin-dir", str(upstream.plugins)) == 1
    err = capsys.readouterr().err
    assert "foo 1.10: " in err and "foo-1.10.tar.gz: HTTP 404" in err
    assert upstream.recipe.read_bytes() == before


def test_default_regex_and_only_recipes_with_update_tables(upstream, tmp_path: Path) -> None:
    text = upstream.recipe.read_text()
    # Without `regex`, the template's file name is the pattern.
    upstream.recipe.write_text("\n".join(line for line in text.splitlines() if not line.startswith("regex")) + "\n")
    write_plugin(upstream.plugins, "plain", text.split("[update]")[0].replace('"foo"', '"plain"'))
    loaded = load_plugins([upstream.plugins], builtins=False, entry_points=False)
    assert [r.name for r in updatable(loaded.recipes)] == ["foo"]
    from wasix_backend.update import list_versions

    assert list_versions(loaded.recipes["foo"]) == ["1.10", "1.9", "1.2", "1.0"]

