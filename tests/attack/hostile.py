"""Hostile input images, and what the service must answer to each (shared by the tests and bench/).

Every case is sent as the one image of a Vidu ``img2video`` create. ``reason`` is Vidu's word in
its error envelope; ``None`` means the create is accepted (the image is usable, maybe after the
service corrects it: EXIF rotation, CMYK, 16 bit, the first frame of an animation).
"""

from __future__ import annotations

import base64
import http.server
import io
import struct
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image

from tests.conftest import data_uri, image_bytes

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="4096" height="4096"><rect width="9" height="9"/></svg>'


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[], str]  # the image field's value (a data URI)
    status: int
    reason: str | None  # Vidu's reason on refusal; None when accepted
    says: str = ""  # a fragment the error message must contain, so a person knows what to fix


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(side: int = 50_000) -> bytes:
    """A grey PNG declaring ``side`` x ``side`` pixels (2.5 gigapixels) whose pixel stream deflates a
    few MB of zeros into a few KB: decoding it would need gigabytes."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (side + 1)  # filter byte + one byte per pixel
    idat = b"".join(compressor.compress(row) for _ in range(64)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def forged_png(side: int = 256) -> bytes:
    """A PNG whose every chunk has the right CRC but whose pixel stream is not zlib data: only an
    attacker makes one (damage or truncation breaks a checksum), and only a full decode finds it."""
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    idat = b"\x78\x9c" + bytes(range(256)) * 8  # a zlib header, then bytes that are not deflate
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _save(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def photo(width: int = 320, height: int = 192, seed: int = 4) -> Image.Image:
    return Image.open(io.BytesIO(image_bytes(width, height, seed=seed))).convert("RGB")


def cmyk_jpeg() -> bytes:
    return _save(photo().convert("CMYK"), "JPEG", quality=95)


def png16() -> bytes:
    grey = photo().convert("L")
    wide = Image.frombytes("I;16", grey.size, bytes(b for v in grey.tobytes() for b in (v, v)))
    return _save(wide, "PNG")


def exif_rotated_jpeg() -> bytes:
    """Stored 320x192 (landscape) with EXIF orientation 6: shown 192x320 (portrait)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return _save(photo(), "JPEG", exif=exif.tobytes(), quality=95)


def animated(fmt: str) -> bytes:
    frames = [photo(seed=s) for s in (4, 5, 6)]
    return _save(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)


def _uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


CASES: tuple[Case, ...] = (
    Case("decompression bomb PNG", lambda: data_uri(bomb_png()), 400, "PageSizeOutOfRange", "megapixels"),
    Case(
        "truncated JPEG",
        lambda: data_uri(image_bytes(320, 192, fmt="JPEG")[:1500], "image/jpeg"),
        400,
        "ImageFormatInvalid",
        "corrupt or truncated",
    ),
    Case("JPEG labelled PNG", lambda: data_uri(image_bytes(320, 192, fmt="JPEG")), 200, None),
    Case(
        "HTML labelled PNG",
        lambda: _uri("image/png", b"<html><body>hi</body></html>"),
        400,
        "ImageFormatInvalid",
        "not a recognisable image",
    ),
    Case("SVG", lambda: _uri("image/svg+xml", SVG), 400, "ImageFormatInvalid", "image/svg+xml"),
    Case("SVG labelled PNG", lambda: _uri("image/png", SVG), 400, "ImageFormatInvalid", "not a recognisable"),
    Case("animated GIF", lambda: _uri("image/gif", animated("GIF")), 400, "ImageFormatInvalid", "image/gif"),
    Case(
        "animated GIF labelled PNG",
        lambda: _uri("image/png", animated("GIF")),
        400,
        "ImageFormatInvalid",
        "GIF is not supported",
    ),
    Case("animated WebP", lambda: _uri("image/webp", animated("WEBP")), 200, None),
    Case("CMYK JPEG", lambda: _uri("image/jpeg", cmyk_jpeg()), 200, None),
    Case("16-bit PNG", lambda: _uri("image/png", png16()), 200, None),
    Case("EXIF-rotated JPEG", lambda: _uri("image/jpeg", exif_rotated_jpeg()), 200, None),
)


def create_body(image: str, model: str = "viduq3-pro") -> dict[str, object]:
    return {"model": model, "images": [image], "prompt": "the camera follows", "duration": 2}


OVER_50_MB = 50 * 1024 * 1024 + 1


def serve_big_file() -> tuple[http.server.ThreadingHTTPServer, str]:
    """A loopback server with 50 MB + 1 byte of 'PNG' at /declared (with Content-Length) and /streamed
    (without: HTTP/1.0, the body ends when the connection closes). Returns the server and its base URL."""
    head = image_bytes(256, 144)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "image/png")
            if self.path == "/declared":
                self.send_header("content-length", str(OVER_50_MB))
            self.end_headers()
            try:
                self.wfile.write(head)
                left, chunk = OVER_50_MB - len(head), b"\0" * (1024 * 1024)
                while left > 0:
                    self.wfile.write(chunk[: min(left, len(chunk))])
                    left -= len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the service stopped reading at its limit, as it should

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.protocol_version = "HTTP/1.0"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
