"""Preview images of a result: a WebP thumbnail and a WebP spritesheet (OpenAI's ``content`` variants).

The thumbnail is the cover JPEG re-encoded; the spritesheet a grid of frames
sampled evenly from the MP4. PyAV is imported inside the function so the API
process only loads it when someone asks for a spritesheet.
"""

from __future__ import annotations

import io

from PIL import Image

SPRITE_COLUMNS = 5
SPRITE_FRAMES = 25
SPRITE_TILE_WIDTH = 256
WEBP_QUALITY = 82


def _webp(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="WEBP", quality=WEBP_QUALITY)
    return buf.getvalue()


def thumbnail_webp(cover_jpeg: bytes) -> bytes:
    with Image.open(io.BytesIO(cover_jpeg)) as cover:
        return _webp(cover.convert("RGB"))


def spritesheet_webp(mp4: bytes, *, total_frames: int) -> bytes:
    return _webp(build_spritesheet(mp4, total_frames=total_frames))


def build_spritesheet(mp4: bytes, *, total_frames: int) -> Image.Image:
    """Up to ``SPRITE_FRAMES`` evenly spaced frames, ``SPRITE_COLUMNS`` to a row, in time order."""
    import av

    count = max(1, min(SPRITE_FRAMES, total_frames))
    wanted = {round(i * (total_frames - 1) / max(1, count - 1)) for i in range(count)}
    tiles: list[Image.Image] = []
    with av.open(io.BytesIO(mp4), mode="r") as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                img = frame.to_image()  # type: ignore[no-untyped-call]
                height = max(1, round(img.height * SPRITE_TILE_WIDTH / img.width))
                tiles.append(img.resize((SPRITE_TILE_WIDTH, height), Image.Resampling.BILINEAR))
            if len(tiles) == len(wanted):
                break
    if not tiles:
        raise ValueError("the video has no decodable frames")
    tile_w, tile_h = tiles[0].size
    columns = min(SPRITE_COLUMNS, len(tiles))
    rows = -(-len(tiles) // columns)
    sheet = Image.new("RGB", (tile_w * columns, tile_h * rows))
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % columns) * tile_w, (i // columns) * tile_h))
    return sheet
