"""framecast.media.images: source loading, format sniffing, limits, decoding and fitting."""

from __future__ import annotations

import base64
import io
import struct
import zlib
from collections.abc import Callable

import httpx
import numpy as np
import pytest
from PIL import Image
from tests.transports import recording_transport

from framecast.domain import ErrorCode
from framecast.errors import ClientError
from framecast.media.fetch import FetchPolicy
from framecast.media.images import (
    CheckedImage,
    ImageLimits,
    check_image,
    check_pair_ratio,
    decode_rgb,
    fit_to,
    load_source,
    output_size,
)

LIMITS = ImageLimits()
KLING = ImageLimits(allow_bare_base64=True, data_uri_needs_mime=False)
POLICY = FetchPolicy()


def make(fmt: str, width: int = 256, height: int = 256, mode: str = "RGB", **save: object) -> bytes:
    colors: dict[str, int | tuple[int, ...]] = {"RGB": (200, 30, 60), "RGBA": (200, 30, 60, 255), "L": 120}
    img = Image.new(mode, (width, height), colors[mode])
    buf = io.BytesIO()
    img.save(buf, format=fmt, **save)
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def expect(code: ErrorCode, call: Callable[[], object], *fragments: str) -> ClientError:
    with pytest.raises(ClientError) as info:
        call()
    assert info.value.code is code, info.value.message
    for fragment in fragments:
        assert fragment in info.value.message, info.value.message
    return info.value


# --- check_image -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mime"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")]
)
def test_supported_formats_accepted(fmt: str, mime: str) -> None:
    checked = check_image(make(fmt, 320, 240), limits=LIMITS)
    assert (checked.mime, checked.width, checked.height) == (mime, 320, 240)


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_unsupported_formats_refused(fmt: str) -> None:
    expect(ErrorCode.IMAGE_FORMAT, lambda: check_image(make(fmt), limits=LIMITS, index=2), "image 2:", fmt)


def test_format_list_is_configurable() -> None:
    kling = ImageLimits(formats=frozenset({"png", "jpeg"}))
    expect(ErrorCode.IMAGE_FORMAT, lambda: check_image(make("WEBP"), limits=kling), "use JPEG, PNG")


def test_too_small() -> None:
    expect(
        ErrorCode.IMAGE_SIZE,
        lambda: check_image(make("PNG", 127, 300), limits=LIMITS),
        "127x300 px is too small",
        "at least 128 px",
    )
    assert check_image(make("PNG", 128, 128), limits=LIMITS).width == 128


def test_aspect_ratio_limits() -> None:
    err = expect(ErrorCode.IMAGE_SIZE, lambda: check_image(make("PNG", 640, 128), limits=LIMITS, index=2))
    assert err.message.startswith("image 2: aspect ratio 5.00 is outside 1:4..4:1")
    expect(ErrorCode.IMAGE_SIZE, lambda: check_image(make("PNG", 128, 640), limits=LIMITS), "5.00")
    assert check_image(make("PNG", 512, 128), limits=LIMITS).width == 512
    assert check_image(make("PNG", 128, 512), limits=LIMITS).height == 512


def test_byte_limit() -> None:
    data = make("PNG", 256, 256)
    expect(
        ErrorCode.IMAGE_SIZE, lambda: check_image(data, limits=ImageLimits(max_bytes=len(data) - 1)), "limit"
    )


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, make("PNG", 256, 256)[:200]],
    ids=["empty", "text", "png-magic-garbage", "truncated-png"],
)
def test_corrupt_data_refused(data: bytes) -> None:
    expect(ErrorCode.IMAGE_FORMAT, lambda: check_image(data, limits=LIMITS, index=3), "image 3:")


def test_truncated_jpeg_refused() -> None:
    noisy = Image.fromarray(np.random.default_rng(1).integers(0, 255, (256, 256, 3), dtype=np.uint8))
    buf = io.BytesIO()
    noisy.save(buf, format="JPEG")
    data = buf.getvalue()
    expect(ErrorCode.IMAGE_FORMAT, lambda: check_image(data[: len(data) // 2], limits=LIMITS), "corrupt")


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(("width", "height"), [(100_000, 100_000), (20_000, 10_000)])
def test_decompression_bomb_refused_before_decoding(width: int, height: int) -> None:
    data = _png_header_only(width, height)
    expect(ErrorCode.IMAGE_SIZE, lambda: check_image(data, limits=LIMITS))
    expect(ErrorCode.IMAGE_SIZE, lambda: decode_rgb(data))


def test_explicit_pixel_cap() -> None:
    expect(
        ErrorCode.IMAGE_SIZE,
        lambda: check_image(make("PNG", 300, 300), limits=ImageLimits(max_pixels=200 * 200)),
        "300x300 px is too large",
    )


def test_exif_orientation_swaps_reported_size() -> None:
    img = Image.new("RGB", (400, 200), (10, 20, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif)
    checked = check_image(buf.getvalue(), limits=LIMITS)
    assert (checked.width, checked.height) == (200, 400)
    assert decode_rgb(buf.getvalue()).shape == (400, 200, 3)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _rotated_exif() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6
    return exif.tobytes()


@pytest.mark.parametrize("where", ["before the pixels", "after the pixels"])
def test_png_exif_orientation_swaps_reported_size(where: str) -> None:
    """A PNG is checked without decoding its pixels, unless its EXIF block comes after them: the
    orientation is read either way."""
    img = Image.new("RGB", (400, 200), (10, 20, 30))
    buf = io.BytesIO()
    if where == "before the pixels":
        img.save(buf, format="PNG", exif=_rotated_exif())
        data = buf.getvalue()
    else:
        img.save(buf, format="PNG")
        plain = buf.getvalue()
        iend = plain.rindex(b"IEND") - 4
        data = plain[:iend] + _png_chunk(b"eXIf", _rotated_exif()) + plain[iend:]
    assert (data.index(b"eXIf") < data.index(b"IDAT")) == (where == "before the pixels")
    checked = check_image(data, limits=LIMITS)
    assert (checked.width, checked.height) == (200, 400)
    assert decode_rgb(data).shape == (400, 200, 3)


def test_png_with_a_damaged_pixel_chunk_refused() -> None:
    data = bytearray(make("PNG", 256, 256))
    data[data.index(b"IDAT") + 20] ^= 0xFF  # the chunk's CRC no longer matches
    expect(ErrorCode.IMAGE_FORMAT, lambda: check_image(bytes(data), limits=LIMITS), "corrupt")


# --- load_source -------------------------------------------------------------------------------


def test_data_uri_valid() -> None:
    png = make("PNG")
    checked = load_source(f"data:image/png;base64,{b64(png)}", limits=LIMITS, policy=POLICY)
    assert checked == CheckedImage(data=png, mime="image/png", width=256, height=256)
    jpg = load_source(f"data:image/jpg;base64,{b64(make('JPEG'))}", limits=LIMITS, policy=POLICY)
    assert jpg.mime == "image/jpeg"
    upper = load_source(f"DATA:IMAGE/WEBP;BASE64,{b64(make('WEBP'))}", limits=LIMITS, policy=POLICY)
    assert upper.mime == "image/webp"


def test_data_uri_declared_png_but_jpeg_is_sniffed() -> None:
    checked = load_source(f"data:image/png;base64,{b64(make('JPEG'))}", limits=LIMITS, policy=POLICY)
    assert checked.mime == "image/jpeg"


def test_data_uri_tolerates_whitespace_and_missing_padding() -> None:
    text = b64(make("PNG")).rstrip("=")
    wrapped = "\n".join(text[i : i + 76] for i in range(0, len(text), 76))
    assert load_source(f"data:image/png;base64,{wrapped}", limits=LIMITS, policy=POLICY).width == 256


@pytest.mark.parametrize(
    ("uri", "fragment"),
    [
        ("data:;base64,{}", "missing its MIME type"),
        ("data:base64,{}", "base64-encoded"),
        ("data:image/png,{}", "base64-encoded"),
        ("data:image/gif;base64,{}", "'image/gif' is not supported"),
        ("data:text/plain;base64,{}", "not supported"),
        ("data:image/png;base64,@@@not-base64@@@", "not valid base64"),
        ("data:image/png;base64,", "not valid base64"),
        ("data:image/png;base64", "malformed"),
    ],
)
def test_data_uri_invalid(uri: str, fragment: str) -> None:
    source = uri.format(b64(make("PNG"))) if "{}" in uri else uri
    expect(
        ErrorCode.IMAGE_FORMAT,
        lambda: load_source(source, limits=LIMITS, policy=POLICY, index=2),
        "image 2:",
        fragment,
    )


def test_data_uri_without_mime_allowed_when_configured() -> None:
    checked = load_source(f"data:;base64,{b64(make('PNG'))}", limits=KLING, policy=POLICY)
    assert checked.mime == "image/png"


def test_data_uri_gif_payload_under_png_label_refused() -> None:
    expect(
        ErrorCode.IMAGE_FORMAT,
        lambda: load_source(f"data:image/png;base64,{b64(make('GIF'))}", limits=LIMITS, policy=POLICY),
        "GIF",
    )


def test_data_uri_too_large_refused_before_decoding() -> None:
    limits = ImageLimits(max_bytes=1000)
    expect(
        ErrorCode.IMAGE_SIZE,
        lambda: load_source("data:image/png;base64," + "A" * 4000, limits=limits, policy=POLICY),
    )


def test_bare_base64_only_when_enabled() -> None:
    bare = b64(make("JPEG"))
    expect(
        ErrorCode.IMAGE_FORMAT,
        lambda: load_source(bare, limits=LIMITS, policy=POLICY),
        "expected an http(s) URL",
    )
    assert load_source(bare, limits=KLING, policy=POLICY).mime == "image/jpeg"
    expect(ErrorCode.IMAGE_FORMAT, lambda: load_source("bm90IGFuIGltYWdl", limits=KLING, policy=POLICY))
    expect(ErrorCode.IMAGE_FORMAT, lambda: load_source("not base64!", limits=KLING, policy=POLICY))


def test_empty_source_refused() -> None:
    expect(ErrorCode.IMAGE_FORMAT, lambda: load_source("  ", limits=KLING, policy=POLICY))


def test_url_source_is_fetched_and_checked() -> None:
    jpeg = make("JPEG", 300, 200)
    transport, seen = recording_transport(jpeg, "image/png")  # the server claims PNG; the bytes decide

    checked = load_source(
        "https://img.example/a.png",
        limits=LIMITS,
        policy=POLICY,
        transport=transport,
        resolver=lambda host: ["93.184.216.34"],
    )
    assert (checked.mime, checked.width, checked.height) == ("image/jpeg", 300, 200)
    assert seen[0].url.host == "93.184.216.34"


def test_url_source_errors_name_the_image() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(403))
    err = expect(
        ErrorCode.IMAGE_DOWNLOAD,
        lambda: load_source(
            "https://img.example/a.png",
            limits=LIMITS,
            policy=POLICY,
            index=2,
            transport=transport,
            resolver=lambda host: ["93.184.216.34"],
        ),
        "HTTP 403",
    )
    assert err.message.startswith("image 2: ")
    expect(
        ErrorCode.IMAGE_DOWNLOAD, lambda: load_source("http://127.0.0.1/a.png", limits=LIMITS, policy=POLICY)
    )
    expect(
        ErrorCode.IMAGE_DOWNLOAD, lambda: load_source("ftp://example.com/a.png", limits=LIMITS, policy=POLICY)
    )
    expect(ErrorCode.IMAGE_DOWNLOAD, lambda: load_source("file:///etc/hosts", limits=LIMITS, policy=POLICY))


def test_url_source_uses_image_byte_limit() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b"x" * 5000))
    expect(
        ErrorCode.IMAGE_DOWNLOAD,
        lambda: load_source(
            "https://img.example/a.png",
            limits=ImageLimits(max_bytes=1000),
            policy=POLICY,
            transport=transport,
            resolver=lambda host: ["93.184.216.34"],
        ),
        "larger than",
    )


# --- decode_rgb --------------------------------------------------------------------------------


def test_decode_rgb_shape_and_values() -> None:
    arr = decode_rgb(make("PNG", 300, 200))
    assert arr.shape == (200, 300, 3)
    assert arr.dtype == np.uint8
    assert tuple(arr[0, 0]) == (200, 30, 60)


def test_decode_rgb_composites_alpha_on_black() -> None:
    rgba = np.zeros((128, 128, 4), dtype=np.uint8)
    rgba[..., :3] = (200, 100, 50)
    rgba[:, :64, 3] = 255
    rgba[:, 64:96, 3] = 0
    rgba[:, 96:, 3] = 128
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    arr = decode_rgb(buf.getvalue())
    assert tuple(arr[0, 0]) == (200, 100, 50)
    assert tuple(arr[0, 70]) == (0, 0, 0)
    assert tuple(arr[0, 100]) == (100, 50, 25)


def test_decode_rgb_grayscale_and_palette() -> None:
    assert decode_rgb(make("PNG", 130, 140, mode="L")).shape == (140, 130, 3)
    img = Image.new("P", (130, 130), 0)
    img.putpalette([10, 20, 30] + [0] * 765)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    assert tuple(decode_rgb(buf.getvalue())[5, 5]) == (10, 20, 30)


def test_decode_rgb_16bit() -> None:
    img = Image.fromarray(np.full((130, 130), 65535, dtype=np.uint16))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    assert tuple(decode_rgb(buf.getvalue())[0, 0]) == (255, 255, 255)


# --- fit_to ------------------------------------------------------------------------------------


def _index_image(width: int, height: int) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width]
    return np.stack([xs % 256, ys % 256, (xs // 256) * 16 + ys // 256], axis=2).astype(np.uint8)


def test_fit_to_crops_sides_of_wide_image() -> None:
    img = _index_image(400, 200)
    out = fit_to(img, 200, 200)
    assert out.shape == (200, 200, 3)
    np.testing.assert_array_equal(out, img[:, 100:300])


def test_fit_to_crops_top_and_bottom_of_tall_image() -> None:
    img = _index_image(200, 400)
    out = fit_to(img, 200, 100)
    np.testing.assert_array_equal(out, img[150:250, :])


def test_fit_to_center_crop_then_resize() -> None:
    img = np.zeros((100, 300, 3), dtype=np.uint8)
    img[:, :100] = (255, 0, 0)
    img[:, 100:200] = (0, 255, 0)
    img[:, 200:] = (0, 0, 255)
    down = fit_to(img, 50, 50)
    assert down.shape == (50, 50, 3) and down.dtype == np.uint8
    assert (down == np.array([0, 255, 0], dtype=np.uint8)).all()
    up = fit_to(img, 160, 90)  # 16:9 crop of the middle (178 px wide), upscaled
    assert up.shape == (90, 160, 3)
    assert tuple(up[45, 80]) == (0, 255, 0)
    assert up[45, 0, 0] > 200 and up[45, -1, 2] > 200  # red and blue edges survive the crop
    assert fit_to(img, 300, 100) is not img


# --- output_size and pixel ratio ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "resolution", "expected"),
    [
        ((1920, 1080), "720p", (1280, 720)),
        ((1080, 1920), "720p", (720, 1280)),
        ((1280, 720), "1080p", (1920, 1080)),
        ((1280, 720), "540p", (960, 540)),
        ((1280, 720), "360p", (640, 360)),
        ((1000, 1000), "1080p", (1080, 1080)),
        ((800, 600), "540p", (720, 540)),
        ((2560, 1080), "720p", (1706, 720)),  # 1706.67 -> nearest even
        ((1000, 333), "360p", (1082, 360)),  # 1081.08 -> nearest even
        ((333, 1000), "360p", (360, 1082)),
    ],
)
def test_output_size(size: tuple[int, int], resolution: str, expected: tuple[int, int]) -> None:
    out = output_size(size[0], size[1], resolution)
    assert out == expected
    assert out[0] % 2 == 0 and out[1] % 2 == 0


def test_output_size_unknown_resolution() -> None:
    err = expect(ErrorCode.INVALID_FIELD, lambda: output_size(100, 100, "4k"), "720p")
    assert err.param == "resolution"


def test_pair_ratio() -> None:
    a = CheckedImage(b"", "image/png", 1000, 1000)
    check_pair_ratio(a, CheckedImage(b"", "image/png", 1000, 1000))
    check_pair_ratio(a, CheckedImage(b"", "image/png", 1000, 800))  # 1.25
    check_pair_ratio(a, CheckedImage(b"", "image/png", 1000, 1250))  # 0.8
    for height in (790, 1260):
        with pytest.raises(ClientError) as err:
            check_pair_ratio(a, CheckedImage(b"", "image/png", 1000, height))
        assert err.value.code is ErrorCode.IMAGE_SIZE and err.value.param == "images"
        assert f"(1000x1000 vs 1000x{height}); it must be between 0.8 and 1.25" in err.value.message
