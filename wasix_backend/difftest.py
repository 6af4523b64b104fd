"""Differential behaviour tests as data: run a case natively and under WASIX, compare.

A plugin's ``cases.toml`` (format: the project's DIFFTEST notes, summarised in docs/plugins.md)
lists cases; each runs the Debian binary in a fresh temporary directory and the package's
module under wasmer-sdk with the same files at ``/workspace``. Outputs pass through the
cases' normalisers, then stdout, stderr, the exit status and named files must be equal.
"""

from __future__ import annotations

import base64
import difflib
import os
import re
import subprocess
import tempfile
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import WasixError

__all__ = ["NATIVE_BUILD", "Case", "CasesError", "Normalizer", "Outcome", "Step", "Verdict", "compare", "judge",
           "load_cases", "native_builds", "run_native", "run_wasix", "with_native_builds"]

#: ``native = "build:NAME"``: binary NAME of the package's own sources built for this machine
#: (:mod:`wasix_backend.nativebuild`), for programs Debian does not ship.
NATIVE_BUILD = "build:"

_DEFAULT_KEYS = {"command", "native", "timeout", "normalize", "env", "compare", "natives", "network"}
_CASE_KEYS = {
    "name", "args", "files", "files-base64", "stdin", "stdin-base64", "env", "status", "compare",
    "xfail", "step", "command", "native", "timeout", "normalize", "network",
}  # fmt: skip
_STEP_KEYS = {"command", "native", "args", "stdin", "stdin-base64", "env"}
_STREAMS = ("stdout", "stderr", "status")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class CasesError(WasixError):
    """A cases.toml is invalid: names the plugin, the key and the problem."""

    def __init__(self, plugin: str, key: str, problem: str) -> None:
        self.plugin, self.key, self.problem = plugin, key, problem
        super().__init__(f"plugin {plugin!r}: cases.toml key {key!r}: {problem}")


@dataclass(frozen=True)
class Normalizer:
    regex: re.Pattern[bytes]
    replace: bytes
    on: tuple[str, ...] = ("stdout", "stderr")

    def apply(self, stream: str, data: bytes) -> bytes:
        return self.regex.sub(self.replace, data) if stream in self.on else data


@dataclass(frozen=True)
class Step:
    command: str
    native: str
    args: tuple[str, ...] = ()
    stdin: bytes | None = None
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    plugin: str
    name: str
    steps: tuple[Step, ...]
    files: Mapping[str, bytes] = field(default_factory=dict)
    status: int | None = None
    compare: tuple[str, ...] = _STREAMS
    xfail: str | None = None
    timeout: float = 60.0
    normalize: tuple[Normalizer, ...] = ()
    #: The WASIX side may open sockets to the host (wasmer-sdk's network="host"); the native
    #: side always can.
    network: bool = False

    @property
    def id(self) -> str:
        return f"{self.plugin}::{self.name}"

    @property
    def commands(self) -> set[str]:
        return {step.command for step in self.steps}

    @property
    def compared_files(self) -> list[str]:
        return [item.removeprefix("files:") for item in self.compare if item.startswith("files:")]


@dataclass
class Outcome:
    """What one side did: per-step stdout, stderr and status, and the compared files."""

    stdout: list[bytes] = field(default_factory=list)
    stderr: list[bytes] = field(default_factory=list)
    status: list[int] = field(default_factory=list)
    files: dict[str, bytes | None] = field(default_factory=dict)


# ------------------------------------------------------------------------------- loading ---
def _expect(plugin: str, key: str, value: object, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise CasesError(plugin, key, f"must be {names}, not {type(value).__name__} ({value!r})")
    return value


def _strings(plugin: str, key: str, value: object) -> tuple[str, ...]:
    items = _expect(plugin, key, value, list)
    for i, item in enumerate(items):
        _expect(plugin, f"{key}[{i}]", item, str)
    return tuple(items)


def _string_table(plugin: str, key: str, value: object) -> dict[str, str]:
    table = _expect(plugin, key, value, dict)
    for name, item in table.items():
        _expect(plugin, f"{key}.{name}", item, str)
    return dict(table)


def _unknown(plugin: str, where: str, table: Mapping[str, object], allowed: set[str]) -> None:
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(sorted(allowed))}"
            raise CasesError(plugin, f"{where}{key}", "unknown key" + hint)


def _normalizers(plugin: str, key: str, value: object) -> tuple[Normalizer, ...]:
    out = []
    for i, item in enumerate(_expect(plugin, key, value, list)):
        where = f"{key}[{i}]"
        _expect(plugin, where, item, dict)
        _unknown(plugin, f"{where}.", item, {"regex", "replace", "on"})
        if "regex" not in item:
            raise CasesError(plugin, f"{where}.regex", "required")
        pattern = _expect(plugin, f"{where}.regex", item["regex"], str)
        try:
            regex = re.compile(pattern.encode(), re.MULTILINE)
        except re.error as exc:
            raise CasesError(plugin, f"{where}.regex", f"not a valid regular expression: {exc}") from None
        on = _strings(plugin, f"{where}.on", item.get("on", ["stdout", "stderr"]))
        for stream in on:
            if stream not in ("stdout", "stderr"):
                raise CasesError(plugin, f"{where}.on", f"{stream!r}: only 'stdout' and 'stderr' are normalised")
        out.append(Normalizer(regex, _expect(plugin, f"{where}.replace", item.get("replace", ""), str).encode(), on))
    return tuple(out)


def _data(plugin: str, key: str, table: Mapping[str, Any], text_key: str, b64_key: str) -> bytes | None:
    if text_key in table and b64_key in table:
        raise CasesError(plugin, f"{key}{b64_key}", f"give {text_key!r} or {b64_key!r}, not both")
    if text_key in table:
        return str(_expect(plugin, key + text_key, table[text_key], str)).encode()
    if b64_key in table:
        try:
            return base64.b64decode(_expect(plugin, key + b64_key, table[b64_key], str), validate=True)
        except ValueError as exc:
            raise CasesError(plugin, key + b64_key, f"not base64: {exc}") from None
    return None


def _files(plugin: str, where: str, table: Mapping[str, Any]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for name, text in _string_table(plugin, f"{where}files", table.get("files", {})).items():
        files[name] = text.encode()
    for name, b64 in _string_table(plugin, f"{where}files-base64", table.get("files-base64", {})).items():
        try:
            files[name] = base64.b64decode(b64, validate=True)
        except ValueError as exc:
            raise CasesError(plugin, f"{where}files-base64.{name}", f"not base64: {exc}") from None
    for name in files:
        parts = Path(name).parts
        if Path(name).is_absolute() or ".." in parts or not parts:
            raise CasesError(plugin, f"{where}files.{name}", "a relative path inside the working directory")
    return files


def load_cases(path: Path, plugin: str | None = None) -> list[Case]:
    """Read and validate ``path`` (a plugin's cases.toml); ``plugin`` defaults to its folder."""
    plugin = plugin or path.parent.name
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CasesError(plugin, "(file)", f"{path}: {exc}") from None
    _unknown(plugin, "", data, {"defaults", "case"})
    defaults = _expect(plugin, "defaults", data.get("defaults", {}), dict)
    _unknown(plugin, "defaults.", defaults, _DEFAULT_KEYS)
    natives = _string_table(plugin, "defaults.natives", defaults.get("natives", {}))
    cases: list[Case] = []
    seen: set[str] = set()
    raw_cases = _expect(plugin, "case", data.get("case", []), list)
    if not raw_cases:
        raise CasesError(plugin, "case", "no [[case]] tables")
    for index, raw in enumerate(raw_cases):
        where = f"case[{index}]."
        _expect(plugin, where.rstrip("."), raw, dict)
        _unknown(plugin, where, raw, _CASE_KEYS)
        name = _expect(plugin, f"{where}name", raw.get("name"), str)
        if not _NAME_RE.match(name):
            raise CasesError(plugin, f"{where}name", f"{name!r}: letters, digits, '.', '-', '_' only")
        if name in seen:
            raise CasesError(plugin, f"{where}name", f"{name!r} is used twice")
        seen.add(name)
        where = f"case.{name}."
        merged = {**defaults, **raw}
        command = _expect(plugin, f"{where}command", merged.get("command"), str)
        native = _expect(plugin, f"{where}native", raw.get("native", natives.get(command, defaults.get("native"))), str)
        env = {**_string_table(plugin, "defaults.env", defaults.get("env", {})),
               **_string_table(plugin, f"{where}env", raw.get("env", {}))}  # fmt: skip
        raw_steps = _expect(plugin, f"{where}step", raw.get("step", []), list)
        steps: list[Step] = []
        if raw_steps:
            for key in ("args", "stdin", "stdin-base64"):
                if key in raw:
                    raise CasesError(plugin, f"{where}{key}", "a case with [[case.step]] gives it in each step")
            for i, rs in enumerate(raw_steps):
                sw = f"{where}step[{i}]."
                _expect(plugin, sw.rstrip("."), rs, dict)
                _unknown(plugin, sw, rs, _STEP_KEYS)
                scmd = _expect(plugin, f"{sw}command", rs.get("command", command), str)
                snative = rs.get("native", native if scmd == command else natives.get(scmd, f"/usr/bin/{scmd}"))
                steps.append(Step(
                    scmd, _expect(plugin, f"{sw}native", snative, str), _strings(plugin, f"{sw}args", rs.get("args", [])),
                    _data(plugin, sw, rs, "stdin", "stdin-base64"),
                    {**env, **_string_table(plugin, f"{sw}env", rs.get("env", {}))},
                ))  # fmt: skip
        else:
            steps.append(Step(command, native, _strings(plugin, f"{where}args", raw.get("args", [])),
                              _data(plugin, where, raw, "stdin", "stdin-base64"), env))  # fmt: skip
        compare_items = _strings(plugin, f"{where}compare", merged.get("compare", list(_STREAMS)))
        for item in compare_items:
            if item not in _STREAMS and not (item.startswith("files:") and len(item) > 6):
                raise CasesError(plugin, f"{where}compare", f"{item!r}: use stdout, stderr, status or files:NAME")
        status = raw.get("status")
        xfail = raw.get("xfail")
        cases.append(Case(
            plugin=plugin, name=name, steps=tuple(steps), files=_files(plugin, where, raw),
            status=None if status is None else _expect(plugin, f"{where}status", status, int),
            compare=compare_items,
            xfail=None if xfail is None else _expect(plugin, f"{where}xfail", xfail, str),
            timeout=float(_expect(plugin, f"{where}timeout", merged.get("timeout", 60), (int, float))),
            normalize=_normalizers(plugin, "defaults.normalize", defaults.get("normalize", []))
            + _normalizers(plugin, f"{where}normalize", raw.get("normalize", [])),
            network=_expect(plugin, f"{where}network", merged.get("network", False), bool),
        ))  # fmt: skip
    return cases


# ------------------------------------------------------------------------------- running ---
def _write_files(root: Path, files: Mapping[str, bytes]) -> None:
    for name, data in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def run_native(case: Case) -> Outcome:
    """Run the case's steps with the Debian binaries in a fresh temporary directory. argv[0]
    is the command's name, as under WASIX, so messages name the program alike."""
    outcome = Outcome()
    with tempfile.TemporaryDirectory(prefix=f"difftest-{case.plugin}-") as tmp:
        work = Path(tmp)
        _write_files(work, case.files)
        for step in case.steps:
            env = {"PATH": "/usr/bin:/bin", **step.env}
            try:
                proc = subprocess.run(
                    [step.command, *step.args], executable=step.native, cwd=work, env=env,
                    input=step.stdin if step.stdin is not None else b"", capture_output=True,
                    timeout=case.timeout,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                raise WasixError(f"{case.id}: the native {step.native} ran longer than {case.timeout:g} s") from None
            outcome.stdout.append(proc.stdout)
            outcome.stderr.append(proc.stderr)
            outcome.status.append(proc.returncode)
        for name in case.compared_files:
            path = work / name
            outcome.files[name] = path.read_bytes() if path.is_file() else None
    return outcome


def run_wasix(case: Case, modules: Mapping[str, Path], data: Mapping[str, bytes] | None = None) -> Outcome:
    """Run the case's steps under wasmer-sdk in one sandbox, the files at /workspace and the
    package's ``data`` (guest path -> bytes: its ``[outputs] data``) where it reads them."""
    from .runtime import GUEST_CWD, Invocation, run_steps

    missing = sorted(case.commands - set(modules))
    if missing:
        raise WasixError(f"{case.id}: the package has no command {', '.join(missing)} (it has {', '.join(sorted(modules))})")
    guest = {f"{GUEST_CWD}/{name}": data for name, data in case.files.items()}
    back = [f"{GUEST_CWD}/{name}" for name in case.compared_files]
    # The native side runs on pipes: say so, as the wheel launcher does (toolchain/compat/src/mirror.c).
    env = {"WASIX_HOST_TTYS": "-"}
    steps = [Invocation(s.command, s.args, s.stdin if s.stdin is not None else b"", {**env, **s.env}) for s in case.steps]
    results = run_steps(modules, steps, files=guest, data=data, read_back=back, timeout=case.timeout, network=case.network)
    outcome = Outcome([r.stdout for r in results], [r.stderr for r in results], [r.exit_code for r in results])
    for name, path in zip(case.compared_files, back, strict=True):
        outcome.files[name] = results[-1].files.get(path)
    return outcome


# ----------------------------------------------------------------------------- comparing ---
def _show(data: bytes | None) -> list[str]:
    if data is None:
        return ["(no such file)"]
    return data.decode("utf-8", "backslashreplace").splitlines(keepends=True) or ["(empty)"]


def _diff(what: str, native: bytes | None, wasix: bytes | None) -> str:
    lines = difflib.unified_diff(_show(native), _show(wasix), f"native {what}", f"wasix {what}", lineterm="\n", n=2)
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def compare(case: Case, native: Outcome, wasix: Outcome) -> list[str]:
    """Differences between the two sides (after normalising), and any side whose exit status
    is not the case's ``status``; empty when they agree."""
    problems: list[str] = []
    last = len(case.steps) - 1
    for i in range(len(case.steps)):
        label = f"step {i + 1} " if len(case.steps) > 1 else ""
        for stream in ("stdout", "stderr"):
            if stream not in case.compare:
                continue
            a, b = getattr(native, stream)[i], getattr(wasix, stream)[i]
            for norm in case.normalize:
                a, b = norm.apply(stream, a), norm.apply(stream, b)
            if a != b:
                problems.append(f"{label}{stream} differs:\n" + _diff(stream, a, b))
        if "status" in case.compare and native.status[i] != wasix.status[i]:
            problems.append(f"{label}exit status differs: native {native.status[i]}, wasix {wasix.status[i]}")
        if case.status is not None and i == last:
            for side, outcome in (("native", native), ("wasix", wasix)):
                if outcome.status[i] != case.status:
                    problems.append(f"{label}{side} exited {outcome.status[i]}, the case expects {case.status}")
    for name in case.compared_files:
        a, b = native.files.get(name), wasix.files.get(name)
        if a != b:
            problems.append(f"file {name} differs:\n" + _diff(name, a, b))
    return problems


@dataclass
class Verdict:
    """One case's result: ``pass``, ``fail``, ``xfail``, ``xpass`` (a fail: remove the xfail)
    or ``skip``, and why."""

    case: Case
    outcome: str
    details: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.outcome in ("fail", "xpass")


def native_builds(cases: Sequence[Case]) -> set[str]:
    """The binaries the cases' ``build:NAME`` natives need built natively."""
    return {s.native.removeprefix(NATIVE_BUILD) for c in cases for s in c.steps if s.native.startswith(NATIVE_BUILD)}


def with_native_builds(case: Case, built: Mapping[str, Path]) -> Case:
    """``case`` with each ``build:NAME`` native replaced by ``built[NAME]`` (those missing stay)."""
    steps = tuple(
        replace(s, native=str(built[s.native.removeprefix(NATIVE_BUILD)]))
        if s.native.startswith(NATIVE_BUILD) and s.native.removeprefix(NATIVE_BUILD) in built else s
        for s in case.steps
    )  # fmt: skip
    return replace(case, steps=steps)


def judge(case: Case, modules: Mapping[str, Path], data: Mapping[str, bytes] | None = None,
          natives: Mapping[str, Path] | None = None) -> Verdict:
    """Run ``case`` on both sides and judge it as ``tests/test_collection.py`` does;
    ``natives`` are the native builds of the package's binaries (``build:NAME``)."""
    case = with_native_builds(case, natives or {})
    missing = check_natives([case])
    if missing:
        return Verdict(case, "skip", [missing])
    problems = compare(case, run_native(case), run_wasix(case, modules, data))
    if case.xfail is not None:
        return Verdict(case, "xfail", [case.xfail]) if problems else Verdict(
            case, "xpass", [f"passes but is marked xfail ({case.xfail!r}): remove the xfail"])
    return Verdict(case, "fail", problems) if problems else Verdict(case, "pass")


def discover(plugins_dir: Path) -> list[Path]:
    """Every ``NAME/cases.toml`` under ``plugins_dir``, sorted."""
    return sorted(plugins_dir.glob("*/cases.toml"))


def check_natives(cases: Sequence[Case]) -> str | None:
    """Why the native side cannot run (a missing Debian binary), or ``None``."""
    for case in cases:
        for step in case.steps:
            if step.native.startswith(NATIVE_BUILD):
                return (f"native {step.native}: the package's own {step.native.removeprefix(NATIVE_BUILD)} built for this "
                        "machine, which was not made (wasix_backend.nativebuild)")  # fmt: skip
            if not os.access(step.native, os.X_OK):
                return f"native {step.native} is not installed (apt-get install the Debian package providing it)"
    return None
