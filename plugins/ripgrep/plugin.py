"""ripgrep: one WASI gap in a vendored crate, fixed after the crates are vendored.

grep-cli 0.1.6 (Debian's) defines ``is_readable_stdin``'s helper only for unix and windows,
so it does not compile for wasm32-wasi. The crate lives in the vendor directory, not in
ripgrep's sources, so the fix is applied there and the crate's checksum file updated (cargo
checks every vendored file against it).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from wasix_backend import hookimpl
from wasix_backend.recipe import load_recipe

HERE = Path(__file__).resolve().parent
ANCHOR = "    !is_tty_stdin() && imp()\n"
WASI_IMP = """    // WASI has no std::os::unix file types to tell a pipe from a file: any stdin that is
    // not a terminal is taken as readable (what rg then searches instead of the directory).
    #[cfg(not(any(unix, windows)))]
    fn imp() -> bool {
        true
    }

"""


@hookimpl
def wasix_recipes():
    return [load_recipe(HERE / "recipe.toml", plugin="ripgrep")]


def patch_vendored_grep_cli(vendor: Path) -> Path:
    """Add the WASI helper to vendor/grep-cli-*/src/lib.rs; return the file changed."""
    crates = sorted(vendor.glob("grep-cli-*"))
    if len(crates) != 1:
        raise FileNotFoundError(f"expected one vendored grep-cli crate in {vendor}, found {[c.name for c in crates]}")
    lib = crates[0] / "src" / "lib.rs"
    text = lib.read_text()
    if "#[cfg(not(any(unix, windows)))]" not in text:
        if ANCHOR not in text:
            raise ValueError(f"{lib}: is_readable_stdin no longer looks as expected; check the WASI fix")
        lib.write_text(text.replace(ANCHOR, WASI_IMP + ANCHOR, 1))
    checksums = crates[0] / ".cargo-checksum.json"
    data = json.loads(checksums.read_text())
    data["files"]["src/lib.rs"] = hashlib.sha256(lib.read_bytes()).hexdigest()
    checksums.write_text(json.dumps(data))
    return lib


@hookimpl(wrapper=True)
def wasix_configure(ctx):
    result = yield  # the cargo build system vendors the crates into <build_dir>/vendor
    lib = patch_vendored_grep_cli(ctx.build_dir / "vendor")
    ctx.log.info("patched %s for wasm32-wasi", lib)
    return result
