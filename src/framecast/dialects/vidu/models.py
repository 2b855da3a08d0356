"""Vidu ``/ent/v2`` request bodies, in the vendor docs' field order.

Docs: https://platform.vidu.com/docs/start-end-to-video (and image-to-video,
text-to-video, reference-to-video). Unknown fields are accepted and logged, not
fatal (``_base.WireModel``).
"""

from __future__ import annotations

from pydantic import Field

from framecast.dialects._base import WireModel


class Subject(WireModel):
    name: str = ""
    images: list[str] = Field(default_factory=list)
    videos: list[str] = Field(default_factory=list)
    voice_id: str = ""


class ViduCreate(WireModel):
    model: str | None = None
    images: list[str] | None = None
    subjects: list[Subject] | None = None
    prompt: str | None = None
    style: str | None = None
    is_rec: bool = False
    duration: int | None = None
    seed: int | None = None
    aspect_ratio: str | None = None
    resolution: str | None = None
    movement_amplitude: str | None = None
    bgm: bool = False
    audio: bool | None = None
    audio_type: str | None = None
    voice_id: str | None = None
    payload: str | None = None
    off_peak: bool = False
    watermark: bool = False
    wm_position: int | None = None
    wm_url: str | None = None
    meta_data: str | None = None
    callback_url: str | None = None
    client_request_id: str | None = None
    cus_priority: int | None = None
    # --8<-- framecast extensions, not in Vidu's docs (the web console sends them; Baicai and Kling take both)
    negative_prompt: str | None = None
    number_of_videos: int | None = None  # 1-4, default 1
    # --8<--


class ViduCancel(WireModel):
    id: str | None = None
