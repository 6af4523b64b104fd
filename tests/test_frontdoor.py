"""The front door: the README's set-up commands, run verbatim as a newcomer would.

The slow test runs the build command in a fresh clone of this checkout's HEAD with a fresh
HOME (empty caches and store), only Debian's own tools on PATH and no Rust among them, and
zig as the C toolchain (no upstream sysroot). Only the downloaded-sources cache is shared,
so the cost is one cold build (~3-5 min on two cores), not a download of every source.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from test_skips import tools_without_rust

from wasix_backend import paths

REPO = Path(__file__).resolve().parents[1]


def setup_commands() -> dict[str, str]:
    """The README's set-up commands by nox session: ``{"build": "python3 …", "tests": …}``."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    lines = [ln for block in re.findall(r"```sh\n(.*?)```", section, re.S) for ln in block.splitlines()]
    found = {}
    for line in lines:
        session = re.search(r"\bnox -s (\w+)", line)
        if session:
            found[session.group(1)] = line.split(" #", 1)[0].strip()
    return found


def test_the_readme_has_the_two_setup_commands_for_a_plain_python3() -> None:
    commands = setup_commands()
    assert set(commands) == {"build", "tests"}
    for command in commands.values():
        # Debian 12 has no `python` and refuses `pip install` outside a venv (PEP 668).
        assert command.startswith("python3 -m venv .venv && .venv/bin/python -m pip install")
        assert not re.search(r"(^|[;&|]\s*)(python|pip|nox)\b", command)


def _newcomer_env(home: Path, tools: Path) -> dict[str, str]:
    env = {"HOME": str(home), "PATH": str(tools), "LANG": "C.UTF-8", "WASIX_PROVIDER": "zig"}
    # The machine's pip and proxy settings are its configuration, not the user's caches.
    env.update({k: v for k, v in os.environ.items() if k.startswith("PIP_") or k.lower().endswith("_proxy")})
    mirror = os.environ.get("WASIX_MIRROR") or str(REPO.parent / "shared" / "mirror")
    if Path(mirror).is_dir():
        env["WASIX_MIRROR"] = mirror
    return env


@pytest.mark.collection
def test_readme_build_command_builds_what_zig_can_on_a_fresh_clone(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    home = tmp_path / "home"
    cache = home / ".cache" / "wasix-backend"
    cache.mkdir(parents=True)
    shared = paths.sources_dir()  # the user's verified downloads: saves fetching, changes nothing
    shared.mkdir(parents=True, exist_ok=True)
    (cache / "sources").symlink_to(shared)
    # Debian's own tools (python3 is /usr/bin/python3), without any Rust.
    tools = tools_without_rust(tmp_path / "tools", ["/usr/local/bin", "/usr/bin", "/bin"])
    assert not (tools / "rustc").exists() and (tools / "python3").resolve() == Path("/usr/bin/python3").resolve()

    done = subprocess.run(
        ["bash", "-c", setup_commands()["build"]],
        cwd=clone, env=_newcomer_env(home, tools), capture_output=True, text=True, timeout=3600,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    dist = clone / "dist"
    assert (dist / "bin" / "nano.wasm").is_file()
    assert (dist / "nano-7.2.0.webc").is_file()
    assert (dist / "wheels" / "wasix_nano-7.2-py3-none-any.whl").is_file()
    assert (dist / "simple" / "wasix-nano" / "index.html").is_file()
    assert not list(dist.rglob("*crabsay*"))
    assert re.search(r"^crabsay\s+0\.1\.1\s+skipped\s+[\d.]+\s+no Rust toolchain with a WASI", output, re.M), output[-6000:]
    assert "to build crabsay: on Debian/Ubuntu `apt-get install rustc cargo libstd-rust-dev-wasm32 lld-14`" in output
    # The collection needs the real libc: with zig it is skipped, saying what to install.
    assert re.search(r"^bash\s+5\.2\.15\s+skipped\s+[\d.]+\s+needs the wasix provider", output, re.M), output[-6000:]
    assert list((cache / "store").glob("*-nano-7.2")), "the build store is the fresh HOME's own"
