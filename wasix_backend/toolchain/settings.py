"""Driver settings, as upstream wasixcc takes them: ``-sKEY=VALUE`` or ``WASIXCC_KEY``.

A ``-s`` argument on the command line wins over the environment. List values are
colon-separated (so a path list reads like ``$PATH``); flag lists may also be space-separated,
which is how build systems usually hand them over.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..errors import ToolchainError

ENV_PREFIX = "WASIXCC_"
MODULE_KINDS = ("static-main", "dynamic-main", "shared-library", "object-file")
PROVIDERS = ("auto", "wasix")
#: Why ``zig`` is no longer a provider, for whoever still names it.
RETIRED_PROVIDERS = {
    "zig": "the zig provider (zig's wasi-libc and a compatibility layer) was retired: the wasix provider "
           "builds the real wasix-libc with ziglang's clang from PyPI (WASIXCC_LLVM_LOCATION=zig, chosen "
           "by itself where no system clang >= 19 is installed); unset it or say wasix",
}  # fmt: skip
#: The provider variable both ``wasix-build`` and ``wasixcc`` read (``WASIXCC_PROVIDER`` too).
PROVIDER_VAR = "WASIX_PROVIDER"

#: Keys whose value is a list of compiler/linker arguments.
_LIST_KEYS = {
    "COMPILER_FLAGS",
    "COMPILER_FLAGS_C",
    "COMPILER_FLAGS_CXX",
    "COMPILER_POST_FLAGS",
    "LINKER_FLAGS",
    "WASM_OPT_FLAGS",
}
_BOOL_KEYS = {"RUN_WASM_OPT", "WASM_OPT_SUPPRESS_DEFAULT", "WASM_EXCEPTIONS", "PIC"}
_PATH_KEYS = {"SYSROOT", "LLVM_LOCATION", "BINARYEN_LOCATION"}
_CHOICE_KEYS = {"MODULE_KIND": MODULE_KINDS, "PROVIDER": PROVIDERS}
KNOWN_KEYS = frozenset(_LIST_KEYS | _BOOL_KEYS | _PATH_KEYS | set(_CHOICE_KEYS))

_SETTING_ARG = re.compile(r"^-s([A-Z][A-Z0-9_]*)=(.*)$", re.DOTALL)
_TRUE = {"1", "yes", "true", "on"}
_FALSE = {"0", "no", "false", "off", ""}


@dataclass
class Settings:
    """Every setting the driver understands; ``None`` means "not set, use the default"."""

    provider: str = "auto"
    sysroot: str | None = None
    llvm_location: str | None = None
    binaryen_location: str | None = None
    compiler_flags: list[str] = field(default_factory=list)
    compiler_flags_c: list[str] = field(default_factory=list)
    compiler_flags_cxx: list[str] = field(default_factory=list)
    compiler_post_flags: list[str] = field(default_factory=list)
    linker_flags: list[str] = field(default_factory=list)
    run_wasm_opt: bool | None = None
    wasm_opt_flags: list[str] = field(default_factory=list)
    wasm_opt_suppress_default: bool = False
    module_kind: str = "static-main"
    wasm_exceptions: bool = False
    pic: bool = False

    def fingerprint(self) -> str:
        """The settings that shape what the driver writes, for store keys (paths and the
        provider are named by the toolchain's identity itself)."""
        shaping = {
            k: v for k, v in sorted(vars(self).items())
            if k not in ("provider", "sysroot", "llvm_location", "binaryen_location")
        }  # fmt: skip
        return hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def sysroot_flavour(self) -> str:
        """Which upstream sysroot fits: ``sysroot``, ``sysroot-eh`` or ``sysroot-ehpic``."""
        if self.pic:
            return "sysroot-ehpic"
        return "sysroot-eh" if self.wasm_exceptions else "sysroot"


def _split_list(value: str) -> list[str]:
    # Colon-separated as upstream documents; whitespace also separates (CFLAGS-style).
    return [part for chunk in value.split(":") for part in shlex.split(chunk)]


def _parse_bool(key: str, value: str, origin: str) -> bool:
    low = value.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ToolchainError(f"wasixcc: setting {key} ({origin}) must be yes or no, got {value!r}")


def _apply(settings: Settings, key: str, value: str, origin: str) -> None:
    if key not in KNOWN_KEYS:
        known = ", ".join(sorted(KNOWN_KEYS))
        raise ToolchainError(f"wasixcc: unknown setting {key} ({origin}); known settings: {known}")
    attr = key.lower()
    if key in _LIST_KEYS:
        setattr(settings, attr, _split_list(value))
    elif key in _BOOL_KEYS:
        setattr(settings, attr, _parse_bool(key, value, origin))
    elif key in _CHOICE_KEYS:
        if value == "" and origin.startswith("from $"):
            return  # an empty variable is an unset one (``WASIX_PROVIDER= cmd``)
        if key == "PROVIDER" and value in RETIRED_PROVIDERS:
            raise ToolchainError(f"wasixcc: setting {key} ({origin}) is {value!r}: {RETIRED_PROVIDERS[value]}")
        if value not in _CHOICE_KEYS[key]:
            choices = ", ".join(_CHOICE_KEYS[key])
            raise ToolchainError(f"wasixcc: setting {key} ({origin}) must be one of {choices}, got {value!r}")
        setattr(settings, attr, value)
    else:
        setattr(settings, attr, value or None)


def parse_settings(
    argv: Sequence[str], environ: Mapping[str, str]
) -> tuple[Settings, list[str]]:
    """Read settings from ``environ`` (``WASIXCC_*``) then ``argv`` (``-sKEY=VALUE``).

    Returns the settings and the arguments that are left for the compiler. Unknown keys and
    bad values raise :class:`~wasix_backend.errors.ToolchainError` naming the key.
    """
    settings = Settings()
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX) and name[len(ENV_PREFIX) :] in KNOWN_KEYS:
            _apply(settings, name[len(ENV_PREFIX) :], value, f"from ${name}")
    # One provider variable for wasix-build and the driver; WASIXCC_PROVIDER stays an alias.
    if environ.get(PROVIDER_VAR):
        _apply(settings, "PROVIDER", environ[PROVIDER_VAR], f"from ${PROVIDER_VAR}")
    rest: list[str] = []
    for arg in argv:
        match = _SETTING_ARG.match(arg)
        if match:
            _apply(settings, match.group(1), match.group(2), f"from {arg}")
        else:
            rest.append(arg)
    if settings.pic and not settings.wasm_exceptions:
        raise ToolchainError(
            "wasixcc: PIC needs WASM_EXCEPTIONS (only the sysroot-ehpic flavour is position-"
            "independent); set -sWASM_EXCEPTIONS=yes or drop -sPIC"
        )
    return settings, rest
