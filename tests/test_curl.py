"""curl with Mbed TLS and zlib (plugins/curl) against real servers on 127.0.0.1: HTTP from
tests/httpserver.py, and HTTPS from the same server with Python's ssl and a test CA made here.

Each request runs twice against the same server — Debian's /usr/bin/curl natively and
curl.wasm under wasmer-sdk with ``network=True`` — and the outputs are compared after
normalising what the server changes between requests (Date, Last-Modified, Server, timings).
"""

from __future__ import annotations

import datetime
import gzip
import ipaddress
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import pytest
from conftest import venv_with_wheels
from httpserver import Server, serve
from test_collection import collection_modules  # noqa: F401  (the session's builds)

from wasix_backend.runtime import GUEST_CWD, run

pytestmark = pytest.mark.collection

NATIVE = Path("/usr/bin/curl")
BODY = b"hello from the host\n"


@dataclass
class Side:
    status: int
    stdout: bytes
    stderr: bytes
    files: dict[str, bytes | None] = field(default_factory=dict)


def _normalise(data: bytes) -> bytes:
    data = re.sub(rb"(?mi)^(Date|Last-Modified|Server): .*\r?$", rb"\1: X", data)
    return re.sub(rb"after [0-9]+ ms", b"after N ms", data)


class _Routes(SimpleHTTPRequestHandler):
    """Paths the directory server does not have: a redirect, an echo for POST, gzip content."""

    def do_GET(self) -> None:
        if self.path == "/redirect":
            self._reply(302, b"", {"Location": "/a.txt"})
        elif self.path == "/gz":
            self._reply(200, gzip.compress(BODY * 50, mtime=0), {"Content-Encoding": "gzip"})
        else:
            super().do_GET()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        kind = self.headers.get("Content-Type", "")
        self._reply(200, f"posted ({kind}): ".encode() + body + b"\n", {})

    def _reply(self, code: int, body: bytes, headers: Mapping[str, str]) -> None:
        self.send_response(code)
        for name, value in {"Content-Type": "text/plain", **headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def curl(collection_modules: Callable[[str], dict[str, Path]]) -> Path:  # noqa: F811
    if not NATIVE.is_file():
        pytest.skip(reason="Debian's curl is not installed (apt-get install curl)")
    return collection_modules("curl")["curl"]


@pytest.fixture(scope="module")
def www(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("www")
    (root / "a.txt").write_bytes(BODY)
    return root


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A test CA, a server certificate it signed for 127.0.0.1 and localhost, and another CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    def ca(text: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder().subject_name(name(text)).issuer_name(name(text))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(key, hashes.SHA256())
        )  # fmt: skip
        return key, cert

    ca_key, ca_cert = ca("wasix-backend test CA")
    _, other_cert = ca("some other CA")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(name("127.0.0.1")).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    pem = serialization.Encoding.PEM
    return {
        "ca.pem": ca_cert.public_bytes(pem),
        "other-ca.pem": other_cert.public_bytes(pem),
        "server.pem": cert.public_bytes(pem),
        "server.key": key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    }


@pytest.fixture(scope="module")
def http(www: Path) -> Iterator[Server]:
    with serve(www, mixin=_Routes) as srv:
        yield srv


@pytest.fixture(scope="module")
def https(www: Path, pki: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    import ssl

    folder = tmp_path_factory.mktemp("tls")
    for name in ("server.pem", "server.key"):
        (folder / name).write_bytes(pki[name])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "server.pem", folder / "server.key")
    with serve(www, tls=context, mixin=_Routes) as srv:
        yield srv


def both(curl: Path, args: list[str], files: Mapping[str, bytes] = {}, read: tuple[str, ...] = ()) -> tuple[Side, Side]:
    """The same command line natively (in a fresh directory holding ``files``) and under
    WASIX (the files at /workspace); ``read`` names files to read back from each side."""
    argv = ["-q", *args]  # -q: no ~/.curlrc
    with tempfile.TemporaryDirectory(prefix="curl-native-") as tmp:
        for name, data in files.items():
            (Path(tmp) / name).write_bytes(data)
        proc = subprocess.run(["curl", *argv], executable=NATIVE, cwd=tmp, env={"PATH": "/usr/bin:/bin"},
                              input=b"", capture_output=True, timeout=60)  # fmt: skip
        native = Side(proc.returncode, proc.stdout, proc.stderr,
                      {n: (Path(tmp) / n).read_bytes() if (Path(tmp) / n).is_file() else None for n in read})  # fmt: skip
    result = run(curl, argv, stdin=b"", files={f"{GUEST_CWD}/{n}": d for n, d in files.items()},
                 read_back=[f"{GUEST_CWD}/{n}" for n in read], network=True, timeout=60)  # fmt: skip
    wasix = Side(result.exit_code, result.stdout, result.stderr, {n: result.files.get(f"{GUEST_CWD}/{n}") for n in read})
    return native, wasix


def assert_same(native: Side, wasix: Side, status: int) -> None:
    assert (native.status, wasix.status) == (status, status), (native, wasix)
    assert _normalise(wasix.stdout) == _normalise(native.stdout)
    assert _normalise(wasix.stderr) == _normalise(native.stderr)
    assert wasix.files == native.files


def test_get(curl: Path, http: Server) -> None:
    native, wasix = both(curl, ["-sS", http.url_for("a.txt")])
    assert_same(native, wasix, 0)
    assert wasix.stdout == BODY


def test_without_network_the_sandbox_reaches_no_server(curl: Path, http: Server) -> None:
    # run()'s default: no sockets to the host, so the live server is out of reach.
    result = run(curl, ["-q", "-sS", http.url_for("a.txt")], stdin=b"", timeout=60)
    assert result.exit_code == 7 and b"Couldn't connect to server" in result.stderr
    assert run(curl, ["-q", "-sS", http.url_for("a.txt")], stdin=b"", network=True, timeout=60).stdout == BODY


def test_post_data_is_echoed(curl: Path, http: Server) -> None:
    native, wasix = both(curl, ["-sS", "-d", "name=wasix&x=1", http.url_for("echo")])
    assert_same(native, wasix, 0)
    assert wasix.stdout == b"posted (application/x-www-form-urlencoded): name=wasix&x=1\n"


def test_post_a_file(curl: Path, http: Server) -> None:
    # --output -: the reply holds a NUL byte, and curl refuses binary output to a terminal
    # (exit 23), which the sandbox's stdout says it is.
    args = ["-sS", "--output", "-", "--data-binary", "@in.bin", http.url_for("echo")]
    native, wasix = both(curl, args, files={"in.bin": b"\x00\x01\xff"})
    assert_same(native, wasix, 0)
    assert wasix.stdout.endswith(b": \x00\x01\xff\n")


def test_redirect_followed_with_L(curl: Path, http: Server) -> None:
    args = ["-sS", "-w", "%{http_code} %{num_redirects}\n", http.url_for("redirect")]
    native, wasix = both(curl, ["-L", *args])
    assert_same(native, wasix, 0)
    assert wasix.stdout == BODY + b"200 1\n"
    native, wasix = both(curl, args)  # without -L: the 302 itself
    assert_same(native, wasix, 0)
    assert wasix.stdout == b"302 0\n"


def test_404_with_fail_exits_22(curl: Path, http: Server) -> None:
    native, wasix = both(curl, ["-sS", "--fail", http.url_for("missing.txt")])
    assert_same(native, wasix, 22)
    assert wasix.stderr == b"curl: (22) The requested URL returned error: 404\n"


def test_output_file_is_written_in_the_sandbox(curl: Path, http: Server) -> None:
    native, wasix = both(curl, ["-sS", "-o", "out.txt", http.url_for("a.txt")], read=("out.txt",))
    assert_same(native, wasix, 0)
    assert wasix.files["out.txt"] == BODY and wasix.stdout == b""


def test_head_request_headers(curl: Path, http: Server) -> None:
    # --no-styled-output: under wasmer-sdk stdout reads as a terminal, and curl would print the
    # header names in bold there.
    native, wasix = both(curl, ["-sS", "-I", "--no-styled-output", http.url_for("a.txt")])
    assert_same(native, wasix, 0)
    assert wasix.stdout.startswith(b"HTTP/1.0 200 OK\r\n") and b"Content-Length: 20\r\n" in wasix.stdout


def test_gzip_content_is_inflated_by_zlib(curl: Path, http: Server) -> None:
    native, wasix = both(curl, ["-sS", "--compressed", http.url_for("gz")])
    assert_same(native, wasix, 0)
    assert wasix.stdout == BODY * 50


def _tls(srv: Server, path: str) -> list[str]:
    """Arguments for ``https://localhost:PORT/path``, ``localhost`` pinned to 127.0.0.1 for both
    sides (Mbed TLS 2.28 matches a certificate's DNS names, not its IP addresses)."""
    port = srv.url.rsplit(":", 1)[1]
    return ["--resolve", f"localhost:{port}:127.0.0.1", f"https://localhost:{port}/{path}"]


def test_https_with_the_test_ca(curl: Path, https: Server, pki: dict[str, bytes]) -> None:
    native, wasix = both(curl, ["-sS", "--cacert", "ca.pem", *_tls(https, "a.txt")], files={"ca.pem": pki["ca.pem"]})
    assert_same(native, wasix, 0)
    assert wasix.stdout == BODY


def test_https_post_redirect_and_gzip(curl: Path, https: Server, pki: dict[str, bytes]) -> None:
    files = {"ca.pem": pki["ca.pem"]}
    native, wasix = both(curl, ["-sS", "--cacert", "ca.pem", "-d", "over=tls", *_tls(https, "echo")], files=files)
    assert_same(native, wasix, 0)
    assert wasix.stdout == b"posted (application/x-www-form-urlencoded): over=tls\n"
    native, wasix = both(curl, ["-sS", "--cacert", "ca.pem", "-L", *_tls(https, "redirect")], files=files)
    assert_same(native, wasix, 0)
    assert wasix.stdout == BODY
    native, wasix = both(curl, ["-sS", "--cacert", "ca.pem", "--compressed", *_tls(https, "gz")], files=files)
    assert_same(native, wasix, 0)
    assert wasix.stdout == BODY * 50


def test_https_with_a_wrong_ca_is_refused(curl: Path, https: Server, pki: dict[str, bytes]) -> None:
    args = ["-sS", "--cacert", "other.pem", *_tls(https, "a.txt")]
    native, wasix = both(curl, args, files={"other.pem": pki["other-ca.pem"]})
    # Both refuse with CURLE_PEER_FAILED_VERIFICATION; the reason is in each TLS library's words.
    assert (native.status, wasix.status) == (60, 60), (native, wasix)
    assert wasix.stdout == b"" and wasix.stderr.startswith(b"curl: (60) Cert verify failed: BADCERT_NOT_TRUSTED")


def test_limit_an_ip_address_url_does_not_match_the_certificates_ip_san(
    curl: Path, https: Server, pki: dict[str, bytes]
) -> None:
    # Mbed TLS 2.28 compares the host with the certificate's DNS names and CN only (iPAddress
    # names came in 3.x): https://127.0.0.1 verifies natively (OpenSSL), not under WASIX.
    native, wasix = both(curl, ["-sS", "--cacert", "ca.pem", https.url_for("a.txt")], files={"ca.pem": pki["ca.pem"]})
    assert native.status == 0 and native.stdout == BODY
    assert wasix.status == 60 and b"BADCERT_CN_MISMATCH" in wasix.stderr


@pytest.fixture(scope="module")
def curl_venv(curl: Path, provider_env, tmp_path_factory: pytest.TempPathFactory, runtime_wheelhouse: Path) -> Path:
    """``pip install wasix-curl`` from a wheel of the session's curl build, in a fresh venv."""
    return venv_with_wheels(tmp_path_factory.mktemp("curl-wheel"), ["curl"], provider_env("wasix"), runtime_wheelhouse).parent


def test_the_wheels_curl_reaches_a_server(curl_venv: Path, http: Server, tmp_path: Path) -> None:
    """`pip install wasix-curl` gives a `curl` with the network its recipe asks for
    ([outputs] network): GET to stdout, and -o writing a file in the working directory."""
    env = {"PATH": f"{curl_venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "WASIX_RUNTIME": "sdk"}
    got = subprocess.run(["curl", "-q", "-sS", http.url_for("a.txt")], cwd=tmp_path, env=env, capture_output=True, timeout=120)
    assert (got.returncode, got.stdout) == (0, BODY), got.stderr
    saved = subprocess.run(["curl", "-q", "-sS", "-o", "out.txt", http.url_for("a.txt")], cwd=tmp_path, env=env,
                           capture_output=True, timeout=120)  # fmt: skip
    assert saved.returncode == 0, saved.stderr
    assert (tmp_path / "out.txt").read_bytes() == BODY
