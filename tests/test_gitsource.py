"""Git sources pinned by commit: parsing, the mirror (bundles, repositories), file:// URLs,
refusals, and a C package built from a git commit by the engine and run under Wasmer.

The repositories are real ones the tests make with the real git; the user's git config is
never read or written (every command runs with GIT_CONFIG_GLOBAL=/dev/null).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import textwrap
from pathlib import Path

import pytest
from conftest import write_plugin

from wasix_backend import gitsource, paths
from wasix_backend.cli import main
from wasix_backend.errors import FetchError, RecipeError
from wasix_backend.recipe import Source, recipe_from_dict
from wasix_backend.runtime import run
from wasix_backend.store import build_key

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

CRABSAY_REV = "2ed8af9b16dc1e8d04851b62314e878536112ca9"
#: A URL nothing answers on: a file:// path that does not exist (no network involved).
NOWHERE = "file:///nonexistent/wasix-test/repo.git"

_GIT_ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
}
_IDENT = ["-c", "user.name=wasix test", "-c", "user.email=test@example.invalid"]


def git(*args: str, cwd: Path) -> str:
    out = subprocess.run(
        ["git", *_IDENT, *args], cwd=cwd, env=_GIT_ENV, check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


def make_repo(path: Path, *commits: dict[str, str]) -> list[str]:
    """A non-bare repository with one commit per dict (files written, all added); the ids."""
    path.mkdir(parents=True)
    git("init", "--quiet", "--initial-branch=main", ".", cwd=path)
    revs = []
    for i, files in enumerate(commits):
        for name, text in files.items():
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            (path / name).write_text(text)
            if name.endswith(".sh"):
                (path / name).chmod(0o755)
        git("add", "--all", cwd=path)
        git("commit", "--quiet", "-m", f"commit {i}", cwd=path)
        revs.append(git("rev-parse", "HEAD", cwd=path))
    return revs


def make_bundle(repo: Path, rev: str, dest: Path) -> Path:
    """A bundle of ``rev`` made the way the error message tells users to."""
    git("branch", "--force", "wasix-pin", rev, cwd=repo)
    git("bundle", "create", "--quiet", str(dest), "wasix-pin", cwd=repo)
    return dest


FILES = {
    "hello.c": '#include <stdio.h>\nint main(void) { puts("v1"); return 0; }\n',
    "run.sh": "#!/bin/sh\necho hi\n",
    # Export rules must not apply: the commit's files are written exactly.
    ".gitattributes": "secret.txt export-ignore\nstamp.txt export-subst\n",
    "secret.txt": "kept\n",
    "stamp.txt": "$Format:%H$\n",
    "sub/dir/data.txt": "nested\n",
}


@pytest.fixture
def upstream(tmp_path: Path):
    """A repository with two commits; the test's pin is the first (not the branch tip)."""
    repo = tmp_path / "upstream" / "demo"
    second = dict(FILES, **{"hello.c": FILES["hello.c"].replace("v1", "v2")})
    revs = make_repo(repo, FILES, second)
    return type("Upstream", (), {"repo": repo, "rev": revs[0], "tip": revs[1]})


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "gitcache"


def assert_tree_is_the_commit(tree: Path) -> None:
    found = sorted(str(p.relative_to(tree)) for p in tree.rglob("*") if p.is_file())
    assert found == sorted(FILES)
    for name, text in FILES.items():
        assert (tree / name).read_text() == text, name
    assert os.stat(tree / "run.sh").st_mode & stat.S_IXUSR
    assert not os.stat(tree / "hello.c").st_mode & stat.S_IXUSR


# --- recipes ---------------------------------------------------------------------------


def recipe(**source: object):
    return recipe_from_dict(
        {
            "package": {"name": "demo", "version": "1.0"},
            "source": [source],
            "outputs": {"bin": ["demo"]},
        },
        plugin="test-demo",
    )


def test_git_source_parses() -> None:
    [src] = recipe(
        git="https://example.invalid/demo.git", rev=CRABSAY_REV.upper(), subdir="x"
    ).sources
    assert (src.is_git, src.git, src.rev, src.subdir) == (
        True,
        "https://example.invalid/demo.git",
        CRABSAY_REV,
        "x",
    )
    assert src.sha256 == "" and src.repo_name == "demo"
    assert src.filename == f"demo-{CRABSAY_REV}.bundle"
    [sha256_repo] = recipe(git="git@example.invalid:o/demo", rev="ab" * 32).sources
    assert sha256_repo.rev == "ab" * 32


@pytest.mark.parametrize(
    ("source", "field", "words"),
    [
        ({"git": "https://example.invalid/d", "rev": "main"}, "source[0].rev", "branch"),
        ({"git": "https://example.invalid/d", "rev": "v1.0"}, "source[0].rev", "not a pin"),
        (
            {"git": "https://example.invalid/d", "rev": CRABSAY_REV[:12]},
            "source[0].rev",
            "full commit id",
        ),
        ({"git": "https://example.invalid/d"}, "source[0].rev", "needs `rev`"),
        ({"rev": CRABSAY_REV}, "source[0].git", "needs `git`"),
        (
            {"git": "https://example.invalid/d", "rev": CRABSAY_REV, "sha256": "a" * 64},
            "source[0]",
            "not both",
        ),
        (
            {"git": "ext::sh -c touch% /tmp/pwned", "rev": CRABSAY_REV},
            "source[0].git",
            "not a repository URL",
        ),
        (
            {"git": "https://example.invalid/d", "rev": CRABSAY_REV, "url": "https://x/y.tgz"},
            "source[0].url",
            "archives",
        ),
        (
            {"git": "https://example.invalid/d", "rev": CRABSAY_REV, "strip": 0},
            "source[0].strip",
            "archives",
        ),
        (
            {"git": "https://example.invalid/d", "rev": CRABSAY_REV, "subdir": "../up"},
            "source[0].subdir",
            "relative",
        ),
    ],
)
def test_bad_git_sources_are_refused_naming_plugin_and_field(
    source: dict, field: str, words: str
) -> None:
    with pytest.raises(RecipeError) as info:
        recipe(**source)
    assert info.value.plugin == "test-demo" and info.value.field == field
    assert words in info.value.problem


def test_store_key_follows_the_commit_not_the_url() -> None:
    def key(url: str, rev: str) -> str:
        return build_key(recipe(git=url, rev=rev), toolchain="t", plugin={}, code={}, deps={})

    base = key("https://example.invalid/d", CRABSAY_REV)
    assert key("https://elsewhere.invalid/mirror/d.git", CRABSAY_REV) == base
    assert key("https://example.invalid/d", "1" * 40) != base


def test_an_archive_source_is_keyed_by_its_pin_not_where_it_comes_from() -> None:
    src = Source(sha256="a" * 64, urls=("https://example.invalid/d-1.tar.gz",), subdir="s", strip=2)
    assert src.canonical() == {"sha256": "a" * 64, "subdir": "s", "strip": 2}
    moved = Source(
        sha256="a" * 64,
        urls=("https://mirror.invalid/x.tgz",),
        file="d_1.orig.tar.gz",
        debian="d",
        subdir="s",
        strip=2,
    )
    assert moved.canonical() == src.canonical()
    assert src.describe()["urls"] == ["https://example.invalid/d-1.tar.gz"]


def test_crabsay_is_pinned_by_commit() -> None:
    from wasix_backend.plugins import load_plugins

    crabsay_dir = paths.builtin_plugins_dir() / "crabsay"
    assert not (crabsay_dir / "plugin.py").exists()  # a plain recipe: no hash from the environment
    loaded = load_plugins(entry_points=False)
    [src] = loaded.recipes["crabsay"].sources
    assert (src.git, src.rev) == ("https://github.com/Zaechus/crabsay", CRABSAY_REV)
    assert loaded.recipes["crabsay"].build_system == "cargo"


# --- fetching --------------------------------------------------------------------------


def test_from_a_mirror_bundle(upstream, tmp_path: Path, cache: Path) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    make_bundle(upstream.repo, upstream.rev, mirror / f"demo-{upstream.rev}.bundle")
    src = Source(git=NOWHERE, rev=upstream.rev)
    out = gitsource.export_git_source(
        src, tmp_path / "out", package="demo", mirror=mirror, cache_dir=cache
    )
    assert_tree_is_the_commit(out)
    # The bundle is not needed again: the commit stays in the cache repository.
    (mirror / f"demo-{upstream.rev}.bundle").unlink()
    again = gitsource.export_git_source(
        src, tmp_path / "again", package="demo", mirror=mirror, cache_dir=cache
    )
    assert_tree_is_the_commit(again)


def _no_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A PATH without git (the bundle was made with the real one before)."""
    empty = tmp_path / "no-git-bin"
    empty.mkdir(exist_ok=True)
    monkeypatch.setenv("PATH", str(empty))


def test_without_git_a_mirror_bundle_is_read_in_python(
    upstream, tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    make_bundle(upstream.repo, upstream.rev, mirror / f"demo-{upstream.rev}.bundle")
    with_git = gitsource.export_git_source(
        Source(git=NOWHERE, rev=upstream.rev),
        tmp_path / "git",
        package="demo",
        mirror=mirror,
        cache_dir=cache,
    )
    _no_git(monkeypatch, tmp_path)
    out = gitsource.export_git_source(
        Source(git=NOWHERE, rev=upstream.rev),
        tmp_path / "out",
        package="demo",
        mirror=mirror,
        cache_dir=tmp_path / "unused",
    )
    assert_tree_is_the_commit(out)
    assert not (tmp_path / "unused").exists()  # no cache repository: git was not run
    # The files as git archive writes them: same bytes, modes and (commit) times.
    for path in with_git.rglob("*"):
        twin = out / path.relative_to(with_git)
        assert (twin.read_bytes(), twin.stat().st_mode, int(twin.stat().st_mtime)) == (
            path.read_bytes(), path.stat().st_mode, int(path.stat().st_mtime)) if path.is_file() else twin.is_dir()  # fmt: skip
    # A bundle named for the tip that holds only the pinned commit: an error, nothing written.
    shutil.copy(mirror / f"demo-{upstream.rev}.bundle", mirror / f"demo-{upstream.tip}.bundle")
    with pytest.raises(FetchError, match="does not hold the commit"):
        gitsource.export_git_source(
            Source(git=NOWHERE, rev=upstream.tip), tmp_path / "tip", package="demo", mirror=mirror
        )
    assert not (tmp_path / "tip").exists()


def test_without_git_a_damaged_bundle_is_an_error_not_a_tree(
    upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    bundle = make_bundle(upstream.repo, upstream.rev, mirror / f"demo-{upstream.rev}.bundle")
    data = bytearray(bundle.read_bytes())
    data[-40] ^= 0xFF  # inside the pack's last object
    bundle.write_bytes(bytes(data))
    _no_git(monkeypatch, tmp_path)
    with pytest.raises(FetchError, match="demo"):
        gitsource.export_git_source(
            Source(git=NOWHERE, rev=upstream.rev), tmp_path / "out", package="demo", mirror=mirror
        )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("layout", ["clone", "bare"])
def test_from_a_mirror_repository(upstream, tmp_path: Path, cache: Path, layout: str) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    if layout == "clone":
        shutil.copytree(upstream.repo, mirror / "demo")
    else:
        git(
            "clone", "--quiet", "--bare", str(upstream.repo), str(mirror / "demo.git"), cwd=tmp_path
        )
    # The package is called differently: the repository's name from the URL finds it too.
    src = Source(git="file:///nonexistent/elsewhere/demo.git", rev=upstream.rev)
    out = gitsource.export_git_source(
        src, tmp_path / "out", package="demo-pkg", mirror=mirror, cache_dir=cache
    )
    assert_tree_is_the_commit(out)


def test_from_a_file_url(upstream, tmp_path: Path, cache: Path) -> None:
    src = Source(git=upstream.repo.as_uri(), rev=upstream.rev)
    out = gitsource.export_git_source(
        src, tmp_path / "out", package="demo", mirror=None, cache_dir=cache
    )
    assert_tree_is_the_commit(out)
    assert "v2" not in (out / "hello.c").read_text()  # the pin, not the branch tip
    shutil.rmtree(upstream.repo)  # upstream gone: the cache still has the commit
    again = gitsource.export_git_source(
        src, tmp_path / "again", package="demo", mirror=None, cache_dir=cache
    )
    assert_tree_is_the_commit(again)


def test_a_commit_that_is_nowhere_is_an_error_saying_what_to_do(
    upstream, tmp_path: Path, cache: Path
) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    absent = "0123456789abcdef0123456789abcdef01234567"
    make_bundle(upstream.repo, upstream.rev, mirror / f"demo-{absent}.bundle")  # mislabelled
    src = Source(git=upstream.repo.as_uri(), rev=absent)
    with pytest.raises(FetchError) as info:
        gitsource.export_git_source(
            src, tmp_path / "out", package="demo", mirror=mirror, cache_dir=cache
        )
    text = str(info.value)
    assert text.startswith(f"demo: could not get commit {absent} of {upstream.repo.as_uri()}")
    assert f"mirror bundle {mirror / f'demo-{absent}.bundle'}: commit {absent} is not there" in text
    assert "not our ref" in text  # git's own reason from the repository
    assert f"git bundle create demo-{absent}.bundle" in text and str(mirror) in text
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_unreachable_repository_and_no_mirror(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WASIX_MIRROR", raising=False)
    src = Source(git=NOWHERE, rev=CRABSAY_REV)
    with pytest.raises(FetchError) as info:
        gitsource.fetch_git_source(src, package="demo", cache_dir=cache)
    text = str(info.value)
    assert "mirror: $WASIX_MIRROR is not set" in text
    assert f"{NOWHERE}: fatal:" in text
    assert "a directory named by $WASIX_MIRROR" in text


def test_a_tag_id_is_refused_naming_its_commit(upstream, tmp_path: Path, cache: Path) -> None:
    git("tag", "--annotate", "-m", "release", "v1", upstream.rev, cwd=upstream.repo)
    tag_id = git("rev-parse", "v1", cwd=upstream.repo)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    git(
        "bundle",
        "create",
        "--quiet",
        str(mirror / f"demo-{tag_id}.bundle"),
        "v1",
        cwd=upstream.repo,
    )
    with pytest.raises(FetchError) as info:
        gitsource.fetch_git_source(
            Source(git=NOWHERE, rev=tag_id), package="demo", mirror=mirror, cache_dir=cache
        )
    assert (
        f"{tag_id} is a tag object, not a commit (pin the commit it points to: rev = '{upstream.rev}')"
        in str(info.value)
    )


def test_a_corrupt_bundle_is_reported_and_the_next_place_used(
    upstream, tmp_path: Path, cache: Path
) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / f"demo-{upstream.rev}.bundle").write_bytes(b"# v2 git bundle\nnot really\n")
    src = Source(git=upstream.repo.as_uri(), rev=upstream.rev)
    out = gitsource.export_git_source(
        src, tmp_path / "out", package="demo", mirror=mirror, cache_dir=cache
    )
    assert_tree_is_the_commit(out)


def test_bundle_source_round_trip(
    upstream, tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # First fetched shallowly from the repository, then bundled (as an sdist does) ...
    monkeypatch.delenv("WASIX_MIRROR", raising=False)
    monkeypatch.setenv("WASIX_CACHE", str(tmp_path / "cache1"))
    src = Source(git=upstream.repo.as_uri(), rev=upstream.rev)
    bundle = gitsource.bundle_source(src, "demo", tmp_path / "sources")
    assert bundle == tmp_path / "sources" / f"demo-{upstream.rev}.bundle"
    assert [p.name for p in (tmp_path / "sources").iterdir()] == [bundle.name]
    # ... the bundle alone, as the mirror, rebuilds the tree with the repository gone.
    shutil.rmtree(upstream.repo)
    out = gitsource.export_git_source(
        src, tmp_path / "out", package="demo", mirror=tmp_path / "sources", cache_dir=cache
    )
    assert_tree_is_the_commit(out)


# --- the engine ------------------------------------------------------------------------

PROGRAM_C = """\
#include <stdio.h>
#include "greeting.h"
int main(int argc, char **argv) { printf("%s, %s\\n", GREETING, argc > 1 ? argv[1] : "wasm"); return 0; }
"""
MAKEFILE = (
    "gitdemo: main.c greeting.h\n\t$(CC) $(CPPFLAGS) $(CFLAGS) -o gitdemo main.c $(LDFLAGS)\n"
)


@pytest.mark.build
def test_engine_builds_a_package_from_a_git_commit(
    tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    repo = tmp_path / "upstream" / "gitdemo"
    files = {
        "main.c": PROGRAM_C,
        "Makefile": MAKEFILE,
        "greeting.h": '#define GREETING "hello from git"\n',
    }
    pinned, _tip = make_repo(repo, files, {"greeting.h": '#define GREETING "not the pin"\n'})
    monkeypatch.delenv("WASIX_MIRROR", raising=False)
    monkeypatch.chdir(tmp_path)
    plugins = tmp_path / "plugins"
    write_plugin(
        plugins,
        "gitdemo",
        textwrap.dedent(f"""\
        [package]
        name = "gitdemo"
        version = "1.0"
        description = "a C program from a git commit"
        license = "MIT"

        [[source]]
        git = "{repo.as_uri()}"
        rev = "{pinned}"

        [build]
        system = "make"

        [outputs]
        bin = ["gitdemo"]
        """),
    )
    src = Source(git=repo.as_uri(), rev=pinned)
    try:
        assert main(["build", "--plugin-dir", str(plugins), "gitdemo"]) == 0, (
            capsys.readouterr().err
        )
        result = run(tmp_path / "dist" / "bin" / "gitdemo.wasm", ["tests"])
        assert (result.exit_code, result.text) == (0, "hello from git, tests\n")
    finally:
        shutil.rmtree(gitsource.cache_repo(src), ignore_errors=True)  # it lives in the user cache
        Path(str(gitsource.cache_repo(src)) + ".lock").unlink(missing_ok=True)
