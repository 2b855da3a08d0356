"""framecast.media.fetch: SSRF rules, pinning, redirects, size and time bounds."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from tests.transports import recording_transport

from framecast.domain import ErrorCode
from framecast.errors import ClientError
from framecast.media.fetch import FetchPolicy, check_destination, fetch

PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"x" * 100
PUBLIC_IP = "93.184.216.34"
PRIVATE = FetchPolicy(allow_private=True, timeout=5.0)


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes, ctype: str = "image/png", length: bool = True) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path
        try:
            if path == "/img.png":
                self._send(200, PNG_BYTES)
            elif path == "/echo-host":
                self._send(200, (self.headers.get("Host") or "").encode(), "text/plain")
            elif path.startswith("/redirect/"):
                n = int(path.rsplit("/", 1)[1])
                if n == 0:
                    self._send(200, PNG_BYTES)
                else:
                    self.send_response(302)
                    self.send_header("Location", f"/redirect/{n - 1}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
            elif path == "/big":
                self._send(200, b"y" * 5000)
            elif path == "/big-no-length":
                self._send(200, b"y" * 5000, length=False)
                self.close_connection = True
            elif path == "/slow-body":
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()
                for _ in range(40):
                    self.wfile.write(b"z" * 10)
                    self.wfile.flush()
                    time.sleep(0.1)
            elif path == "/slow-headers":
                time.sleep(3)
                self._send(200, PNG_BYTES)
            elif path == "/missing":
                self._send(404, b"nope", "text/plain")
            else:
                self._send(500, b"boom", "text/plain")
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _expect_download_error(call: Callable[[], object], *fragments: str) -> ClientError:
    with pytest.raises(ClientError) as info:
        call()
    err = info.value
    assert err.code is ErrorCode.IMAGE_DOWNLOAD
    for fragment in fragments:
        assert fragment in err.message, err.message
    return err


def _table_resolver(
    table: dict[str, list[str]], calls: list[str] | None = None
) -> Callable[[str], list[str]]:
    def resolve(host: str) -> list[str]:
        if calls is not None:
            calls.append(host)
        if host not in table:
            raise OSError("no such host")
        return table[host]

    return resolve


# --- real local server -------------------------------------------------------------------------


def test_default_policy_refuses_loopback_server(server: str) -> None:
    _expect_download_error(lambda: fetch(f"{server}/img.png", FetchPolicy()), "loopback")


def test_allow_private_fetches_local_server(server: str) -> None:
    got = fetch(f"{server}/img.png", PRIVATE)
    assert got.data == PNG_BYTES
    assert got.content_type == "image/png"
    assert got.final_url == f"{server}/img.png"


def test_pinned_connection_keeps_original_host_header(server: str) -> None:
    port = server.rsplit(":", 1)[1]
    calls: list[str] = []
    resolver = _table_resolver({"images.example": ["127.0.0.1"]}, calls)
    got = fetch(f"http://images.example:{port}/echo-host", PRIVATE, resolver=resolver)
    assert got.data == f"images.example:{port}".encode()
    assert calls == ["images.example"]  # resolved exactly once: the connection went to the vetted IP


def test_redirects_within_limit_are_followed(server: str) -> None:
    got = fetch(f"{server}/redirect/3", PRIVATE)
    assert got.data == PNG_BYTES
    assert got.final_url.endswith("/redirect/0")


def test_redirects_beyond_limit_are_refused(server: str) -> None:
    _expect_download_error(lambda: fetch(f"{server}/redirect/4", PRIVATE), "more than 3")
    _expect_download_error(
        lambda: fetch(f"{server}/redirect/1", FetchPolicy(allow_private=True, max_redirects=0)), "more than 0"
    )


def test_size_cap_with_content_length(server: str) -> None:
    policy = FetchPolicy(allow_private=True, max_bytes=1000)
    _expect_download_error(lambda: fetch(f"{server}/big", policy), "larger than")
    assert len(fetch(f"{server}/big", FetchPolicy(allow_private=True, max_bytes=5000)).data) == 5000


def test_size_cap_while_streaming_without_content_length(server: str) -> None:
    policy = FetchPolicy(allow_private=True, max_bytes=1000)
    _expect_download_error(lambda: fetch(f"{server}/big-no-length", policy), "larger than")


@pytest.mark.parametrize("path", ["/slow-body", "/slow-headers"])
def test_total_timeout(server: str, path: str) -> None:
    policy = FetchPolicy(allow_private=True, timeout=0.5)
    start = time.monotonic()
    _expect_download_error(lambda: fetch(f"{server}{path}", policy), "longer than 0.5 s")
    assert time.monotonic() - start < 2.0


def test_non_2xx_reports_status(server: str) -> None:
    _expect_download_error(lambda: fetch(f"{server}/missing", PRIVATE), "HTTP 404")
    _expect_download_error(lambda: fetch(f"{server}/other", PRIVATE), "HTTP 500")


def test_connection_refused_is_a_download_error() -> None:
    # port 9 (discard) on loopback: nothing listens there in a test environment
    _expect_download_error(lambda: fetch("http://127.0.0.1:9/x.png", PRIVATE), "could not connect")


# --- URL and address rules ---------------------------------------------------------------------


@pytest.mark.parametrize("url", ["file:///etc/hosts", "ftp://example.com/a.png", "gopher://example.com/"])
def test_scheme_refused(url: str) -> None:
    _expect_download_error(lambda: fetch(url, PRIVATE), "scheme")


def test_userinfo_refused() -> None:
    calls: list[str] = []
    resolver = _table_resolver({"example.com": [PUBLIC_IP]}, calls)
    _expect_download_error(
        lambda: fetch("http://user:secret@example.com/a.png", PRIVATE, resolver=resolver), "user name"
    )
    assert calls == []


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://METADATA.google.internal./computeMetadata/v1/",
    ],
)
def test_metadata_refused_even_when_private_allowed(url: str) -> None:
    resolver = _table_resolver({})
    _expect_download_error(lambda: check_destination(url, PRIVATE, resolver=resolver), "metadata")
    _expect_download_error(lambda: check_destination(url, FetchPolicy(), resolver=resolver))


def test_host_resolving_to_metadata_refused() -> None:
    resolver = _table_resolver({"sneaky.example": ["fd00:ec2::254"]})
    _expect_download_error(
        lambda: check_destination("http://sneaky.example/", PRIVATE, resolver=resolver), "metadata"
    )


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",  # CGNAT
        "169.254.1.1",  # link-local
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:10.0.0.1",
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    ],
)
def test_non_public_resolved_addresses_refused(address: str) -> None:
    resolver = _table_resolver({"host.example": [address]})
    _expect_download_error(
        lambda: check_destination("https://host.example/a.png", FetchPolicy(), resolver=resolver)
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1]/a.png",
        "http://[::ffff:127.0.0.1]/a.png",
        "http://[::ffff:7f00:1]/a.png",
        "http://127.0.0.1/a.png",
        "http://2130706433/a.png",  # decimal form of 127.0.0.1, resolved by the system resolver
        "http://127.1/a.png",
        "http://localhost/a.png",
    ],
)
def test_loopback_literals_refused(url: str) -> None:
    _expect_download_error(lambda: check_destination(url, FetchPolicy()))


@pytest.mark.parametrize(
    "url",
    [
        "http://0177.0.0.1/a.png",  # octal
        "http://0x7f.0.0.1/a.png",  # hex
        "http://0x7F.1/a.png",  # hex, short form
        "http://0177.1:8080/a.png",  # octal, short form, with a port
        "http://017700000001/a.png",  # one octal number
        "http://0x7f000001/a.png",  # one hex number
    ],
)
def test_octal_and_hex_ipv4_spellings_are_refused_as_loopback(url: str) -> None:
    # resolvers read these as 127.0.0.1 (inet_aton): refused as loopback, not as a malformed URL
    resolver = _table_resolver({})
    err = _expect_download_error(
        lambda: check_destination(url, FetchPolicy(), resolver=resolver), "loopback", "127.0.0.1"
    )
    assert "not a valid URL" not in err.message


def test_odd_ipv4_spelling_of_a_private_address_is_refused_as_private() -> None:
    err = _expect_download_error(
        lambda: check_destination("http://012.0.0.1/", FetchPolicy(), resolver=_table_resolver({})), "private"
    )
    assert "10.0.0.1" in err.message


def test_odd_ipv4_spelling_of_a_public_address_is_fetched_from_that_address() -> None:
    transport, seen = recording_transport(PNG_BYTES, "image/png")
    # 0x5d.0xb8.0xd8.0x22 == 93.184.216.34; no DNS lookup is made for it
    got = fetch(
        "http://0x5d.0xb8.0xd8.0x22/a.png",
        FetchPolicy(),
        transport=transport,
        resolver=_table_resolver({}),
    )
    assert got.data == PNG_BYTES
    assert seen[0].url.host == PUBLIC_IP


@pytest.mark.parametrize("url", ["http://127.0.0.1/", "http://0177.0.0.1/", "http://192.168.1.1/"])
def test_private_refusal_names_the_operator_switch(url: str) -> None:
    _expect_download_error(
        lambda: check_destination(url, FetchPolicy()), "use a public URL", "FRAMECAST_ALLOW_PRIVATE_URLS=1"
    )


def test_metadata_refusal_does_not_offer_the_private_switch() -> None:
    # the switch never lifts the metadata refusal, so the message must not suggest it
    err = _expect_download_error(lambda: check_destination("http://169.254.169.254/", PRIVATE), "metadata")
    assert "FRAMECAST_ALLOW_PRIVATE_URLS" not in err.message


def test_any_bad_address_among_many_refuses() -> None:
    resolver = _table_resolver({"mixed.example": [PUBLIC_IP, "10.0.0.7"]})
    _expect_download_error(
        lambda: check_destination("http://mixed.example/", FetchPolicy(), resolver=resolver), "private"
    )


def test_check_destination_returns_vetted_addresses() -> None:
    resolver = _table_resolver({"cdn.example": [PUBLIC_IP, "2606:4700::1111", PUBLIC_IP]})
    assert check_destination("https://cdn.example/a.png", FetchPolicy(), resolver=resolver) == [
        PUBLIC_IP,
        "2606:4700::1111",
    ]
    resolver = _table_resolver({"nas.lan": ["192.168.1.20"]})
    assert check_destination("http://nas.lan/a.png", PRIVATE, resolver=resolver) == ["192.168.1.20"]


def test_unresolvable_host() -> None:
    _expect_download_error(
        lambda: check_destination("http://nowhere.example/", FetchPolicy(), resolver=_table_resolver({})),
        "could not resolve",
    )


def test_error_message_does_not_leak_resolved_address() -> None:
    resolver = _table_resolver({"intranet.example": ["10.9.8.7"]})
    err = _expect_download_error(
        lambda: check_destination("http://intranet.example/", FetchPolicy(), resolver=resolver)
    )
    assert "10.9.8.7" not in err.message


# --- pinning and redirects through a mock transport --------------------------------------------


def test_https_request_is_pinned_to_vetted_ip_with_sni() -> None:
    transport, seen = recording_transport(PNG_BYTES, "image/png; charset=binary")
    calls: list[str] = []
    resolver = _table_resolver({"img.example": [PUBLIC_IP]}, calls)
    got = fetch(
        "https://img.example/pics/a.png?x=1",
        FetchPolicy(),
        transport=transport,
        resolver=resolver,
    )
    assert got.data == PNG_BYTES
    assert got.content_type == "image/png"
    assert got.final_url == "https://img.example/pics/a.png?x=1"
    (request,) = seen
    assert request.url.host == PUBLIC_IP
    assert request.url.path == "/pics/a.png"
    assert request.url.query == b"x=1"
    assert request.headers["host"] == "img.example"
    assert request.extensions["sni_hostname"] == "img.example"
    assert calls == ["img.example"]


def test_ipv6_pinning_and_port_in_host_header() -> None:
    transport, seen = recording_transport(b"ok")
    resolver = _table_resolver({"v6.example": ["2606:4700::1111"]})
    fetch("http://v6.example:8080/a", FetchPolicy(), transport=transport, resolver=resolver)
    (request,) = seen
    assert request.url.host == "2606:4700::1111"
    assert request.url.port == 8080
    assert request.headers["host"] == "v6.example:8080"
    assert "sni_hostname" not in request.extensions


@pytest.mark.parametrize(
    "location",
    [
        "http://internal.example/secret",
        "http://127.0.0.1/secret",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:10.0.0.1]/",
        "file:///etc/hosts",
    ],
)
def test_redirect_to_private_destination_refused(location: str) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        return httpx.Response(302, headers={"Location": location})

    resolver = _table_resolver({"public.example": [PUBLIC_IP], "internal.example": ["10.0.0.5"]})
    _expect_download_error(
        lambda: fetch(
            "http://public.example/a.png",
            FetchPolicy(),
            transport=httpx.MockTransport(handler),
            resolver=resolver,
        )
    )
    assert seen == [PUBLIC_IP]  # the private hop was never contacted


def test_relative_redirect_is_revetted_and_pinned() -> None:
    seen: list[tuple[str, str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.host, request.headers["host"], request.url.path))
        if request.url.path == "/a":
            return httpx.Response(301, headers={"Location": "/b"})
        if request.url.path == "/b":
            return httpx.Response(307, headers={"Location": "https://cdn.example/c"})
        return httpx.Response(200, content=b"final")

    calls: list[str] = []
    resolver = _table_resolver({"public.example": [PUBLIC_IP], "cdn.example": ["203.0.114.9"]}, calls)
    # 203.0.114.9 is outside the documentation range 203.0.113/24 and counts as public
    got = fetch(
        "http://public.example/a", FetchPolicy(), transport=httpx.MockTransport(handler), resolver=resolver
    )
    assert got.data == b"final"
    assert got.final_url == "https://cdn.example/c"
    assert seen == [
        (PUBLIC_IP, "public.example", "/a"),
        (PUBLIC_IP, "public.example", "/b"),
        ("203.0.114.9", "cdn.example", "/c"),
    ]
    assert calls == ["public.example", "public.example", "cdn.example"]


def test_redirect_without_location() -> None:
    resolver = _table_resolver({"public.example": [PUBLIC_IP]})
    transport = httpx.MockTransport(lambda request: httpx.Response(302))
    _expect_download_error(
        lambda: fetch("http://public.example/", FetchPolicy(), transport=transport, resolver=resolver),
        "location",
    )


def test_second_address_used_when_first_does_not_connect() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        if request.url.host == "2606:4700::1111":
            raise httpx.ConnectError("unreachable", request=request)
        return httpx.Response(200, content=b"ok")

    resolver = _table_resolver({"dual.example": ["2606:4700::1111", PUBLIC_IP]})
    got = fetch(
        "http://dual.example/", FetchPolicy(), transport=httpx.MockTransport(handler), resolver=resolver
    )
    assert got.data == b"ok"
    assert seen == ["2606:4700::1111", PUBLIC_IP]


# --- https pinning against a real TLS server -----------------------------------------------------


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:  # failed handshakes
        pass


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, ssl.SSLContext]]:
    """An https server on 127.0.0.1 whose certificate names only ``images.example``."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    args = (
        "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=images.example"
    )
    subprocess.run(
        [
            "openssl",
            *args.split(),
            "-addext",
            "subjectAltName=DNS:images.example",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    httpd = _QuietServer(("127.0.0.1", 0), _Handler)
    httpd.socket = server_ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1], ssl.create_default_context(cafile=str(cert))
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_https_pinned_to_ip_checks_certificate_for_hostname(tls_server: tuple[int, ssl.SSLContext]) -> None:
    port, client_ctx = tls_server
    transport = httpx.HTTPTransport(verify=client_ctx)
    resolver = _table_resolver({"images.example": ["127.0.0.1"], "other.example": ["127.0.0.1"]})
    got = fetch(f"https://images.example:{port}/echo-host", PRIVATE, transport=transport, resolver=resolver)
    assert got.data == f"images.example:{port}".encode()
    # same IP, but the certificate does not name this host: refused, not silently accepted
    _expect_download_error(
        lambda: fetch(
            f"https://other.example:{port}/img.png",
            PRIVATE,
            transport=httpx.HTTPTransport(verify=client_ctx),
            resolver=resolver,
        ),
        "secure (TLS) connection",
    )
