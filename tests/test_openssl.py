"""The openssl command (plugins/openssl) where cases.toml cannot reach: ``s_client`` against a
real TLS server on 127.0.0.1 (Python's ssl, the test CA of tests/test_curl.py), and files
made by one side and read by the other — Debian's /usr/bin/openssl natively, openssl.wasm
under wasmer-sdk — in both directions, so the two agree on formats, not only with themselves.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import venv_with_wheels
from httpserver import Server
from test_collection import build_json, collection_data, collection_modules  # noqa: F401  (the session's builds)
from test_curl import BODY, Side, https, pki, www  # noqa: F401  (the HTTPS server and its test CA)

from wasix_backend.runtime import GUEST_CWD, run
from wasix_backend.toolchain import driver_bin_dir

pytestmark = pytest.mark.collection

NATIVE = Path("/usr/bin/openssl")
PLAIN = b"attack at dawn\nline two\n"


@dataclass
class OpenSSL:
    """The package's module and what its sandbox holds besides (openssl.cnf at /usr/lib/ssl)."""

    module: Path
    data: Mapping[str, bytes]


@pytest.fixture(scope="module")
def openssl(
    collection_modules: Callable[[str], dict[str, Path]],  # noqa: F811
    collection_data: Callable[[str], dict[str, bytes]],  # noqa: F811
) -> OpenSSL:
    if not NATIVE.is_file():
        pytest.skip(reason="Debian's openssl is not installed (apt-get install openssl)")
    return OpenSSL(collection_modules("openssl")["openssl"], collection_data("openssl"))


def native(args: list[str], files: Mapping[str, bytes] = {}, read: tuple[str, ...] = (), stdin: bytes = b"") -> Side:
    """Debian's openssl in a fresh directory holding ``files``."""
    with tempfile.TemporaryDirectory(prefix="openssl-native-") as tmp:
        for name, data in files.items():
            (Path(tmp) / name).write_bytes(data)
        proc = subprocess.run(["openssl", *args], executable=NATIVE, cwd=tmp, env={"PATH": "/usr/bin:/bin"},
                              input=stdin, capture_output=True, timeout=120)  # fmt: skip
        return Side(proc.returncode, proc.stdout, proc.stderr,
                    {n: (Path(tmp) / n).read_bytes() if (Path(tmp) / n).is_file() else None for n in read})  # fmt: skip


def wasix(
    tool: OpenSSL, args: list[str], files: Mapping[str, bytes] = {}, read: tuple[str, ...] = (),
    stdin: bytes = b"", network: bool = False,
) -> Side:  # fmt: skip
    """openssl.wasm with ``files`` at /workspace (its working directory)."""
    result = run(tool.module, args, stdin=stdin, files={**tool.data, **{f"{GUEST_CWD}/{n}": d for n, d in files.items()}},
                 read_back=[f"{GUEST_CWD}/{n}" for n in read], network=network, timeout=120)  # fmt: skip
    return Side(result.exit_code, result.stdout, result.stderr, {n: result.files.get(f"{GUEST_CWD}/{n}") for n in read})


def _port(srv: Server) -> str:
    return srv.url.rsplit(":", 1)[1]


def _http(data: bytes) -> bytes:
    """An HTTP reply without what changes between requests."""
    return re.sub(rb"(?mi)^(Date|Server): .*\r?$", rb"\1: X", data)


def _errors(data: bytes) -> bytes:
    """OpenSSL's error lines without the thread id and the source line (cases.toml's rule)."""
    data = re.sub(rb"(?m)^[0-9A-F]+:error:", b"TID:error:", data)
    return re.sub(rb"(?:\.\./)?([a-z0-9_/]+\.c):[0-9]+:", rb"\1:N:", data)


#: Python's ssl server closes the connection without a TLS close_notify, which OpenSSL 3
#: reports as an error after the page: s_client exits 1, natively as under WASIX.
UNEXPECTED_EOF = b"SSL routines:ssl3_read_n:unexpected eof while reading"


# ------------------------------------------------------------------------------- s_client ---
def test_s_client_fetches_a_page_over_tls(openssl: OpenSSL, https: Server, pki: dict[str, bytes]) -> None:  # noqa: F811
    """-brief: the handshake's summary on stderr (protocol, cipher suite, peer, verification),
    which two OpenSSL 3.0.19s against one server agree on; the page on stdout."""
    args = ["s_client", "-connect", f"127.0.0.1:{_port(https)}", "-servername", "localhost", "-CAfile", "ca.pem",
            "-verify_return_error", "-brief", "-ign_eof"]  # fmt: skip
    request = b"GET /a.txt HTTP/1.0\r\nHost: localhost\r\n\r\n"
    files = {"ca.pem": pki["ca.pem"]}
    mine = wasix(openssl, args, files, stdin=request, network=True)
    theirs = native(args, files, stdin=request)
    assert (theirs.status, mine.status) == (1, 1), (theirs, mine)
    assert b"Verification: OK" in mine.stderr and b"Protocol version: TLSv1.3" in mine.stderr
    assert UNEXPECTED_EOF in mine.stderr
    assert _errors(mine.stderr) == _errors(theirs.stderr)
    assert _http(mine.stdout) == _http(theirs.stdout)
    assert mine.stdout.startswith(b"HTTP/1.0 200 OK\r\n") and mine.stdout.endswith(b"\r\n\r\n" + BODY)


def test_s_client_with_tls12_and_a_named_cipher(openssl: OpenSSL, https: Server, pki: dict[str, bytes]) -> None:  # noqa: F811
    args = ["s_client", "-connect", f"127.0.0.1:{_port(https)}", "-CAfile", "ca.pem", "-verify_return_error",
            "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256", "-brief", "-ign_eof"]  # fmt: skip
    request = b"GET /a.txt HTTP/1.0\r\n\r\n"
    mine = wasix(openssl, args, {"ca.pem": pki["ca.pem"]}, stdin=request, network=True)
    theirs = native(args, {"ca.pem": pki["ca.pem"]}, stdin=request)
    assert (theirs.status, mine.status) == (1, 1), (theirs, mine)  # UNEXPECTED_EOF, after the page
    assert b"Protocol version: TLSv1.2\nCiphersuite: ECDHE-ECDSA-AES128-GCM-SHA256\n" in mine.stderr
    assert _errors(mine.stderr) == _errors(theirs.stderr)
    assert mine.stdout.endswith(BODY)


def test_s_client_refuses_a_server_of_another_ca(openssl: OpenSSL, https: Server, pki: dict[str, bytes]) -> None:  # noqa: F811
    args = ["s_client", "-connect", f"127.0.0.1:{_port(https)}", "-CAfile", "other.pem", "-verify_return_error", "-brief"]
    mine = wasix(openssl, args, {"other.pem": pki["other-ca.pem"]}, network=True)
    theirs = native(args, {"other.pem": pki["other-ca.pem"]})
    assert (theirs.status, mine.status) == (1, 1), (theirs, mine)
    assert b"verify error:num=20:unable to get local issuer certificate" in mine.stderr
    assert _errors(mine.stderr) == _errors(theirs.stderr)
    assert mine.stdout == theirs.stdout == b""


def test_s_client_without_network_cannot_connect(openssl: OpenSSL, https: Server) -> None:  # noqa: F811
    # run()'s default: no sockets to the host, so the live server is out of reach.
    mine = wasix(openssl, ["s_client", "-connect", f"127.0.0.1:{_port(https)}", "-brief"])
    assert mine.status == 1 and b"connect:errno=" in mine.stderr


# --------------------------------------------------- made on one side, read on the other ---
def test_enc_each_side_decrypts_the_others_ciphertext(openssl: OpenSSL) -> None:
    args = ["enc", "-aes-256-cbc", "-pbkdf2", "-pass", "pass:wasix-secret", "-a"]
    by_wasix = wasix(openssl, [*args, "-in", "p.txt", "-out", "p.enc"], {"p.txt": PLAIN}, read=("p.enc",))
    by_native = native([*args, "-in", "p.txt", "-out", "p.enc"], {"p.txt": PLAIN}, read=("p.enc",))
    for made in (by_wasix, by_native):
        assert made.status == 0 and made.files["p.enc"], made
    assert by_wasix.files["p.enc"] != by_native.files["p.enc"]  # random salts
    assert native([*args, "-d", "-in", "p.enc"], {"p.enc": by_wasix.files["p.enc"] or b""}).stdout == PLAIN
    assert wasix(openssl, [*args, "-d", "-in", "p.enc"], {"p.enc": by_native.files["p.enc"] or b""}).stdout == PLAIN


def test_a_certificate_made_under_wasix_is_read_by_debians_openssl(openssl: OpenSSL) -> None:
    """req -x509 -newkey reads the [req] section of the package's openssl.cnf."""
    made = wasix(openssl, ["req", "-x509", "-newkey", "rsa:2048", "-noenc", "-keyout", "k.pem", "-out", "c.pem",
                           "-subj", "/CN=made.in.wasix/O=wasix-backend", "-days", "2"], read=("k.pem", "c.pem"))  # fmt: skip
    assert made.status == 0, made.stderr
    files = {n: made.files[n] or b"" for n in ("k.pem", "c.pem")}
    shown = native(["x509", "-in", "c.pem", "-noout", "-subject", "-issuer", "-ext", "basicConstraints"], files)
    assert shown.status == 0 and shown.stdout == (
        b"subject=CN = made.in.wasix, O = wasix-backend\nissuer=CN = made.in.wasix, O = wasix-backend\n"
        b"X509v3 Basic Constraints: critical\n    CA:TRUE\n"
    )  # fmt: skip
    assert native(["verify", "-CAfile", "c.pem", "c.pem"], files).stdout == b"c.pem: OK\n"
    assert native(["pkey", "-in", "k.pem", "-check", "-noout"], files).stdout == b"Key is valid\n"
    # and the key belongs to the certificate
    assert native(["x509", "-in", "c.pem", "-noout", "-pubkey"], files).stdout == native(["pkey", "-in", "k.pem", "-pubout"], files).stdout


def test_signatures_verify_across_sides(openssl: OpenSSL) -> None:
    key = native(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "k.pem"], read=("k.pem",))
    files = {"k.pem": key.files["k.pem"] or b"", "msg.txt": PLAIN}
    pub = native(["pkey", "-in", "k.pem", "-pubout"], files).stdout
    sign = ["dgst", "-sha256", "-sign", "k.pem", "-out", "sig.bin", "msg.txt"]
    by_wasix = wasix(openssl, sign, files, read=("sig.bin",))
    assert by_wasix.status == 0, by_wasix.stderr
    verify = ["dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig.bin", "msg.txt"]
    checked = native(verify, {**files, "pub.pem": pub, "sig.bin": by_wasix.files["sig.bin"] or b""})
    assert (checked.status, checked.stdout) == (0, b"Verified OK\n")
    by_native = native(sign, files, read=("sig.bin",))
    checked = wasix(openssl, verify, {**files, "pub.pem": pub, "sig.bin": by_native.files["sig.bin"] or b""})
    assert (checked.status, checked.stdout) == (0, b"Verified OK\n")
    tampered = wasix(openssl, verify, {**files, "msg.txt": PLAIN + b"!", "pub.pem": pub, "sig.bin": by_native.files["sig.bin"] or b""})
    assert (tampered.status, tampered.stdout) == (1, b"Verification failure\n")


# --------------------------------------------------------------------------------- wheel ---
@pytest.fixture(scope="module")
def openssl_bin(openssl: OpenSSL, provider_env, tmp_path_factory: pytest.TempPathFactory, runtime_wheelhouse: Path) -> Path:
    """``pip install wasix-openssl`` from a wheel of the session's build, in a fresh venv."""
    return venv_with_wheels(tmp_path_factory.mktemp("openssl-wheel"), ["openssl"], provider_env("wasix"), runtime_wheelhouse)


def test_the_wheels_openssl_makes_a_certificate_in_the_working_directory(openssl_bin: Path, tmp_path: Path) -> None:
    """The installed command finds openssl.cnf where it was built to look (/usr/lib/ssl, the
    package's data) and writes its files to the host's working directory."""
    env = {"PATH": f"{openssl_bin}:/usr/bin:/bin", "HOME": str(tmp_path), "WASIX_RUNTIME": "sdk"}
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-noenc",
                           "-keyout", "k.pem", "-out", "c.pem", "-subj", "/CN=wheel.test", "-days", "1"],
                          cwd=tmp_path, env=env, capture_output=True, timeout=120)  # fmt: skip
    assert made.returncode == 0, made.stderr
    shown = subprocess.run([str(NATIVE), "x509", "-in", "c.pem", "-noout", "-subject"], cwd=tmp_path, capture_output=True, timeout=60)
    assert shown.stdout == b"subject=CN = wheel.test\n"
    digest = subprocess.run(["openssl", "dgst", "-sha256", "c.pem"], cwd=tmp_path, env=env, capture_output=True, timeout=120)
    expected = subprocess.run([str(NATIVE), "dgst", "-sha256", "c.pem"], cwd=tmp_path, capture_output=True, timeout=60)
    assert (digest.returncode, digest.stdout) == (0, expected.stdout)


# ------------------------------------------------------------------------------ libraries ---
CONSUMER = r"""
    #include <stdio.h>
    #include <openssl/evp.h>
    #include <openssl/rand.h>
    #include <openssl/ssl.h>

    int main(void) {
        unsigned char md[32], r[300];
        unsigned int n = 0;
        EVP_Digest("abc", 3, md, &n, EVP_sha256(), NULL);
        for (unsigned i = 0; i < n; i++)
            printf("%02x", md[i]);
        /* more than getentropy() gives in one call */
        printf("\nRAND_bytes %d\n", RAND_bytes(r, sizeof r));
        SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
        printf("SSL_CTX %s, %s\n", ctx ? "made" : "failed", OpenSSL_version(OPENSSL_VERSION));
        SSL_CTX_free(ctx);
        return 0;
    }
"""


@pytest.fixture(scope="module")
def openssl_prefix(openssl: OpenSSL, provider_env, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package's install prefix in the test store (the session's build: a store hit)."""
    status, summary = build_json("openssl", tmp_path_factory.mktemp("openssl-lib"), provider_env("wasix"))
    assert status == 0, summary.get("openssl")
    return Path(summary["openssl"]["store"])


def test_a_program_links_the_static_libraries(openssl_prefix: Path, provider_env, tmp_path: Path) -> None:
    """What a dependent recipe gets through [dependencies]: headers, libssl.a and libcrypto.a
    (with the pkg-config files naming them), linked into a program that hashes, draws random
    bytes and makes a TLS context under the real runtime."""
    pc = (openssl_prefix / "lib" / "pkgconfig" / "libssl.pc").read_text()
    assert "Libs: -L${libdir} -lssl" in pc and "Requires.private: libcrypto" in pc
    (tmp_path / "use.c").write_text(textwrap.dedent(CONSUMER))
    proc = subprocess.run([str(driver_bin_dir() / "wasixcc"), "-O2", f"-I{openssl_prefix / 'include'}", "use.c",
                           f"-L{openssl_prefix / 'lib'}", "-lssl", "-lcrypto", "-o", "use.wasm"],
                          cwd=tmp_path, env={**os.environ, **provider_env("wasix")}, capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = run(tmp_path / "use.wasm", timeout=120)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.decode().splitlines() == [
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",  # SHA-256("abc"), FIPS 180-2
        "RAND_bytes 1",
        "SSL_CTX made, OpenSSL 3.0.19 27 Jan 2026",
    ]
