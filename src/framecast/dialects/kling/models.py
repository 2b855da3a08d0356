"""Kling request bodies, in the vendor docs' field order.

Docs: the Kling apiReference pages (image-to-video, text-to-video, omni-video).
Unknown fields are accepted and logged, not fatal (``_base.WireModel``).
``duration`` is a string on the wire ("5"); an int is accepted too because
resellers send both.
"""

from __future__ import annotations

from typing import Any

from framecast.dialects._base import WireModel


class WatermarkInfo(WireModel):
    enabled: bool = False


class KlingCommon(WireModel):
    model_name: str | None = None
    model: str | None = None  # the pre-rename field; still honoured by the vendor
    prompt: str | None = None
    negative_prompt: str | None = None
    cfg_scale: float | None = None
    mode: str | None = None
    duration: str | int | None = None
    sound: str | None = None
    camera_control: dict[str, Any] | None = None
    watermark_info: WatermarkInfo | None = None
    callback_url: str | None = None
    external_task_id: str | None = None


class Image2Video(KlingCommon):
    image: str | None = None
    image_tail: str | None = None
    static_mask: str | None = None
    dynamic_masks: list[Any] | None = None


class Text2Video(KlingCommon):
    aspect_ratio: str | None = None


class OmniImage(WireModel):
    image_url: str | None = None
    type: str | None = None  # first_frame | end_frame | absent (a reference image)


class OmniElement(WireModel):
    element_id: int | str | None = None


class OmniVideo(WireModel):
    video_url: str | None = None
    refer_type: str | None = None  # feature | base
    keep_original_sound: str | None = None  # yes | no


class Omni(KlingCommon):
    image_list: list[OmniImage] | None = None
    element_list: list[OmniElement] | None = None
    video_list: list[OmniVideo] | None = None
    aspect_ratio: str | None = None
