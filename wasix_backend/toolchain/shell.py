"""The environment of ``wasix-build shell``: the toolchain's variables and its drivers on PATH."""

from __future__ import annotations

import os

from . import Toolchain


def shell_env(toolchain: Toolchain) -> dict[str, str]:
    """Variables to add to the environment so ``./configure && make`` builds for WASIX."""
    env = toolchain.env()
    path = os.environ.get("PATH", "")
    env["PATH"] = os.pathsep.join(p for p in (str(toolchain.bin_dir), path) if p)
    env["WASIX_SHELL"] = toolchain.provider
    # No host .pc files: a library found there would be for the wrong machine.
    env["PKG_CONFIG_LIBDIR"] = env["PKG_CONFIG_PATH"] = ""
    return env
