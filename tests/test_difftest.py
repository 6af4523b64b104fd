"""The differential test runner itself: loading cases.toml, normalising, comparing, and one
real native-vs-WASIX run of a tiny C program (no package build)."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from wasix_backend.difftest import CasesError, Outcome, compare, load_cases, run_native, run_wasix


def _cases(tmp_path: Path, text: str, plugin: str = "demo") -> Path:
    folder = tmp_path / plugin
    folder.mkdir(exist_ok=True)
    path = folder / "cases.toml"
    path.write_text(textwrap.dedent(text))
    return path


BASE = """
[defaults]
command = "demo"
native = "/usr/bin/demo"
"""


def test_cases_load_with_defaults_steps_and_binary_data(tmp_path: Path) -> None:
    path = _cases(tmp_path, BASE + """
        normalize = [{ regex = '^demo: ', replace = 'D: ' }]
        natives = { other = "/bin/other" }
        [[case]]
        name = "one"
        args = ["-x"]
        files = { "d/e.txt" = "hi\\n" }
        files-base64 = { "b.bin" = "AAEC" }
        stdin = "in"
        status = 2
        compare = ["stdout", "files:d/e.txt"]
        [[case]]
        name = "two"
        xfail = "because"
          [[case.step]]
          args = ["a"]
          [[case.step]]
          command = "other"
          stdin-base64 = "/w=="
    """)
    one, two = load_cases(path)
    assert one.id == "demo::one" and one.status == 2 and one.compared_files == ["d/e.txt"]
    assert one.files == {"d/e.txt": b"hi\n", "b.bin": b"\x00\x01\x02"}
    assert one.steps[0].args == ("-x",) and one.steps[0].stdin == b"in" and one.steps[0].native == "/usr/bin/demo"
    assert one.normalize[0].apply("stderr", b"demo: oops\n") == b"D: oops\n"
    assert two.xfail == "because" and [s.command for s in two.steps] == ["demo", "other"]
    assert two.steps[1].native == "/bin/other" and two.steps[1].stdin == b"\xff"


@pytest.mark.parametrize(
    ("body", "key", "problem"),
    [
        ('[[case]]\nname = "a"\nargz = []\n', "case[0].argz", "did you mean 'args'"),
        ('[[case]]\nname = "a"\nargs = "x"\n', "case.a.args", "expected list of strings"),
        ('[[case]]\nname = "a"\n[[case]]\nname = "a"\n', "case[1].name", "used twice"),
        ('[[case]]\nname = "a"\ncompare = ["stdot"]\n', "case.a.compare", "files:NAME"),
        ('[[case]]\nname = "a"\nfiles = { "../x" = "" }\n', "case.a.files.../x", "relative path"),
        ('[[case]]\nname = "a"\nnormalize = [{ regex = "(" }]\n', "case.a.normalize[0].regex", "regular expression"),
        ('[[case]]\nname = "a"\nargs = ["x"]\n[[case.step]]\nargs = []\n', "case.a.args", "in each step"),
        ('[[case]]\nname = "a"\nstatus = true\n', "case.a.status", "expected integer"),
        ('[[case]]\nname = "a"\nnetwork = "yes"\n', "case.a.network", "expected bool"),
    ],
)
def test_bad_cases_name_plugin_and_key(tmp_path: Path, body: str, key: str, problem: str) -> None:
    path = _cases(tmp_path, BASE + body, plugin="grep")
    with pytest.raises(CasesError) as info:
        load_cases(path)
    assert info.value.plugin == "grep" and info.value.key == key, str(info.value)
    assert problem in str(info.value) and str(info.value).startswith("plugin 'grep': cases.toml key")


def test_network_is_off_unless_the_defaults_or_the_case_turn_it_on(tmp_path: Path) -> None:
    path = _cases(tmp_path, BASE + """
        network = true
        [[case]]
        name = "on"
        [[case]]
        name = "off"
        network = false
    """)
    on, off = load_cases(path)
    assert on.network and not off.network
    (plain,) = load_cases(_cases(tmp_path, BASE + '[[case]]\nname = "plain"\n', plugin="other"))
    assert plain.network is False


def test_compare_normalises_and_reports_each_difference(tmp_path: Path) -> None:
    path = _cases(tmp_path, BASE + """
        normalize = [{ regex = '[0-9]+ ms', replace = 'N ms', on = ["stdout"] }]
        [[case]]
        name = "c"
        status = 0
        compare = ["stdout", "stderr", "status", "files:out"]
    """)
    (case,) = load_cases(path)
    native = Outcome([b"took 12 ms\n"], [b"warn\n"], [0], {"out": b"x"})
    assert compare(case, native, Outcome([b"took 3 ms\n"], [b"warn\n"], [0], {"out": b"x"})) == []
    problems = compare(case, native, Outcome([b"took 3 ms\nmore\n"], [b"WARN\n"], [1], {"out": None}))
    text = "\n".join(problems)
    assert "stdout differs" in text and "+more" in text and "stderr differs" in text
    assert "exit status differs: native 0, wasix 1" in text and "wasix exited 1, the case expects 0" in text
    assert "file out differs" in text and "(no such file)" in text


# ------------------------------------------------------------- a real run, both sides ---
PROGRAM = r"""
#include <stdio.h>
#include <string.h>
/* upcase FILE: appends FILE upper-cased to FILE.up; echoes stdin; exits with argc. */
int main(int argc, char **argv) {
    int c;
    if (argc > 1) {
        char out[256]; snprintf(out, sizeof out, "%s.up", argv[1]);
        FILE *in = fopen(argv[1], "r"), *o = fopen(out, "a");
        if (!in) { fprintf(stderr, "%s: %s: cannot open\n", argv[0], argv[1]); return 9; }
        while ((c = fgetc(in)) != EOF) fputc(c >= 'a' && c <= 'z' ? c - 32 : c, o);
        fclose(o);
    }
    while ((c = getchar()) != EOF) putchar(c);
    return argc;
}
"""


@pytest.fixture(scope="module")
def upcase(tmp_path_factory: pytest.TempPathFactory, wasix_sysroot: Path) -> dict[str, Path]:
    from wasix_backend.toolchain import driver_bin_dir

    if not shutil.which("cc"):
        pytest.skip(reason="no native C compiler (apt-get install gcc)")
    root = tmp_path_factory.mktemp("upcase")
    (root / "upcase.c").write_text(PROGRAM)
    subprocess.run(["cc", "-O2", "-o", "upcase", "upcase.c"], cwd=root, check=True)
    env = {**os.environ, "WASIXCC_PROVIDER": "wasix", "WASIXCC_SYSROOT": str(wasix_sysroot)}
    subprocess.run([str(driver_bin_dir() / "wasixcc"), "-O2", "upcase.c", "-o", "upcase.wasm"], cwd=root, env=env, check=True)
    return {"native": root / "upcase", "wasm": root / "upcase.wasm"}


@pytest.mark.build
def test_a_real_multi_step_case_matches(tmp_path: Path, upcase: dict[str, Path]) -> None:
    path = _cases(tmp_path, f"""
        [defaults]
        command = "upcase"
        native = "{upcase['native']}"
        [[case]]
        name = "twice"
        files = {{ "d/a.txt" = "abc\\n" }}
        status = 2
        compare = ["stdout", "stderr", "status", "files:d/a.txt.up"]
          [[case.step]]
          args = ["d/a.txt"]
          stdin = "héllo\\n"
          [[case.step]]
          args = ["d/a.txt"]
        [[case]]
        name = "missing"
        args = ["nope"]
        status = 9
    """)
    twice, missing = load_cases(path)
    modules = {"upcase": upcase["wasm"]}
    native, wasix = run_native(twice), run_wasix(twice, modules)
    assert wasix.files["d/a.txt.up"] == b"ABC\nABC\n" and wasix.stdout[0] == "héllo\n".encode()
    assert compare(twice, native, wasix) == []
    assert compare(missing, run_native(missing), run_wasix(missing, modules)) == []


@pytest.mark.build
def test_a_real_difference_is_reported(tmp_path: Path, upcase: dict[str, Path]) -> None:
    # The native side is another program (cat): outputs and status differ, and the runner says so.
    path = _cases(tmp_path, """
        [defaults]
        command = "upcase"
        native = "/bin/cat"
        [[case]]
        name = "differs"
        args = ["a"]
        files = { a = "x\\n" }
        stdin = ""
        xfail = "cat is not upcase"
    """)
    (case,) = load_cases(path)
    problems = compare(case, run_native(case), run_wasix(case, {"upcase": upcase["wasm"]}))
    assert any("stdout differs" in p for p in problems) and any("exit status differs" in p for p in problems)


def test_the_documented_example_loads(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "plugins.md").read_text()
    block = doc.split("### Differential tests: `cases.toml`", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    basic, roundtrip = load_cases(_cases(tmp_path, block, plugin="grep"))
    assert basic.files["d/e/f.txt"] == b"nested\n" and basic.compared_files == ["out.txt"]
    assert [s.native for s in roundtrip.steps] == ["/usr/bin/grep", "/usr/bin/gunzip"]


def test_cases_toml_is_not_part_of_the_store_key(tmp_path: Path) -> None:
    # Editing the differential cases must not rebuild the package (as with tests/).
    from wasix_backend.plugins import _plugin_files

    folder = tmp_path / "demo"
    (folder / "patches").mkdir(parents=True)
    for rel in ("recipe.toml", "patches/0001-x.patch", "cases.toml", "tests/test_demo.py", "sub/cases.toml"):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text("x")
    names = sorted(p.relative_to(folder).as_posix() for p in _plugin_files(folder))
    assert names == ["patches/0001-x.patch", "recipe.toml", "sub/cases.toml"]


def test_a_native_build_of_the_package_stands_in_for_a_debian_binary(tmp_path: Path) -> None:
    from wasix_backend.difftest import check_natives, native_builds, with_native_builds

    path = _cases(tmp_path, """
        [defaults]
        command = "crab"
        native = "build:crab"
        [[case]]
        name = "one"
        args = ["hi"]
        [[case]]
        name = "other"
        native = "/bin/true"
        """)  # fmt: skip
    one, other = load_cases(path)
    assert native_builds([one, other]) == {"crab"} and native_builds([other]) == set()
    assert "build:crab" in str(check_natives([one])) and "not made" in str(check_natives([one]))
    built = with_native_builds(one, {"crab": Path("/bin/echo")})
    assert built.steps[0].native == "/bin/echo" and check_natives([built]) is None
    assert with_native_builds(other, {"crab": Path("/bin/echo")}) == other


def test_native_builds_are_for_cargo_recipes_only(tmp_path: Path) -> None:
    from wasix_backend.nativebuild import NativeBuildError, native_build
    from wasix_backend.plugins import load_plugins

    loaded = load_plugins(entry_points=False)
    with pytest.raises(NativeBuildError, match=r"sed: .*cargo recipes only .*'autotools'"):
        native_build(loaded.recipes["sed"], loaded, tmp_path)
