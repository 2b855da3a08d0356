"""OpenAI Videos request bodies, in the vendor docs' field order.

Docs: https://developers.openai.com/api/reference/resources/videos (create, remix).
Unknown fields are accepted and logged, not fatal (``_base.WireModel``). framecast's
own extensions are grouped at the end of :class:`VideoCreate` and documented in
docs/api/openai.md.
"""

from __future__ import annotations

from pydantic import BaseModel, StrictInt, StrictStr

from framecast.dialects._base import WireModel


class ImageInput(WireModel):
    """``{file_id}`` (a framecast upload) or ``{image_url}`` (http(s) or data: URL)."""

    file_id: str | None = None
    image_url: str | None = None


# a bare string is taken as an image_url: several gateways send input_reference that way
ImageField = ImageInput | str


class VideoCreate(WireModel):
    prompt: str | None = None
    input_reference: ImageField | None = None
    model: str | None = None
    # OpenAI sends a string ("4"); gateways and hand-written clients send ints
    seconds: StrictStr | StrictInt | None = None
    size: str | None = None

    # --8<-- framecast extensions
    last_frame: ImageField | None = None  # with input_reference: first/last-frame video
    last_image: ImageField | None = None  # alias of last_frame (new-api / UniAll spelling)
    reference_images: list[ImageField] | None = None  # reference-to-video, 1-7 images
    seed: int | None = None  # omitted or 0 -> random
    # --8<--


class VideoRemix(WireModel):
    prompt: str | None = None


class FileUpload(BaseModel):
    """``POST /v1/files`` (multipart): described for the OpenAPI document; the route reads the form itself."""

    file: bytes
    purpose: str = "vision"
