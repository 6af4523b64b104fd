"""Write a pure-Python wheel that carries a program's ``.wasm`` modules and a launcher.

``pip install wasix-NAME`` then gives one console script per command; the scripts run the
modules through ``wasix_NAME/_launcher.py`` (a copy of :mod:`.launcher`), which needs only
``wasmer-sdk`` at run time. The recipe's ``[outputs] data`` travels too, under
``wasix_NAME/data/`` by guest path, and the launcher shows it to the program at those paths,
as a Wasmer package's ``[fs]`` does.
"""

from __future__ import annotations

import base64
import csv
import email.message
import email.policy
import hashlib
import io
import json
import re
import zipfile
from pathlib import Path

from packaging.utils import canonicalize_name

from .. import ENTRY_POINT_GROUP
from ..errors import WasixError
from ..fsutil import atomic_write_bytes
from ..recipe import Recipe
from ..rundeps import runtime_deps, sandbox_commands, sandbox_script_files
from ..versions import pep440
from .launcher import DATA_DIR
from .wasmer_pkg import data_files, package_commands

#: The launcher's runtime; the SDK publishes wheels for Linux and macOS only.
RUNTIME_REQUIREMENT = "wasmer-sdk>=0.5; platform_system != 'Windows'"
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # zip's earliest date: same inputs, same bytes
_LAUNCHER = Path(__file__).with_name("launcher.py")
_MIRROR = Path(__file__).with_name("mirror.py")  # the launcher's host-file half
_TERMINAL = Path(__file__).with_name("terminal.py")  # the launcher's host-terminal half
_SANDBOXDEPS = Path(__file__).with_name("sandboxdeps.py")  # the launcher's dependency half


def dist_name(recipe: Recipe) -> str:
    """``wasix-NAME``, normalized (PEP 503): ``Wasix_Nano`` -> ``wasix-nano``."""
    return str(canonicalize_name(f"wasix-{recipe.name}"))


def import_name(recipe: Recipe) -> str:
    """The import package inside the wheel: ``wasix_NAME`` with ``-``/``.`` as ``_``."""
    return dist_name(recipe).replace("-", "_")


def wheel_filename(recipe: Recipe) -> str:
    """``wasix_NAME-VERSION-py3-none-any.whl`` (distribution name escaped per the spec)."""
    return f"{import_name(recipe)}-{pep440(recipe.version)}-py3-none-any.whl"


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode("ascii")


#: Core metadata is an RFC 822 message; this policy refuses CR/LF in a header value (so no
#: field can start another) and neither folds nor encodes, as installers read it verbatim.
_METADATA_POLICY = email.policy.EmailPolicy(utf8=True, max_line_length=0, linesep="\n")


def _metadata(recipe: Recipe, commands: dict[str, str]) -> str:
    msg = email.message.EmailMessage(policy=_METADATA_POLICY)
    headers: list[tuple[str, str, str]] = [  # (field, value, recipe field it comes from)
        ("Metadata-Version", "2.1", ""),
        ("Name", dist_name(recipe), "package.name"),
        ("Version", pep440(recipe.version), "package.version"),
        ("Summary", recipe.description or f"{recipe.name} compiled to WebAssembly (WASIX)", "package.description"),
    ]
    if recipe.license:
        headers.append(("License", recipe.license, "package.license"))
    if recipe.homepage:
        headers.append(("Home-page", recipe.homepage, "package.homepage"))
        headers.append(("Project-URL", f"Homepage, {recipe.homepage}", "package.homepage"))
    headers += [
        ("Requires-Python", ">=3.9", ""),
        ("Requires-Dist", RUNTIME_REQUIREMENT, ""),
        *(("Requires-Dist", requirement, "dependencies.run") for requirement in runtime_requirements(recipe)),
        ("Classifier", "Environment :: Console", ""),
        ("Classifier", "Programming Language :: Other", ""),
        ("Description-Content-Type", "text/markdown", ""),
    ]
    for name, value, source in headers:
        if any(c in value for c in "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"):
            raise WasixError(
                f"{recipe.name}: recipe field {source or name!r} must be a single line for the wheel's "
                f"{name} metadata, got {value!r}"
            )
        msg[name] = value  # the policy raises on anything the check above let through
    msg.set_payload(
        f"# {dist_name(recipe)}\n\n"
        f"`{recipe.name}` {recipe.version} compiled to WebAssembly (WASIX), run through the "
        "Wasmer runtime (`wasmer` on PATH, else the `wasmer-sdk` package).\n\n"
        "Commands: " + ", ".join(f"`{c}`" for c in commands) + ".\n"
    )  # the body is the long description: free text, written as is
    return msg.as_string()


def runtime_requirements(recipe: Recipe) -> list[str]:
    """``Requires-Dist`` of the packages whose commands the programs run (``[dependencies]
    run``): ``wasix-gzip``, ``wasix-bash>=5.2``; the launcher loads them into the same sandbox."""
    return [f"{canonicalize_name(f'wasix-{dep.name}')}{dep.specifier}" for dep in runtime_deps(recipe)]


def _check_library(recipe: Recipe) -> None:
    if recipe.kind == "library":
        raise WasixError(
            f"{recipe.name} is a library; wheels are made for programs (recipes with "
            "kind = \"program\" and outputs.bin): build a program that uses it instead"
        )


def metadata_files(
    recipe: Recipe, commands: dict[str, str] | None = None, plugins: dict[str, str] | None = None
) -> dict[str, bytes]:
    """The wheel's ``.dist-info`` files but RECORD; needs no build (PEP 517's
    ``prepare_metadata_for_build_wheel``). ``commands`` defaults to the recipe's."""
    _check_library(recipe)
    commands = commands if commands is not None else recipe.command_map()
    pkg = import_name(recipe)
    dist_info = f"{pkg}-{pep440(recipe.version)}.dist-info"
    for cmd in commands:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", cmd):
            raise WasixError(f"{recipe.name}: command name {cmd!r} cannot be a console script")
    entry = "[console_scripts]\n" + "".join(f"{c} = {pkg}._launcher:main\n" for c in commands)
    if plugins:  # the wheel also carries its recipe as a wasix-backend plugin
        entry += f"\n[{ENTRY_POINT_GROUP}]\n" + "".join(f"{n} = {v}\n" for n, v in sorted(plugins.items()))
    return {
        f"{dist_info}/METADATA": _metadata(recipe, commands).encode("utf-8"),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: wasix-backend\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
        f"{dist_info}/entry_points.txt": entry.encode(),
        f"{dist_info}/top_level.txt": f"{pkg}\n".encode(),
    }


def build_wheel_files(
    recipe: Recipe, prefix: Path, extra: dict[str, bytes] | None = None, plugins: dict[str, str] | None = None
) -> dict[str, bytes]:
    """Every file of the wheel but RECORD, by archive path."""
    _check_library(recipe)
    prefix = Path(prefix)
    commands = package_commands(recipe, prefix)
    if not commands:
        raise WasixError(f"{recipe.name}: no .wasm modules in {prefix / 'bin'} to put in a wheel")
    pkg = import_name(recipe)
    files: dict[str, bytes] = {}
    inner = {cmd: module for cmd, module in sandbox_commands(recipe).items() if cmd not in commands}
    for module in sorted(set(commands.values()) | set(inner.values())):
        src = prefix / "bin" / f"{module}.wasm"
        if not src.is_file():
            raise WasixError(f"{recipe.name}: {src} is missing; rebuild the package first")
        files[f"{pkg}/bin/{module}.wasm"] = src.read_bytes()
    meta: dict[str, object] = {
        "name": recipe.name,
        "version": pep440(recipe.version),
        "upstream-version": recipe.version,
        "entrypoint": next(iter(commands)),
        "commands": {cmd: f"bin/{module}.wasm" for cmd, module in commands.items()},
    }
    if recipe.network:  # read by the launcher; absent means no network
        meta["network"] = True
    if inner:  # run by other packages' programs in the sandbox; no console scripts
        meta["sandbox-commands"] = {cmd: f"bin/{module}.wasm" for cmd, module in inner.items()}
    requires = runtime_deps(recipe)
    if requires:  # installed wheels (Requires-Dist) the launcher loads into the same sandbox
        meta["run-deps"] = {str(canonicalize_name(f"wasix-{d.name}")): str(canonicalize_name(f"wasix-{d.name}")).replace("-", "_")
                            for d in requires}  # fmt: skip
    # What the program reads at the paths it was built with, and the sandbox scripts.
    data = {**data_files(recipe, prefix), **sandbox_script_files(recipe)}
    if data:
        meta["data"] = sorted({*data_guest_roots(recipe), *sandbox_script_files(recipe)})
        for guest, content in data.items():
            files[f"{pkg}/{DATA_DIR}{guest}"] = content
    files[f"{pkg}/_commands.json"] = (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode()
    files[f"{pkg}/__init__.py"] = (
        f'"""{recipe.name} {recipe.version} as WebAssembly (WASIX); see the console scripts."""\n\n'
        f"__version__ = {pep440(recipe.version)!r}\n"
    ).encode()
    files[f"{pkg}/_launcher.py"] = _LAUNCHER.read_bytes()
    files[f"{pkg}/_mirror.py"] = _MIRROR.read_bytes()
    files[f"{pkg}/_terminal.py"] = _TERMINAL.read_bytes()
    files[f"{pkg}/_sandboxdeps.py"] = _SANDBOXDEPS.read_bytes()
    files[f"{pkg}/__main__.py"] = b"from ._launcher import main\n\nmain()\n"
    files.update(extra or {})
    files.update(metadata_files(recipe, commands, plugins))
    return files


def data_guest_roots(recipe: Recipe) -> list[str]:
    """The guest paths of ``[outputs] data`` (each a file or a directory of the program's)."""
    return [guest.rstrip("/") for guest in recipe.data]


def _zip(files: dict[str, bytes], record_name: str) -> bytes:
    rows = io.StringIO()
    writer = csv.writer(rows, lineterminator="\n")
    for name in sorted(files):
        writer.writerow([name, _record_hash(files[name]), len(files[name])])
    writer.writerow([record_name, "", ""])
    everything = dict(files)
    everything[record_name] = rows.getvalue().encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        # dist-info last, as installers expect; otherwise sorted by name.
        for name in sorted(everything, key=lambda n: (".dist-info/" in n, n)):
            info = zipfile.ZipInfo(name, date_time=_FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16
            info.create_system = 3  # Unix, so the mode bits above mean what they say
            zf.writestr(info, everything[name])
    return buf.getvalue()


def write_wheel(
    recipe: Recipe,
    prefix: Path,
    wheel_dir: Path,
    *,
    extra: dict[str, bytes] | None = None,
    plugins: dict[str, str] | None = None,
) -> Path:
    """Write ``wheel_dir/wasix_NAME-VERSION-py3-none-any.whl`` and return its path.

    Deterministic (fixed timestamps, sorted entries) and atomic (temp file + rename).
    """
    files = build_wheel_files(recipe, prefix, extra, plugins)
    name = wheel_filename(recipe)
    record = f"{name.split('-py3-')[0]}.dist-info/RECORD"
    blob = _zip(files, record)
    return atomic_write_bytes(Path(wheel_dir) / name, blob)
