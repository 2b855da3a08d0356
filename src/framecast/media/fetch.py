"""The one place that fetches user-supplied URLs (input images now, callback URLs later).

Every fetch obeys the same rules (design.md, "Rules that hold everywhere"):

- ``http`` and ``https`` only; URLs with userinfo (``user:pass@host``) are refused.
- The host is resolved once and *every* address it resolves to is vetted. Loopback,
  private, link-local, CGNAT (100.64/10), multicast, reserved, unspecified and
  documentation ranges are refused, also when hidden inside IPv6 (IPv4-mapped,
  6to4, NAT64, Teredo). ``FetchPolicy.allow_private`` (operator setting
  ``FRAMECAST_ALLOW_PRIVATE_URLS=1``) lifts the private/loopback/link-local/CGNAT
  refusal for on-prem use.
- IPv4 hosts spelled the way ``inet_aton`` reads them (``0177.0.0.1`` octal, ``0x7f.1``
  hex, ``127.1`` short, ``2130706433`` one number) are read as that address, as every
  resolver does, and vetted like the dotted form: never passed on as a "hostname".
- Cloud metadata endpoints (169.254.169.254, fd00:ec2::254, metadata.google.internal,
  ...) are refused *always*, even with ``allow_private``: they hand out the host's
  cloud credentials, no legitimate image or callback lives there, and an operator
  who turns on private URLs for a LAN image server should not thereby expose them.
  Multicast, unspecified and reserved addresses are never valid destinations either.
- The connection is pinned to a vetted address: the request goes to the IP itself
  with the original ``Host`` header (and, for https, SNI and certificate checks for
  the hostname), so no second DNS lookup can swap in another address (DNS rebinding).
- Redirects are followed by hand, each hop vetted again, at most ``max_redirects``.
- The body is streamed and the fetch stops past ``max_bytes`` (counted after
  content decoding). The whole fetch, redirects and DNS included, runs against one
  deadline of ``timeout`` seconds.

Errors are :class:`ClientError` with ``ErrorCode.IMAGE_DOWNLOAD`` and a message a
person can act on; they never name the addresses a host resolved to.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from framecast import __version__
from framecast.domain import ErrorCode
from framecast.errors import ClientError

Resolver = Callable[[str], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024

# Cloud metadata services: refused even when private addresses are allowed.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OCI, OpenStack, DigitalOcean ...
        "169.254.170.2",  # AWS ECS task metadata / credentials
        "169.254.169.253",  # AWS VPC DNS
        "169.254.0.23",  # Tencent Cloud
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure WireServer (a public address)
        "192.0.0.192",  # Oracle Cloud (legacy)
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd00:ec2::253",  # AWS VPC DNS over IPv6
    )
)
METADATA_HOSTNAMES: frozenset[str] = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.tencentyun.com",
        "metadata.azure.internal",
    }
)

_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))

_dns_pool = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="framecast-dns")


@dataclass(frozen=True)
class FetchPolicy:
    allow_private: bool = False  # operator setting FRAMECAST_ALLOW_PRIVATE_URLS=1
    max_bytes: int = 50 * 1024 * 1024
    timeout: float = 20.0  # total seconds, DNS and redirects included
    max_redirects: int = 3


@dataclass(frozen=True)
class Fetched:
    data: bytes
    content_type: str
    final_url: str


def _fail(message: str) -> ClientError:
    return ClientError(ErrorCode.IMAGE_DOWNLOAD, message)


def _shorten(url: str, limit: int = 120) -> str:
    return url if len(url) <= limit else url[: limit - 3] + "..."


def system_resolver(host: str) -> list[str]:
    """All addresses ``host`` resolves to (A and AAAA), in resolver order, without duplicates."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    out: list[str] = []
    for info in infos:
        addr = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone id
        if addr not in out:
            out.append(addr)
    return out


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if any(ip in net for net in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _refusal(ip: IPAddress, allow_private: bool) -> str | None:
    """Why ``ip`` may not be fetched from, or None when it may."""
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_v4(ip)
        if inner is not None:
            return _refusal(inner, allow_private)
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_multicast:
        return "a multicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip == ipaddress.IPv4Address("255.255.255.255"):
        return "a broadcast address"
    if ip.is_loopback:  # before is_reserved: ::1 sits inside the reserved ::/8
        return None if allow_private else "a loopback address"
    if ip.is_reserved:
        return "a reserved address"
    if allow_private:
        return None
    if ip.is_link_local:
        return "a link-local address"
    if not ip.is_global:  # private, CGNAT 100.64/10, unique-local, documentation, benchmarking ...
        return "a private or non-public address"
    return None


@dataclass(frozen=True)
class _Target:
    url: httpx.URL
    host: str  # ASCII (IDNA) hostname or IP literal, no brackets
    host_header: str
    ips: list[str]


def legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The address ``host`` names when read as ``inet_aton`` reads it, or None for a hostname.

    One to four dot-separated parts, each decimal, octal (leading ``0``) or hex
    (``0x``); the last part fills the remaining bytes: ``127.1`` is 127.0.0.1,
    ``0177.0.0.1`` is 127.0.0.1, ``0x7f000001`` is 127.0.0.1.
    """
    parts = host.rstrip(".").split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values: list[int] = []
    for part in parts:
        text = part.lower()
        try:
            if text.startswith("0x"):
                value = int(text[2:], 16) if text[2:] else 0
            elif len(text) > 1 and text.startswith("0"):
                value = int(text[1:], 8)
            elif text.isdigit():
                value = int(text)
            else:
                return None
        except ValueError:
            return None
        values.append(value)
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        return None
    number = last
    for i, v in enumerate(head):
        number |= v << (8 * (3 - i))
    return ipaddress.IPv4Address(number)


def _canonical_host(url: str) -> tuple[str, str]:
    """``url`` with an odd IPv4 spelling of its host rewritten to dotted form, and the spelling sent."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return url, ""
    if not host or ":" in host:
        return url, ""
    ip = legacy_ipv4(host)
    if ip is None or str(ip) == host:
        return url, ""
    netloc = parts.netloc
    at = netloc.rfind("@") + 1
    # the host part of netloc as sent (any case), then the port if one was given
    port = netloc[at + len(host) :] if netloc[at : at + len(host)].lower() == host else ""
    rebuilt = parts._replace(netloc=f"{netloc[:at]}{ip}{port}")
    return urlunsplit(rebuilt), host


def _parse(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise _fail(f"{_shorten(url)!r} is not a valid URL") from None
    scheme = parsed.scheme.lower()
    if scheme not in ("http", "https"):
        shown = scheme or "none"
        raise _fail(f"URL scheme {shown!r} is not supported; use an http:// or https:// URL")
    if parsed.userinfo:
        raise _fail("URLs with a user name or password (user:pass@host) are not accepted")
    if not parsed.raw_host:
        raise _fail(f"URL {_shorten(url)!r} has no host")
    return parsed


def _resolve(host: str, resolver: Resolver, deadline: float) -> list[str]:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _fail(f"timed out resolving host {host!r}")
    future = _dns_pool.submit(resolver, host)
    try:
        addrs = future.result(timeout=remaining)
    except concurrent.futures.TimeoutError:
        raise _fail(f"timed out resolving host {host!r}") from None
    except (OSError, UnicodeError, ValueError):
        raise _fail(f"could not resolve host {host!r}; check the URL") from None
    if not addrs:
        raise _fail(f"could not resolve host {host!r}; check the URL")
    return list(addrs)


def _vet(url: str, policy: FetchPolicy, resolver: Resolver, deadline: float) -> _Target:
    url, spelled = _canonical_host(url)
    parsed = _parse(url)
    try:
        host = parsed.raw_host.decode("ascii").lower().rstrip(".")
    except UnicodeDecodeError:
        raise _fail(f"URL {_shorten(url)!r} has an invalid host") from None
    if host in METADATA_HOSTNAMES:
        raise _fail(f"host {host!r} is a cloud metadata service and cannot be fetched")

    literal: IPAddress | None
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    addrs = [host] if literal is not None else _resolve(host, resolver, deadline)

    ips: list[str] = []
    for addr in addrs:
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            raise _fail(f"could not resolve host {host!r}; check the URL") from None
        why = _refusal(ip, policy.allow_private)
        if why is not None:
            what = "is" if literal is not None else "resolves to"
            shown = f"{spelled!r} ({host})" if spelled else repr(host)
            advice = "use a public URL"
            if _refusal(ip, True) is None:  # the operator's switch would allow it
                advice += (
                    ", or ask the operator to allow private addresses "
                    "(FRAMECAST_ALLOW_PRIVATE_URLS=1, for on-prem use)"
                )
            raise _fail(f"host {shown} {what} {why}, which cannot be fetched; {advice}")
        if str(ip) not in ips:
            ips.append(str(ip))

    shown_host = f"[{host}]" if ":" in host else host
    host_header = shown_host if parsed.port is None else f"{shown_host}:{parsed.port}"
    return _Target(url=parsed, host=host, host_header=host_header, ips=ips)


def check_destination(url: str, policy: FetchPolicy, *, resolver: Resolver | None = None) -> list[str]:
    """Resolve and vet ``url``'s host; return the addresses it may be fetched from.

    Raises ``ClientError(IMAGE_DOWNLOAD)`` for a bad scheme, userinfo, an unresolvable
    host, or when any resolved address is refused by ``policy``.
    """
    deadline = time.monotonic() + policy.timeout
    return _vet(url, policy, resolver or system_resolver, deadline).ips


def _abort_socket(response: httpx.Response) -> None:
    """Wake a read blocked on ``response``'s socket (called by the deadline watchdog)."""
    stream = response.extensions.get("network_stream")
    if stream is None:
        return
    with contextlib.suppress(Exception):
        sock = stream.get_extra_info("socket")
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)


def _read_body(response: httpx.Response, policy: FetchPolicy, deadline: float, shown: str) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > policy.max_bytes:
        raise _fail(f"{shown} is larger than the {_mb(policy.max_bytes)} limit")
    watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), _abort_socket, args=(response,))
    watchdog.daemon = True
    watchdog.start()
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_bytes(_CHUNK):
            if time.monotonic() > deadline:
                raise _fail(f"{shown} took longer than {policy.timeout:g} s to download")
            size += len(chunk)
            if size > policy.max_bytes:
                raise _fail(f"{shown} is larger than the {_mb(policy.max_bytes)} limit")
            chunks.append(chunk)
    except httpx.TransportError:
        if time.monotonic() >= deadline:
            raise _fail(f"{shown} took longer than {policy.timeout:g} s to download") from None
        raise _fail(f"the download of {shown} was interrupted; try again") from None
    finally:
        watchdog.cancel()
    return b"".join(chunks)


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB" if n >= 1024 * 1024 else f"{n} bytes"


def fetch(
    url: str,
    policy: FetchPolicy,
    *,
    transport: httpx.BaseTransport | None = None,
    resolver: Resolver | None = None,
) -> Fetched:
    """GET ``url`` under ``policy``: vetted, pinned, redirect-, size- and time-bounded.

    ``transport`` and ``resolver`` are seams for tests. Raises ``ClientError(IMAGE_DOWNLOAD)``.
    """
    resolve = resolver or system_resolver
    deadline = time.monotonic() + policy.timeout
    current = url
    headers = {"User-Agent": f"framecast/{__version__}", "Accept": "image/*, */*;q=0.5"}
    with httpx.Client(transport=transport, trust_env=False, follow_redirects=False) as client:
        for hop in range(policy.max_redirects + 1):
            target = _vet(current, policy, resolve, deadline)
            shown = f"the file at {target.host_header}"
            response = _send(client, target, headers, deadline, policy, shown)
            try:
                if response.status_code in _REDIRECT_STATUSES:
                    location = response.headers.get("location", "")
                    if not location:
                        raise _fail(f"{shown} answered a redirect without a location")
                    if hop >= policy.max_redirects:
                        raise _fail(f"{shown} redirected more than {policy.max_redirects} times")
                    try:
                        current = str(target.url.join(location))
                    except (httpx.InvalidURL, ValueError):
                        raise _fail(f"{shown} redirected to an invalid URL") from None
                    continue
                if not 200 <= response.status_code < 300:
                    raise _fail(
                        f"{shown} answered HTTP {response.status_code}"
                        f"{' ' + response.reason_phrase if response.reason_phrase else ''}; "
                        "check that the URL is public and still valid"
                    )
                data = _read_body(response, policy, deadline, shown)
                content_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
                return Fetched(data=data, content_type=content_type, final_url=str(target.url))
            finally:
                response.close()
    raise AssertionError("unreachable")  # pragma: no cover


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    policy: FetchPolicy,
    *,
    transport: httpx.BaseTransport | None = None,
    resolver: Resolver | None = None,
) -> int:
    """POST ``body`` to ``url`` under ``policy`` (callbacks): vetted and pinned like ``fetch``.

    Redirects are not followed (a callback receiver answers, it does not move). Returns the
    HTTP status; raises ``ClientError(IMAGE_DOWNLOAD)`` when no answer came.
    """
    deadline = time.monotonic() + policy.timeout
    target = _vet(url, policy, resolver or system_resolver, deadline)
    shown = f"the callback receiver at {target.host_header}"
    sent = {"User-Agent": f"framecast/{__version__}", "Content-Type": "application/json", **headers}
    with httpx.Client(transport=transport, trust_env=False, follow_redirects=False) as client:
        response = _send(client, target, sent, deadline, policy, shown, method="POST", content=body)
        try:
            # read a little of the answer so keep-alive servers see a complete exchange
            for _ in response.iter_bytes(chunk_size=4096):
                break
            return response.status_code
        finally:
            response.close()


def _send(
    client: httpx.Client,
    target: _Target,
    headers: dict[str, str],
    deadline: float,
    policy: FetchPolicy,
    shown: str,
    method: str = "GET",
    content: bytes | None = None,
) -> httpx.Response:
    """Send the request to each vetted address in turn until one connects."""
    extensions: dict[str, str] = {}
    if target.url.scheme == "https":
        extensions["sni_hostname"] = target.host
    last_error = ""
    for ip in target.ips:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        request = client.build_request(
            method,
            target.url.copy_with(host=ip),
            content=content,
            headers={**headers, "Host": target.host_header},
            extensions=extensions,
            timeout=httpx.Timeout(remaining),
        )
        try:
            return client.send(request, stream=True)
        except httpx.TimeoutException:
            break
        except httpx.ConnectError as exc:
            text = str(exc).lower()
            last_error = "tls" if "ssl" in text or "certificate" in text else "connect"
            continue
        except (httpx.TransportError, httpx.InvalidURL):
            last_error = "transport"
            continue
    else:
        if last_error == "tls":
            raise _fail(f"could not establish a secure (TLS) connection to {target.host_header}")
        if last_error:
            raise _fail(f"could not connect to {target.host_header}; check that the host is reachable")
    raise _fail(f"{shown} took longer than {policy.timeout:g} s to download")
