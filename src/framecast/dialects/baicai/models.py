"""Baicai request bodies, in the vendor docs' field order.

Docs: docs.baicainfer.com "首尾帧生视频" (flf2video, seed page 003) and the
wan2.2 video02 page (i2v knobs, multi-reference). Unknown fields are accepted and
logged (``_base.WireModel``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from framecast.dialects._base import WireModel


class BaicaiInput(WireModel):
    image: str | None = None
    last_image: str | None = None
    prompt: str | None = None
    negative_prompt: str | None = None
    resolution: str | None = None
    aspect_ratio: str | None = None
    duration: int | None = None
    number_of_videos: int | None = None
    # i2v (wan2.2) diffusion knobs
    num_inference_steps: int | None = None
    true_cfg_scale: float | None = None
    seed: int | None = None
    # the vendor's spelling
    mutil_reference: list[Any] | None = None


class BaicaiCreate(WireModel):
    model_config = ConfigDict(populate_by_name=True)

    selected_model: str | None = None
    task_type: str | None = None
    input: BaicaiInput | None = None
    need_expand_prompt: bool = False
    async_: bool = Field(default=True, alias="async")


class BaicaiUpload(BaseModel):
    """``POST /v1/resources/upload`` (multipart): described for the OpenAPI document; the route reads the
    form itself, under the body limit."""

    file: bytes
