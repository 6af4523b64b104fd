"""``--executor dask``: a real Dask LocalCluster of two worker processes, each with its own
store, meeting through a file:// binary cache; results byte-identical to a local build, nano
and ncurses included (nothing they compile in names the store that built them)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from cachehelpers import keygen, run_json, solo_c, write_packages

pytestmark = pytest.mark.build  # Dask workers build small packages for real

distributed = pytest.importorskip("distributed", reason="Dask's distributed is not installed (pip install 'wasix-backend[dask]')")

REPO = Path(__file__).resolve().parents[1]
BROKEN_C = "int main(void) { return syntax error }\n"


@pytest.fixture
def cluster_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    plugins = write_packages(tmp_path, extra={"after": (solo_c("after", "after solo"), '"solo"'),
                                              "broken": (BROKEN_C, "")})
    secret, public = keygen(tmp_path / "keys")
    monkeypatch.setenv("WASIX_TRUSTED_KEYS", public)
    monkeypatch.setenv("WASIX_SIGNING_KEY", str(secret))
    monkeypatch.delenv("WASIX_SUBSTITUTERS", raising=False)
    monkeypatch.delenv("WASIX_WORKER_STORE", raising=False)
    # Worker processes import this checkout's code, wherever the test's working directory is.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    monkeypatch.chdir(tmp_path)
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
                                  local_directory=str(tmp_path / "dask")) as cluster:
        address = "dask://" + cluster.scheduler_address.removeprefix("tcp://")
        yield type("Env", (), {"root": tmp_path, "plugins": plugins, "address": address,
                               "cache": (tmp_path / "cache").as_uri()})


def modules(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((out / "bin").glob("*.wasm"))}


def test_dask_build_matches_a_local_one(cluster_env, capsys) -> None:
    env, names = cluster_env, ["hello", "after", "solo"]
    status, rows = run_json("--plugin-dir", str(env.plugins), "build", *names, "--executor", env.address,
                            "--substituter", env.cache, "--store", str(env.root / "client-store"), "--out", "dist-dask")
    err = capsys.readouterr().err
    assert status == 0, err
    assert {n: rows[n]["status"] for n in rows} == dict.fromkeys(["greet", "hello", "solo", "after"], "built"), err
    workers = {line.split(" on ")[1].split()[0] for line in err.splitlines() if " built on " in line}
    assert len(workers) == 2, err  # the two chains' roots start at once, one on each worker
    assert not (env.root / "client-store" / "logs").exists()  # the client compiled nothing
    status, _ = run_json("--plugin-dir", str(env.plugins), "build", *names, "--store", str(env.root / "local-store"),
                         "--out", "dist-local")
    assert status == 0
    assert modules(Path("dist-dask")) == modules(Path("dist-local")) and len(modules(Path("dist-local"))) == 3


@pytest.mark.parametrize("provider", ["wasix"], indirect=True)  # the collection's provider
def test_dask_build_with_nano_matches_a_local_one(cluster_env, built_nano, provider_env, monkeypatch, capsys) -> None:
    env, names = cluster_env, ["hello", "after", "solo", "nano"]
    # The provider and sysroot of the session's nano; the workers inherit them. Their stores
    # are their own, under the cluster's directory: ncurses and nano are compiled there.
    for key, value in provider_env("wasix").items():
        if key != "WASIX_STORE":
            monkeypatch.setenv(key, value)
    status, rows = run_json("--plugin-dir", str(env.plugins), "build", *names, "-j1", "--executor", env.address,
                            "--substituter", env.cache, "--store", str(env.root / "client-store"), "--out", "dist-dask")
    err = capsys.readouterr().err
    assert status == 0, err
    built = dict.fromkeys(["greet", "hello", "solo", "after", "ncurses", "nano"], "built")
    assert {n: rows[n]["status"] for n in rows} == built, err
    workers = {line.split(" on ")[1].split()[0] for line in err.splitlines() if " built on " in line}
    assert len(workers) == 2, err
    assert not (env.root / "client-store" / "logs").exists()  # the client compiled nothing
    # The local reference: the small packages here, nano (and its ncurses) from the session's
    # store, at another path than either worker's.
    status, _ = run_json("--plugin-dir", str(env.plugins), "build", *names[:3], "--store", str(env.root / "local-store"),
                         "--out", "dist-local")
    assert status == 0
    local = {**modules(Path("dist-local")), "nano.wasm": hashlib.sha256(built_nano["nano"].read_bytes()).hexdigest()}
    assert modules(Path("dist-dask")) == local and len(local) == 4
    # The same store key (entries are named by it) wherever the store is.
    assert Path(rows["nano"]["store"]).name == Path(built_nano["summary"]["nano"]["store"]).name


def test_dask_failure_names_package_worker_and_log(cluster_env, capsys) -> None:
    env = cluster_env
    status, rows = run_json("--plugin-dir", str(env.plugins), "build", "broken", "solo", "--keep-going",
                            "--executor", env.address, "--substituter", env.cache, "--out", "dist-dask",
                            "--store", str(env.root / "client-store"))
    err = " ".join(capsys.readouterr().err.split())
    assert status == 1
    assert rows["solo"]["status"] == "built" and rows["broken"]["status"] == "failed"
    assert "error: broken: compile failed:" in err and "on Dask worker tcp://127.0.0.1:" in err, err
    log = next((env.root / "client-store" / "logs").glob("broken-1.0-*/compile.worker.log"))
    assert "undeclared identifier 'syntax'" in log.read_text()  # the worker's log, travelled back
    assert str(log) in err.replace(" ", "")


# Kills the Dask worker running it (make's parent's parent is the worker process: engine ->
# make -> this shell) the first time, halfway through its build; builds normally after that.
DIES_MK = """\
dies: dies.c
\tif [ ! -e "$(WASIX_TEST_MARK)" ]; then touch "$(WASIX_TEST_MARK)"; kill -9 $$(ps -o ppid= -p $$PPID); sleep 30; fi
\t$(CC) $(CFLAGS) -o dies dies.c
"""


def test_worker_dying_mid_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from conftest import make_tarball, package_recipe, write_plugin

    tarball = tmp_path / "upstream" / "dies-1.0.tar.gz"
    sha = make_tarball(tarball, "dies-1.0", {"dies.c": solo_c("dies", "survived"), "Makefile": DIES_MK})
    # Builds see only their recipe's variables: the marker's path is given there.
    mark = f'env = {{ WASIX_TEST_MARK = "{tmp_path / "died-once"}" }}'
    plugins = write_plugin(tmp_path / "plugins", "dies", package_recipe("dies", tarball.as_uri(), sha, build_extra=mark)).parent
    secret, public = keygen(tmp_path / "keys")
    for key, value in {"WASIX_TRUSTED_KEYS": public, "WASIX_SIGNING_KEY": str(secret),
                       "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    cache = tmp_path / "cache"
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
                                  local_directory=str(tmp_path / "dask")) as cluster:
        address = "dask://" + cluster.scheduler_address.removeprefix("tcp://")
        status, rows = run_json("--plugin-dir", str(plugins), "build", "dies", "--executor", address,
                                "--substituter", cache.as_uri(), "--store", str(tmp_path / "client"), "--out", "dist")
    err = capsys.readouterr().err
    assert (tmp_path / "died-once").exists()  # the first attempt did kill its worker
    assert status == 0 and rows["dies"]["status"] == "built", err
    assert len(list(cache.glob("*.json"))) == 1  # one entry: the finished build, not the killed one
    from wasix_backend.runtime import run

    assert run(Path("dist/bin/dies.wasm").read_bytes(), []).stdout.strip() == b"survived"
