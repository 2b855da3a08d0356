"""Input images: load from a URL / data URI / base64, check, decode, fit to the output frame.

- :func:`load_source` turns what a client sent into checked bytes: http(s) URLs go
  through :func:`framecast.media.fetch.fetch`; ``data:image/<png|jpeg|jpg|webp>;base64,``
  URIs (Vidu, MIME prefix mandatory unless ``data_uri_needs_mime`` is off) and bare
  base64 (Kling, only when ``allow_bare_base64``) are decoded in place.
- :func:`check_image` trusts the bytes, not the declared MIME type: Pillow sniffs the
  real format, the image is fully decoded once, and size, minimum side and aspect
  ratio are enforced. Decompression bombs are refused before decoding
  (``ImageLimits.max_pixels``, with Pillow's own ``MAX_IMAGE_PIXELS`` as a backstop).
- :func:`decode_rgb` gives the pixels as an (H, W, 3) uint8 array with EXIF orientation
  applied; transparency is composited onto black.
- :func:`fit_to` and :func:`output_size` map an image onto an output frame.
- :func:`check_pair_ratio` is the first/last pixel-count rule (:data:`PAIR_RATIO`).

Errors are :class:`ClientError`: ``IMAGE_FORMAT`` for undecodable or unsupported data,
``IMAGE_SIZE`` for byte size, pixel count, side or aspect violations. Messages start
with ``image <index>:`` so a person knows which input to fix.
"""

from __future__ import annotations

import binascii
import dataclasses
import io
import re
from dataclasses import dataclass

import cv2
import httpx
import numpy as np
import numpy.typing as npt
import pybase64
from PIL import Image, ImageOps, UnidentifiedImageError

from framecast.domain import ErrorCode
from framecast.errors import ClientError
from framecast.media.fetch import FetchPolicy, Resolver, fetch

# A 50 MB PNG can still hold gigapixels of flat colour; decoding stops at this many pixels.
DEFAULT_MAX_PIXELS = 8192 * 8192

# MPO is how Pillow names the multi-picture JPEGs many phone cameras write.
_FORMAT_NAMES = {
    "PNG": "png",
    "JPEG": "jpeg",
    "MPO": "jpeg",
    "WEBP": "webp",
    "GIF": "gif",
    "BMP": "bmp",
    "TIFF": "tiff",
}
_MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
_DATA_URI_MIMES = frozenset({"image/png", "image/jpeg", "image/jpg", "image/webp"})
_DATA_URI = re.compile(r"^data:(?P<mime>[^;,]*)(?P<params>(?:;[^;,]*)*),(?P<payload>.*)$", re.S | re.I)
_BASE64_CHARS = re.compile(r"^[A-Za-z0-9+/_-]*={0,2}$")
# enough of a bare string to tell base64 from anything else; the decode checks every character
_SNIFF_CHARS = 256
_PNG_EXIF = b"eXIf"  # the chunk type of a PNG's EXIF block
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
RESOLUTION_SHORT_SIDES = {"360p": 360, "480p": 480, "540p": 540, "720p": 720, "1080p": 1080}


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = 50 * 1024 * 1024
    min_side: int = 128
    max_aspect: float = 4.0  # long/short
    formats: frozenset[str] = frozenset({"png", "jpeg", "webp"})
    data_uri_needs_mime: bool = True  # Vidu: data:image/<png|jpeg|jpg|webp>;base64, prefix mandatory
    allow_bare_base64: bool = False  # Kling sends bare base64
    max_pixels: int = DEFAULT_MAX_PIXELS  # decompression-bomb guard (width * height)


@dataclass(frozen=True)
class CheckedImage:
    data: bytes
    mime: str
    width: int
    height: int


def _err(code: ErrorCode, index: int, message: str) -> ClientError:
    return ClientError(code, f"image {index}: {message}")


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB" if n >= 1024 * 1024 else f"{n} bytes"


def _format_list(formats: frozenset[str]) -> str:
    names = {"png": "PNG", "jpeg": "JPEG", "webp": "WebP"}
    return ", ".join(names.get(f, f.upper()) for f in sorted(formats))


# the URL-safe alphabet mapped onto the standard one, whitespace (line-wrapped base64) deleted; a translate
# copies the whole payload byte by byte, a search is a memchr, so only a payload that needs it is translated
_URLSAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_WHITESPACE = b" \t\n\r\x0b\x0c"
_NEEDS_TRANSLATE = tuple(bytes([c]) for c in b"-_" + _WHITESPACE)


def _b64decode(payload: str, *, limits: ImageLimits, index: int) -> bytes:
    invalid = _err(ErrorCode.IMAGE_FORMAT, index, "the image data is not valid base64")
    try:
        text = payload.encode("ascii")
    except UnicodeEncodeError:
        raise invalid from None
    if any(c in text for c in _NEEDS_TRANSLATE):
        text = text.translate(_URLSAFE_TO_STANDARD, _WHITESPACE)
    if len(text) * 3 // 4 > limits.max_bytes + 3:
        raise _err(ErrorCode.IMAGE_SIZE, index, f"image is larger than the {_mb(limits.max_bytes)} limit")
    unpadded = text.rstrip(b"=")
    if not unpadded or len(text) - len(unpadded) > 2:
        raise invalid
    try:
        # one SIMD pass that checks the alphabet and decodes, where a regex and the standard library's
        # decode took about 90x as long (bench/request_costs.py). Missing padding is put back.
        return pybase64.b64decode(unpadded + b"=" * (-len(unpadded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise invalid from None


def _decode_data_uri(source: str, *, limits: ImageLimits, index: int) -> bytes:
    usage = "use data:image/<png|jpeg|jpg|webp>;base64,<data>"
    m = _DATA_URI.match(source)
    if m is None:
        raise _err(ErrorCode.IMAGE_FORMAT, index, f"malformed data URI; {usage}")
    mime = m.group("mime").strip().lower()
    params = [p.strip().lower() for p in m.group("params").split(";") if p.strip()]
    if "base64" not in params:
        raise _err(ErrorCode.IMAGE_FORMAT, index, f"data URI must be base64-encoded; {usage}")
    if not mime:
        if limits.data_uri_needs_mime:
            raise _err(ErrorCode.IMAGE_FORMAT, index, f"data URI is missing its MIME type; {usage}")
    elif mime not in _DATA_URI_MIMES:
        raise _err(ErrorCode.IMAGE_FORMAT, index, f"data URI type {mime!r} is not supported; {usage}")
    return _b64decode(m.group("payload"), limits=limits, index=index)


def load_source(
    source: str,
    *,
    limits: ImageLimits,
    policy: FetchPolicy,
    index: int = 1,
    transport: httpx.BaseTransport | None = None,
    resolver: Resolver | None = None,
) -> CheckedImage:
    """Fetch or decode one client-supplied image and check it (``index`` is 1-based, for messages)."""
    source = source.strip()
    if source[:5].lower() == "data:":
        data = _decode_data_uri(source, limits=limits, index=index)
    elif _SCHEME.match(source):
        # http(s) is fetched; any other scheme (file:, ftp: ...) is refused by fetch() itself.
        # Base64 never contains ":", so nothing else can look like a scheme.
        capped = dataclasses.replace(policy, max_bytes=min(policy.max_bytes, limits.max_bytes))
        try:
            data = fetch(source, capped, transport=transport, resolver=resolver).data
        except ClientError as exc:
            raise ClientError(
                exc.code, f"image {index}: {exc.message}", param=exc.param, reason=exc.reason
            ) from None
    elif limits.allow_bare_base64 and source and _BASE64_CHARS.match("".join(source[:_SNIFF_CHARS].split())):
        data = _b64decode(source, limits=limits, index=index)
    else:
        expected = "an http(s) URL or a data:image/<png|jpeg|jpg|webp>;base64 URI"
        if limits.allow_bare_base64:
            expected = "an http(s) URL, a data URI or base64-encoded image data"
        raise _err(ErrorCode.IMAGE_FORMAT, index, f"expected {expected}")
    return check_image(data, limits=limits, index=index)


def _open(data: bytes, *, max_pixels: int, index: int) -> Image.Image:
    """Open (not decode) ``data`` with Pillow, refusing unknown data and pixel bombs."""
    try:
        img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:  # Pillow's own cap, far above ours: say ours
        raise _err(
            ErrorCode.IMAGE_SIZE,
            index,
            f"image has too many pixels; at most {max_pixels / 1e6:.0f} megapixels are accepted",
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise _err(ErrorCode.IMAGE_FORMAT, index, "the data is not a recognisable image") from None
    width, height = img.size
    if width * height > max_pixels:
        img.close()
        raise _err(
            ErrorCode.IMAGE_SIZE,
            index,
            f"{width}x{height} px is too large; at most {max_pixels / 1e6:.0f} megapixels are accepted",
        )
    return img


def check_image(data: bytes, *, limits: ImageLimits, index: int = 1) -> CheckedImage:
    """Sniff the real format, decode once, enforce byte size, minimum side and aspect ratio."""
    if len(data) > limits.max_bytes:
        raise _err(ErrorCode.IMAGE_SIZE, index, f"image is larger than the {_mb(limits.max_bytes)} limit")
    if not data:
        raise _err(ErrorCode.IMAGE_FORMAT, index, "the image is empty")
    img = _open(data, max_pixels=limits.max_pixels, index=index)
    with img:
        fmt = _FORMAT_NAMES.get(img.format or "", (img.format or "unknown").lower())
        if fmt not in limits.formats or fmt not in _MIME:
            raise _err(
                ErrorCode.IMAGE_FORMAT,
                index,
                f"format {fmt.upper()} is not supported; use {_format_list(limits.formats)}",
            )
        try:
            if fmt == "png" and ("exif" in img.info or _PNG_EXIF not in data):
                # every chunk's CRC checked up to IEND without inflating the pixels, about 60x faster than
                # the decode (bench/request_costs.py; the worker decodes anyway). Only a PNG whose EXIF
                # block comes after its pixels needs the decode here, to read the orientation.
                img.verify()
                width, height = _oriented_size(img, exif=img.info.get("exif", b""))
            else:
                img.load()
                width, height = _oriented_size(img)
        except Image.DecompressionBombError:
            raise _err(ErrorCode.IMAGE_SIZE, index, "image has too many pixels") from None
        except (OSError, SyntaxError, ValueError, EOFError):
            raise _err(ErrorCode.IMAGE_FORMAT, index, "the image is corrupt or truncated") from None
    short, long_ = min(width, height), max(width, height)
    if short < limits.min_side:
        raise _err(
            ErrorCode.IMAGE_SIZE,
            index,
            f"{width}x{height} px is too small; each side must be at least {limits.min_side} px",
        )
    aspect = long_ / short
    if aspect > limits.max_aspect + 1e-9:
        bound = f"{limits.max_aspect:g}"
        raise _err(
            ErrorCode.IMAGE_SIZE,
            index,
            f"aspect ratio {aspect:.2f} is outside 1:{bound}..{bound}:1 ({width}x{height} px)",
        )
    return CheckedImage(data=data, mime=_MIME[fmt], width=width, height=height)


def _oriented_size(img: Image.Image, exif: bytes | None = None) -> tuple[int, int]:
    """Width and height as displayed, i.e. after the EXIF orientation is applied. ``exif``: the raw EXIF
    block when it is known without decoding the image (a verified PNG can no longer load)."""
    width, height = img.size
    try:
        if exif is None:
            orientation = img.getexif().get(0x0112, 1)
        else:
            block = Image.Exif()
            block.load(exif)
            orientation = block.get(0x0112, 1)
    except Exception:  # a broken EXIF block does not make the pixels unusable
        orientation = 1
    if orientation in (5, 6, 7, 8):
        return height, width
    return width, height


def decode_rgb(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> npt.NDArray[np.uint8]:
    """Decode to an (H, W, 3) uint8 RGB array.

    EXIF orientation is applied. Transparent pixels are composited onto black (the
    colour used for padding elsewhere in the video), so an RGBA logo on a transparent
    background becomes the logo on black. 16-bit and float images are scaled to 8 bit;
    for animated images the first frame is used. Raises ``ClientError`` like
    :func:`check_image` for undecodable data or pixel bombs.
    """
    img = _open(data, max_pixels=max_pixels, index=1)
    with img:
        try:
            img.load()
            oriented = ImageOps.exif_transpose(img) or img
        except Image.DecompressionBombError:
            raise _err(ErrorCode.IMAGE_SIZE, 1, "image has too many pixels") from None
        except (OSError, SyntaxError, ValueError, EOFError):
            raise _err(ErrorCode.IMAGE_FORMAT, 1, "the image is corrupt or truncated") from None
        return _to_rgb(oriented)


def _to_rgb(img: Image.Image) -> npt.NDArray[np.uint8]:
    mode = img.mode
    if mode in ("I", "F") or mode.startswith("I;16"):
        arr = np.asarray(img).astype(np.float64)
        top = 65535.0 if mode.startswith("I;16") or (mode == "I" and arr.max(initial=0) > 255) else 255.0
        if mode == "F":
            top = 1.0 if arr.max(initial=0) <= 1.0 else 255.0
        gray = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in img.info)
    if has_alpha:
        rgba = np.asarray(img.convert("RGBA"), dtype=np.uint8)
        alpha = rgba[:, :, 3:4].astype(np.uint16)
        out = (rgba[:, :, :3].astype(np.uint16) * alpha + 127) // 255
        return np.ascontiguousarray(out.astype(np.uint8))
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def fit_to(image: npt.NDArray[np.uint8], width: int, height: int) -> npt.NDArray[np.uint8]:
    """Center-crop ``image`` (H, W, C) to the aspect of ``width``x``height``, then resize to it.

    Shrinking uses INTER_AREA, enlarging INTER_CUBIC. Always returns a new contiguous array.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"target size must be positive, got {width}x{height}")
    src_h, src_w = image.shape[:2]
    if src_w * height > width * src_h:  # source is wider than the target: crop the sides
        crop_w, crop_h = max(1, round(src_h * width / height)), src_h
    else:  # source is taller (or equal): crop top and bottom
        crop_w, crop_h = src_w, max(1, round(src_w * height / width))
    x0, y0 = (src_w - crop_w) // 2, (src_h - crop_h) // 2
    cropped = image[y0 : y0 + crop_h, x0 : x0 + crop_w]
    if (crop_w, crop_h) == (width, height):
        return np.ascontiguousarray(cropped).copy()
    interpolation = cv2.INTER_AREA if crop_w * crop_h > width * height else cv2.INTER_CUBIC
    resized = cv2.resize(np.ascontiguousarray(cropped), (width, height), interpolation=interpolation)
    return np.ascontiguousarray(resized, dtype=np.uint8)


def _even(x: float) -> int:
    return max(2, int(x / 2 + 0.5) * 2)


def output_size(width: int, height: int, resolution: str) -> tuple[int, int]:
    """Output frame size: the short side from ``resolution`` ("360p" .. "1080p"), the aspect of
    ``width``x``height``, both sides even (libx264 yuv420p needs that)."""
    short = RESOLUTION_SHORT_SIDES.get(resolution.strip().lower())
    if short is None:
        raise ClientError(
            ErrorCode.INVALID_FIELD,
            f"resolution {resolution!r} is not supported; use one of {', '.join(RESOLUTION_SHORT_SIDES)}",
            param="resolution",
        )
    if width <= 0 or height <= 0:
        raise ValueError(f"width and height must be positive, got {width}x{height}")
    if width >= height:
        return _even(short * width / height), short
    return short, _even(short * height / width)


PAIR_RATIO = (0.8, 1.25)
"""Vidu's first/last-frame rule: (pixels of the first image) / (pixels of the last) within these bounds."""


def check_pair_ratio(
    first: CheckedImage, last: CheckedImage, bounds: tuple[float, float] = PAIR_RATIO
) -> None:
    """Refuse a first/last pair whose pixel counts differ too much (the one rule the service and
    ``framecast generate`` both apply, with one message)."""
    lo, hi = bounds
    ratio = (first.width * first.height) / (last.width * last.height)
    if not lo <= ratio <= hi:
        raise ClientError(
            ErrorCode.IMAGE_SIZE,
            f"first/last image pixel-count ratio is {ratio:.2f} "
            f"({first.width}x{first.height} vs {last.width}x{last.height}); it must be between {lo} and {hi}",
            param="images",
        )
