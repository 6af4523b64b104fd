"""The wasixcc driver: settings, command-line classification, providers, real compiles."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from wasix_backend.errors import ToolchainError
from wasix_backend.runtime import run
from wasix_backend.toolchain import driver_bin_dir, get_toolchain
from wasix_backend.toolchain.driver import main, tool_for
from wasix_backend.toolchain.providers import WasixProvider, parse_invocation
from wasix_backend.toolchain.settings import parse_settings

# ---------------------------------------------------------------- settings


def test_settings_from_env_and_args_args_win() -> None:
    env = {"WASIXCC_RUN_WASM_OPT": "yes", "WASIXCC_COMPILER_FLAGS": "-DA=1:-DB=2", "PATH": "/bin"}
    settings, rest = parse_settings(["-sRUN_WASM_OPT=no", "-c", "x.c", "-sLINKER_FLAGS=-Wl,-z,x -lfoo"], env)
    assert settings.run_wasm_opt is False
    assert settings.compiler_flags == ["-DA=1", "-DB=2"]
    assert settings.linker_flags == ["-Wl,-z,x", "-lfoo"]
    assert rest == ["-c", "x.c"]


def test_settings_reject_unknown_keys_and_bad_values() -> None:
    with pytest.raises(ToolchainError, match="unknown setting NOPE"):
        parse_settings(["-sNOPE=1"], {})
    with pytest.raises(ToolchainError, match=r"RUN_WASM_OPT .* yes or no"):
        parse_settings(["-sRUN_WASM_OPT=maybe"], {})
    with pytest.raises(ToolchainError, match=r"MODULE_KIND .* one of"):
        parse_settings([], {"WASIXCC_MODULE_KIND": "exe"})
    with pytest.raises(ToolchainError, match="PIC needs WASM_EXCEPTIONS"):
        parse_settings(["-sPIC=yes"], {})


def test_lowercase_s_flags_are_left_to_the_compiler() -> None:
    # `-s` (strip) and `-std=c99` are compiler flags, not settings.
    _, rest = parse_settings(["-s", "-std=c99", "-sfoo=1"], {})
    assert rest == ["-s", "-std=c99", "-sfoo=1"]


def test_sysroot_flavour_follows_exceptions_and_pic() -> None:
    assert parse_settings([], {})[0].sysroot_flavour == "sysroot"
    assert parse_settings(["-sWASM_EXCEPTIONS=yes"], {})[0].sysroot_flavour == "sysroot-eh"
    assert parse_settings(["-sWASM_EXCEPTIONS=1", "-sPIC=1"], {})[0].sysroot_flavour == "sysroot-ehpic"


# ---------------------------------------------------------------- command lines


@pytest.mark.parametrize(
    ("args", "links", "output", "has_opt"),
    [
        (["-c", "a.c", "-o", "a.o"], False, "a.o", False),
        (["a.c", "-O2", "-o", "prog"], True, "prog", True),
        (["a.o", "b.o", "-lm"], True, None, False),
        (["-E", "a.c"], False, None, False),
        (["--version"], False, None, False),
        (["-I", "inc", "-o", "x", "-Os", "main.c"], True, "x", True),
        (["-oout", "-x", "c", "-"], True, "out", False),
        (["-print-prog-name=ld"], False, None, False),
    ],
)
def test_parse_invocation(args: list[str], links: bool, output: str | None, has_opt: bool) -> None:
    inv = parse_invocation(args, cxx=False)
    assert (inv.links, inv.output, inv.has_opt_level) == (links, output, has_opt)


def test_tool_names() -> None:
    assert tool_for("/usr/bin/wasixcc") == "cc"
    assert tool_for("wasix++") == "c++"
    assert tool_for("wasixcc++") == "c++"
    assert tool_for("WASIXAR.exe") == "ar"
    assert tool_for("wasixranlib") == "ranlib"
    assert tool_for("gcc") is None


def test_unknown_program_name_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gcc", "-c", "x.c"]) == 2
    assert "call it as one of wasixcc" in capsys.readouterr().err


# ---------------------------------------------------------------- providers


def test_wasix_provider_without_sysroot_says_what_to_do(tmp_path: Path) -> None:
    settings, _ = parse_settings(["-sSYSROOT=" + str(tmp_path / "missing")], {})
    provider = WasixProvider(settings)
    assert provider.problem() is not None
    with pytest.raises(ToolchainError, match="wasix provider cannot be used"):
        provider.compile_command(parse_invocation(["a.c"], cxx=False))


def test_wasix_provider_uses_upstream_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command lines wasixcc would run: upstream's compile and link flags, in order."""
    # The launcher's mirror step is compiled by the real clang; these tools are empty files.
    monkeypatch.setattr(WasixProvider, "mirror_library", lambda self: tmp_path / "libmirror.a")
    sysroot = tmp_path / "sysroot"
    (sysroot / "lib").mkdir(parents=True)
    llvm = tmp_path / "llvm"
    (llvm / "bin").mkdir(parents=True)
    for tool in ("clang", "clang++", "wasm-ld"):
        (llvm / "bin" / tool).touch()
    settings, _ = parse_settings([f"-sSYSROOT={sysroot}", f"-sLLVM_LOCATION={llvm}"], {})
    provider = WasixProvider(settings)
    assert provider.problem() is None
    compile_only = provider.compile_command(parse_invocation(["-c", "a.c"], cxx=False))
    assert compile_only[0] == str(llvm / "bin" / "clang")
    for flag in ("--target=wasm32-wasi", f"--sysroot={sysroot}", "-matomics", "-fno-exceptions", "-ftls-model=local-exec"):
        assert flag in compile_only
    assert not any(a.startswith("-Wl,") for a in compile_only)
    link = provider.compile_command(parse_invocation(["a.o", "-o", "prog"], cxx=True))
    assert link[0] == str(llvm / "bin" / "clang++")
    # One -Wl per linker flag: clang would split a comma-joined list.
    assert "-Wl,--extra-features=atomics" in link and "-Wl,--shared-memory" in link
    assert "-Wl,-z,stack-size=8388608" in link
    assert link.index("a.o") < link.index("-lc")
    assert provider.wasm_opt_args()[:3] == ["--enable-threads", "--enable-bulk-memory", "--enable-mutable-globals"]
    assert "--asyncify" in provider.wasm_opt_args()
    eh, _ = parse_settings([f"-sSYSROOT={sysroot}", f"-sLLVM_LOCATION={llvm}", "-sWASM_EXCEPTIONS=yes"], {})
    eh_cmd = WasixProvider(eh).compile_command(parse_invocation(["-c", "a.c"], cxx=False))
    assert "-fwasm-exceptions" in eh_cmd and "-fno-exceptions" not in eh_cmd
    assert "--asyncify" not in WasixProvider(eh).wasm_opt_args()


def test_get_toolchain_env_points_at_the_driver() -> None:
    tc = get_toolchain()
    env = tc.env()
    for var in ("CC", "CXX", "AR", "RANLIB", "NM", "LD"):
        assert os.access(env[var], os.X_OK), var
    assert env["CPP"].endswith("wasixcc -E")
    assert tc.configure_env()["WASIXCC_RUN_WASM_OPT"] == "no"
    assert tc.description.startswith("wasix llvm=") and len(tc.key) == 16
    with pytest.raises(ToolchainError, match="unknown toolchain provider"):
        get_toolchain("gcc")


# ---------------------------------------------------------------- real compiles (each provider)


def _driver_env() -> dict[str, str]:
    return dict(os.environ)  # the build tier's: the real sysroot (conftest)


def _wasixcc(*args: str | Path, cwd: Path, tool: str = "wasixcc", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(driver_bin_dir() / tool), *map(str, args)],
        cwd=cwd, env=env or _driver_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip


HELLO = textwrap.dedent(
    """
    #include <stdio.h>
    #include "greet.h"
    int main(int argc, char **argv) { printf("%s %s %d\\n", GREETING, greet(), argc); return 3; }
    """
)


@pytest.mark.build
def test_compile_archive_link_and_run(tmp_path: Path, provider: str, provider_env) -> None:
    env = {**os.environ, **provider_env(provider)}
    (tmp_path / "greet.h").write_text("const char *greet(void);\n")
    (tmp_path / "greet.c").write_text('const char *greet(void) { return "from a library"; }\n')
    (tmp_path / "main.c").write_text(HELLO)
    assert _wasixcc("-c", "greet.c", "-o", "greet.o", cwd=tmp_path, env=env).returncode == 0
    ar = _wasixcc("rcs", "libgreet.a", "greet.o", cwd=tmp_path, env=env, tool="wasixar")
    assert ar.returncode == 0, ar.stderr
    assert _wasixcc("libgreet.a", cwd=tmp_path, env=env, tool="wasixranlib").returncode == 0
    nm = _wasixcc("libgreet.a", cwd=tmp_path, env=env, tool="wasixnm")
    assert nm.returncode == 0 and " T greet" in nm.stdout
    # List settings are split like a shell would: quote to keep the string literal.
    build = _wasixcc("-sCOMPILER_FLAGS=-DGREETING='\"hi\"' -Wall", "main.c", "-L.", "-lgreet", "-o", "hello.wasm", cwd=tmp_path, env=env)
    assert build.returncode == 0, build.stderr
    data = (tmp_path / "hello.wasm").read_bytes()
    assert data[:4] == b"\0asm"
    result = run(tmp_path / "hello.wasm", ["a", "b"])
    assert result.exit_code == 3
    assert result.text == "hi from a library 3\n"


@pytest.mark.build
def test_link_without_output_writes_a_out(tmp_path: Path, provider: str, provider_env) -> None:
    env = {**os.environ, **provider_env(provider)}
    # configure finds the executable suffix this way: clang's a.out, not a.wasm.
    (tmp_path / "conftest.c").write_text("int main(void) { return 0; }\n")
    assert _wasixcc("conftest.c", cwd=tmp_path, env=env).returncode == 0
    assert (tmp_path / "a.out").read_bytes()[:4] == b"\0asm"
    assert not list(tmp_path.glob("a.wasm"))


@pytest.mark.build
def test_compile_errors_keep_the_compilers_status(tmp_path: Path, provider: str, provider_env) -> None:
    env = {**os.environ, **provider_env(provider)}
    (tmp_path / "bad.c").write_text("int main(void) { return missing; }\n")
    proc = _wasixcc("-c", "bad.c", cwd=tmp_path, env=env)
    assert proc.returncode != 0
    assert "missing" in proc.stderr


@pytest.mark.build
def test_bad_setting_fails_with_message(tmp_path: Path, provider: str, provider_env) -> None:
    env = {**os.environ, **provider_env(provider)}
    proc = _wasixcc("-sWASM_EXCEPTIONS=perhaps", "-c", "x.c", cwd=tmp_path, env=env)
    assert proc.returncode == 2
    assert "WASM_EXCEPTIONS" in proc.stderr and "yes or no" in proc.stderr


# C++ without its standard library: the wasix-libc sysroot carries no libc++ (README, limits),
# so a link names -nostdlib++ (clang++ adds -lc++ -lc++abi otherwise, and fails naming them).
@pytest.mark.build
def test_cxx_driver(tmp_path: Path) -> None:
    (tmp_path / "m.cc").write_text(
        "#include <stdio.h>\ntemplate <typename T> struct Box { T v; T twice() const { return v + v; } };\n"
        "int main() { auto say = [](const char *s) { puts(s); }; Box<int> b{21}; if (b.twice() == 42) say(\"c++ ok\"); }\n"
    )
    proc = _wasixcc("m.cc", "-o", "m.wasm", cwd=tmp_path, tool="wasix++")
    assert proc.returncode != 0 and "-lc++" in proc.stderr
    proc = _wasixcc("-nostdlib++", "m.cc", "-o", "m.wasm", cwd=tmp_path, tool="wasix++")
    assert proc.returncode == 0, proc.stderr
    assert run(tmp_path / "m.wasm").text == "c++ ok\n"


@pytest.mark.build
@pytest.mark.skipif(shutil.which("wasm-opt") is None, reason="binaryen's wasm-opt is not installed")
def test_run_wasm_opt_on_request(tmp_path: Path) -> None:
    src = "#include <stdio.h>\nint main(void) { puts(\"optimised\"); return 0; }\n"
    (tmp_path / "o.c").write_text(src)
    env = {**_driver_env(), "WASIXCC_RUN_WASM_OPT": "yes", "WASIXCC_WASM_OPT_FLAGS": "--strip-debug"}
    proc = _wasixcc("o.c", "-o", "opt.wasm", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert _wasixcc("o.c", "-o", "plain.wasm", cwd=tmp_path).returncode == 0
    assert (tmp_path / "opt.wasm").stat().st_size < (tmp_path / "plain.wasm").stat().st_size
    assert run(tmp_path / "opt.wasm").text == "optimised\n"


# ---------------------------------------------------------------- the wasix provider, when present


@pytest.mark.build
def test_termios_and_dup_compile_and_run(tmp_path: Path, provider: str, provider_env) -> None:
    (tmp_path / "t.c").write_text(
        textwrap.dedent(
            """
            #include <stdio.h>
            #include <termios.h>
            #include <unistd.h>
            int main(void) { struct termios t; int r = tcgetattr(0, &t); int d = dup(1);
                             printf("r=%d dup=%d\\n", r, d >= 0); return 0; }
            """
        )
    )
    env = {**os.environ, **provider_env(provider)}
    proc = _wasixcc("-O2", "t.c", "-o", "t.wasm", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "dup=1" in run(tmp_path / "t.wasm").text


def test_shell_env_puts_the_drivers_on_path() -> None:
    from wasix_backend.toolchain.shell import shell_env

    tc = get_toolchain()
    env = shell_env(tc)
    assert env["PATH"].split(os.pathsep)[0] == str(tc.bin_dir)
    assert shutil.which("wasixcc", path=env["PATH"]) is not None
    assert env["CC"] == str(tc.tool("wasixcc")) and tc.identity.startswith(tc.description)
    assert env["PKG_CONFIG_LIBDIR"] == "" and env["CFLAGS"] == "-O2"
