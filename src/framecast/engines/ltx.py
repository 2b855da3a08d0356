"""LTX-Video through diffusers' ``LTXConditionPipeline``: text-to-video, and image conditions at any
frame index (frame 0 for image-to-video, frame 0 and the last frame for first/last).

Any LTX-Video folder loads as the condition pipeline (the components are the same; diffusers documents
``LTXConditionPipeline.from_pretrained`` on the 0.9.5+ repositories). Distilled variants take their step
count and guidance from the catalog (``steps``, ``guidance``). Native 24 fps (``frame_rate`` is passed
to the model); sides on multiples of the VAE's 32, ``num_frames`` = 8k+1.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from framecast.domain import TaskKind
from framecast.engines.base import GenerationJob
from framecast.engines.diffusers_common import DiffusersEngine, pil


class LtxEngine(DiffusersEngine):
    name = "ltx"
    pipeline_classes: ClassVar[tuple[str, ...]] = (
        "LTXConditionPipeline",
        "LTXPipeline",
        "LTXImageToVideoPipeline",
    )
    default_steps = 40
    default_guidance = 3.0
    default_native_fps = 24
    default_render_short_side = 512

    @classmethod
    def kinds_for(cls, index: Mapping[str, Any]) -> frozenset[TaskKind]:
        return frozenset({TaskKind.TEXT, TaskKind.IMAGE, TaskKind.FIRST_LAST})

    def _from_pretrained(self, folder: Path, index: Mapping[str, Any], dtype: Any) -> Any:
        import diffusers
        import torch

        vae = diffusers.AutoencoderKLLTXVideo.from_pretrained(
            folder, subfolder="vae", dtype=torch.float32, local_files_only=True
        )
        return diffusers.LTXConditionPipeline.from_pretrained(
            folder, dtype=dtype, local_files_only=True, vae=vae
        )

    def spatial_multiple(self) -> int:
        # the condition pipeline checks for 32 whatever the VAE's own factor
        return max(
            32, int(self.pipe.vae_spatial_compression_ratio * self.pipe.transformer_spatial_patch_size)
        )

    def temporal_multiple(self) -> int:
        return int(self.pipe.vae_temporal_compression_ratio * self.pipe.transformer_temporal_patch_size)

    def call_kwargs(self, job: GenerationJob, width: int, height: int, num_frames: int) -> dict[str, Any]:
        from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

        kw: dict[str, Any] = {"frame_rate": self.options.native_fps or self.default_native_fps}
        conditions = []
        if job.kind in (TaskKind.IMAGE, TaskKind.FIRST_LAST):
            assert job.first is not None
            conditions.append(LTXVideoCondition(image=pil(job.first, width, height), frame_index=0))
        if job.kind is TaskKind.FIRST_LAST:
            assert job.last is not None
            conditions.append(
                LTXVideoCondition(image=pil(job.last, width, height), frame_index=num_frames - 1)
            )
        if conditions:
            kw["conditions"] = conditions
        return kw
