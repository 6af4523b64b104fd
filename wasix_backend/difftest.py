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
from typing import Any, Literal

from . import schema
from .errors import WasixError
from .schema import setting

__all__ = ["NATIVE_BUILD", "Case", "CasesError", "Normalizer", "Outcome", "Step", "Verdict", "compare", "judge",
           "load_cases", "native_builds", "run_native", "run_wasix", "with_native_builds"]

#: ``native = "build:NAME"``: binary NAME of the package's own sources built for this machine
#: (:mod:`wasix_backend.nativebuild`), for programs Debian does not ship.
NATIVE_BUILD = "build:"

_STREAMS = ("stdout", "stderr", "status")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class CasesError(WasixError):
    """A cases.toml is invalid: names the plugin, the key and the problem."""

    def __init__(self, plugin: str, key: str, problem: str) -> None:
        self.plugin, self.key, self.problem = plugin, key, problem
        super().__init__(f"plugin {plugin!r}: cases.toml key {key!r}: {problem}")


# ------------------------------------------------------------------------------- the file ---
@dataclass(frozen=True, kw_only=True)
class NormalizeTable:
    """One normaliser of ``normalize = [...]``."""

    regex: str = setting("a regular expression over bytes (multi-line) whose matches are replaced")
    replace: str = setting("what replaces each match (`\\1` for groups)", default="")
    on: list[Literal["stdout", "stderr"]] = setting("the streams it applies to", default=["stdout", "stderr"])


@dataclass(frozen=True, kw_only=True)
class StepTable:
    """One ``[[case.step]]``: a command run in the case's sandbox, after the steps before it."""

    command: str | None = setting("another command of the same package", default=None, shown="the case's")
    native: str | None = setting("its native program", default=None,
                                 shown="the case's for its command, else `natives`, else `/usr/bin/NAME`")
    args: list[str] = setting("its arguments", default=[])
    stdin: str | None = setting("its standard input", default=None)
    stdin_base64: str | None = setting("its standard input, base64 (binary data)", default=None)
    env: dict[str, str] = setting("environment variables, added to the case's", default={})


@dataclass(frozen=True, kw_only=True)
class DefaultsTable:
    """``[defaults]``: what every case has unless it says otherwise."""

    command: str | None = setting("the package's command (`[outputs] commands`, else the binary)", default=None)
    native: str | None = setting("the program to compare with: a Debian binary (`/usr/bin/grep`), any absolute path, "
                                 "or `build:BIN` (a cargo recipe's own sources built for this machine)", default=None)
    natives: dict[str, str] = setting("other commands' native programs", default={}, shown="`/usr/bin/NAME` each")
    timeout: float = setting("seconds each side may run", default=60)
    env: dict[str, str] = setting("environment variables of every case (natively: with `PATH` alone besides)", default={})
    normalize: list[NormalizeTable] = setting("normalisers of every case: `{ regex, replace, on }`", default=[])
    compare: list[str] = setting("what must be equal: `stdout`, `stderr`, `status`, `files:NAME`", default=list(_STREAMS))
    network: bool = setting("the WASIX side may open sockets to the host's network", default=False)


@dataclass(frozen=True, kw_only=True)
class CaseTable:
    """One ``[[case]]``."""

    name: str = setting("letters, digits, `.`, `-`, `_`; the test id is `PLUGIN::NAME`")
    command: str | None = setting("the command it runs", default=None, shown="from `[defaults]`")
    native: str | None = setting("the native program", default=None, shown="`natives` for its command, else `[defaults]`")
    args: list[str] = setting("its arguments", default=[])
    files: dict[str, str] = setting("relative path → text: files in the working directory", default={})
    files_base64: dict[str, str] = setting("relative path → base64: binary files", default={})
    stdin: str | None = setting("the standard input", default=None)
    stdin_base64: str | None = setting("the standard input, base64", default=None)
    env: dict[str, str] = setting("environment variables, added to `[defaults]`' own", default={})
    status: int | None = setting("both sides must exit with it (else the statuses are only compared)", default=None)
    compare: list[str] | None = setting("what must be equal", default=None, shown="from `[defaults]`")
    xfail: str | None = setting("why WASIX cannot match: the case must differ (a pass fails the test)", default=None)
    timeout: float | None = setting("seconds each side may run", default=None, shown="from `[defaults]`")
    normalize: list[NormalizeTable] = setting("normalisers, after `[defaults]`' own", default=[])
    network: bool | None = setting("the WASIX side may open sockets to the host's network", default=None,
                                   shown="from `[defaults]`")
    step: list[StepTable] = setting("commands run in order in one sandbox (instead of `args` and `stdin`)", default=[])


@dataclass(frozen=True, kw_only=True)
class CasesFile:
    """A whole ``cases.toml``."""

    defaults: DefaultsTable = setting("[`[defaults]`](#differential-tests-casestoml)", default=DefaultsTable())
    case: list[CaseTable] = setting("the cases, at least one", default=[])


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
    timeout: float = DefaultsTable.timeout
    normalize: tuple[Normalizer, ...] = ()
    #: The WASIX side may open sockets to the host (wasmer-sdk's network="host"); the native
    #: side always can.
    network: bool = DefaultsTable.network

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
def _normalizers(plugin: str, key: str, tables: Sequence[NormalizeTable]) -> tuple[Normalizer, ...]:
    out = []
    for i, item in enumerate(tables):
        try:
            regex = re.compile(item.regex.encode(), re.MULTILINE)
        except re.error as exc:
            raise CasesError(plugin, f"{key}[{i}].regex", f"not a valid regular expression: {exc}") from None
        out.append(Normalizer(regex, item.replace.encode(), tuple(item.on)))
    return tuple(out)


def _data(plugin: str, where: str, text: str | None, b64: str | None) -> bytes | None:
    """``stdin`` or ``stdin-base64`` of ``where`` (a case or a step), decoded."""
    if text is not None and b64 is not None:
        raise CasesError(plugin, f"{where}stdin-base64", "give 'stdin' or 'stdin-base64', not both")
    if text is not None:
        return text.encode()
    if b64 is not None:
        try:
            return base64.b64decode(b64, validate=True)
        except ValueError as exc:
            raise CasesError(plugin, f"{where}stdin-base64", f"not base64: {exc}") from None
    return None


def _files(plugin: str, where: str, case: CaseTable) -> dict[str, bytes]:
    files = {name: text.encode() for name, text in case.files.items()}
    for name, b64 in case.files_base64.items():
        try:
            files[name] = base64.b64decode(b64, validate=True)
        except ValueError as exc:
            raise CasesError(plugin, f"{where}files-base64.{name}", f"not base64: {exc}") from None
    for name in files:
        parts = Path(name).parts
        if Path(name).is_absolute() or ".." in parts or not parts:
            raise CasesError(plugin, f"{where}files.{name}", "a relative path inside the working directory")
    return files


def _case_table(plugin: str, index: int, raw: dict[str, Any], seen: set[str]) -> CaseTable:
    """``case[index]``, checked: its keys, a new valid name, then its values (named by it)."""
    where = f"case[{index}]"
    fields = schema.section_of(CaseTable)
    schema.check_keys(plugin, where, raw, fields, error=CasesError)
    if "name" not in raw:
        raise CasesError(plugin, f"{where}.name", "required (expected string)")
    name = raw["name"]
    fields.get("name").check_type(plugin, f"{where}.name", name, CasesError)  # type: ignore[union-attr]
    if not _NAME_RE.match(name):
        raise CasesError(plugin, f"{where}.name", f"{name!r}: letters, digits, '.', '-', '_' only")
    if name in seen:
        raise CasesError(plugin, f"{where}.name", f"{name!r} is used twice")
    seen.add(name)
    return schema.load(CaseTable, plugin, f"case.{name}", raw, error=CasesError)


def load_cases(path: Path, plugin: str | None = None) -> list[Case]:
    """Read and validate ``path`` (a plugin's cases.toml); ``plugin`` defaults to its folder."""
    plugin = plugin or path.parent.name
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CasesError(plugin, "(file)", f"{path}: {exc}") from None
    top = schema.section_of(CasesFile)
    schema.check_keys(plugin, "", data, top, error=CasesError)
    defaults = schema.load(DefaultsTable, plugin, "defaults", data.get("defaults", {}), error=CasesError)
    raw_cases = data.get("case", [])
    top.get("case").check_type(plugin, "case", raw_cases, CasesError)  # type: ignore[union-attr]  # each: below
    if not raw_cases:
        raise CasesError(plugin, "case", "no [[case]] tables")
    natives = defaults.natives
    default_normalize = _normalizers(plugin, "defaults.normalize", defaults.normalize)
    seen: set[str] = set()
    cases: list[Case] = []
    for index, raw in enumerate(raw_cases):
        case = _case_table(plugin, index, raw, seen)
        where = f"case.{case.name}."
        command = case.command if case.command is not None else defaults.command
        if command is None:
            raise CasesError(plugin, f"{where}command", "required: give `command` in the case or in [defaults]")
        native = case.native if case.native is not None else natives.get(command, defaults.native)
        if native is None:
            raise CasesError(plugin, f"{where}native", "required: give `native` in the case, or in [defaults] "
                             "(`native`, `natives`)")
        env = {**defaults.env, **case.env}
        steps: list[Step] = []
        if case.step:
            for key in ("args", "stdin", "stdin-base64"):
                if key in raw:
                    raise CasesError(plugin, f"{where}{key}", "a case with [[case.step]] gives it in each step")
            for i, st in enumerate(case.step):
                scmd = st.command if st.command is not None else command
                snative = st.native if st.native is not None else \
                    native if scmd == command else natives.get(scmd, f"/usr/bin/{scmd}")  # fmt: skip
                steps.append(Step(scmd, snative, tuple(st.args), _data(plugin, f"{where}step[{i}].", st.stdin, st.stdin_base64),
                                  {**env, **st.env}))  # fmt: skip
        else:
            steps.append(Step(command, native, tuple(case.args), _data(plugin, where, case.stdin, case.stdin_base64), env))
        compare_items = tuple(case.compare if case.compare is not None else defaults.compare)
        for item in compare_items:
            if item not in _STREAMS and not (item.startswith("files:") and len(item) > 6):
                raise CasesError(plugin, f"{where}compare", f"{item!r}: use stdout, stderr, status or files:NAME")
        cases.append(Case(
            plugin=plugin, name=case.name, steps=tuple(steps), files=_files(plugin, where, case),
            status=case.status, compare=compare_items, xfail=case.xfail,
            timeout=float(case.timeout if case.timeout is not None else defaults.timeout),
            normalize=default_normalize + _normalizers(plugin, f"{where}normalize", case.normalize),
            network=case.network if case.network is not None else defaults.network,
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
