"""Wan through diffusers: Wan2.1 FLF2V/I2V, Wan2.2 TI2V-5B and A14B, and Wan VACE.

Which pipeline a weights folder holds (its ``model_index.json``) decides what the model can make:

- ``WanImageToVideoPipeline`` (Wan2.1 FLF2V-14B, Wan2.1 I2V, Wan2.2 I2V-A14B with ``transformer_2`` and
  ``boundary_ratio``): image-to-video and first/last frame (``image=first, last_image=last``). The image
  encoder and the VAE are loaded in fp32, as diffusers documents for these models.
- ``WanPipeline`` (Wan2.1/2.2 T2V; Wan2.2 TI2V-5B, whose config sets ``expand_timesteps``): text-to-video,
  and for TI2V image-to-video through an image-to-video pipeline built on the same modules.
- ``WanVACEPipeline`` (VACE 1.3B/14B): text, reference images (``reference_images``), and first/last
  frame or image-to-video through masks: the given frames kept (mask 0), the rest generated (mask 255).
  Video inputs (Kling/Qianfan ``video_list``): a ``base`` video's frames are VACE's ``video`` with every
  pixel regenerated (the prompt edits it); a ``feature`` video is followed for its motion only, drawn as
  an optical-flow video (VACE's flow condition).

Native 16 fps; sides on multiples of 16 (VAE 8 x patch 2), ``num_frames`` = 4k+1.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from framecast.domain import TaskKind, VideoRole
from framecast.engines.base import GenerationJob
from framecast.engines.diffusers_common import DiffusersEngine, pil, resize

I2V = "WanImageToVideoPipeline"
T2V = "WanPipeline"
VACE = "WanVACEPipeline"
_GREY = (128, 128, 128)


class WanEngine(DiffusersEngine):
    name = "wan"
    pipeline_classes: ClassVar[tuple[str, ...]] = (I2V, T2V, VACE)
    default_steps = 40
    default_guidance = 5.0
    default_native_fps = 16
    default_render_short_side = 720

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._variants: dict[str, Any] = {}

    @classmethod
    def kinds_for(cls, index: Mapping[str, Any]) -> frozenset[TaskKind]:
        name = index.get("_class_name")
        if name == VACE:
            return frozenset(
                {TaskKind.TEXT, TaskKind.IMAGE, TaskKind.FIRST_LAST, TaskKind.REFERENCE, TaskKind.VIDEO}
            )
        if index.get("expand_timesteps"):  # Wan2.2 TI2V-5B: one model for text and image
            return frozenset({TaskKind.TEXT, TaskKind.IMAGE})
        if name == I2V:
            return frozenset({TaskKind.IMAGE, TaskKind.FIRST_LAST})
        return frozenset({TaskKind.TEXT})

    def _from_pretrained(self, folder: Path, index: Mapping[str, Any], dtype: Any) -> Any:
        import diffusers
        import torch

        extra: dict[str, Any] = {}
        vae_cls = getattr(diffusers, str(index["vae"][1]))
        extra["vae"] = vae_cls.from_pretrained(
            folder, subfolder="vae", dtype=torch.float32, local_files_only=True
        )
        encoder = index.get("image_encoder")
        if isinstance(encoder, list) and encoder[0] is not None:
            import transformers

            extra["image_encoder"] = getattr(transformers, str(encoder[1])).from_pretrained(
                folder, subfolder="image_encoder", dtype=torch.float32, local_files_only=True
            )
        cls = getattr(diffusers, str(index["_class_name"]))
        return cls.from_pretrained(folder, dtype=dtype, local_files_only=True, **extra)

    def spatial_multiple(self) -> int:
        return int(self.pipe.vae_scale_factor_spatial * self.pipe.transformer.config.patch_size[1])

    def temporal_multiple(self) -> int:
        return int(self.pipe.vae_scale_factor_temporal)

    def pipeline_for(self, job: GenerationJob) -> Any:
        """The loaded pipeline, or for TI2V the other variant over the same modules (no second copy)."""
        loaded = type(self.pipe).__name__
        want = loaded
        if loaded != VACE:
            want = T2V if job.kind is TaskKind.TEXT else I2V
        if want == loaded:
            return self.pipe
        if want not in self._variants:
            import diffusers

            c = self.pipe.components
            common = {k: c[k] for k in ("tokenizer", "text_encoder", "vae", "scheduler", "transformer")}
            cfg = self.pipe.config
            if want == I2V:
                variant = diffusers.WanImageToVideoPipeline(
                    **common,
                    image_processor=None,
                    image_encoder=None,
                    transformer_2=c.get("transformer_2"),
                    boundary_ratio=cfg.get("boundary_ratio"),
                    expand_timesteps=bool(cfg.get("expand_timesteps")),
                )
            else:
                variant = diffusers.WanPipeline(
                    **common,
                    transformer_2=c.get("transformer_2"),
                    boundary_ratio=cfg.get("boundary_ratio"),
                    expand_timesteps=bool(cfg.get("expand_timesteps")),
                )
            variant.set_progress_bar_config(disable=True)
            self._variants[want] = variant
        return self._variants[want]

    def call_kwargs(self, job: GenerationJob, width: int, height: int, num_frames: int) -> dict[str, Any]:
        if type(self.pipe).__name__ == VACE:
            return self._vace_kwargs(job, width, height, num_frames)
        if job.kind is TaskKind.TEXT:
            return {}
        assert job.first is not None
        kw: dict[str, Any] = {"image": pil(job.first, width, height)}
        if job.kind is TaskKind.FIRST_LAST:
            assert job.last is not None
            kw["last_image"] = pil(job.last, width, height)
        return kw

    def _vace_kwargs(self, job: GenerationJob, width: int, height: int, num_frames: int) -> dict[str, Any]:
        """VACE's inputs: ``video`` (the frames it sees), ``mask`` (255 where it generates, 0 where it
        keeps the frame as given) and ``reference_images``."""
        from PIL import Image

        refs = {"reference_images": [pil(r, width, height) for r in job.references]} if job.references else {}
        if job.kind in (TaskKind.TEXT, TaskKind.REFERENCE):
            return refs
        keep, make = Image.new("L", (width, height), 0), Image.new("L", (width, height), 255)
        if job.kind is TaskKind.VIDEO:
            video = self._video_condition(job, width, height, num_frames)
        else:
            video = [Image.new("RGB", (width, height), _GREY)] * num_frames
        mask = [make] * num_frames
        # a first (and last) frame is kept as given, over a video input too
        if job.first is not None:
            video[0], mask[0] = pil(job.first, width, height), keep
        if job.last is not None:
            video[-1], mask[-1] = pil(job.last, width, height), keep
        return {"video": video, "mask": mask, **refs}

    def _video_condition(self, job: GenerationJob, width: int, height: int, count: int) -> list[Any]:
        """The input video at the native frame rate and render size: for ``base`` its frames (VACE
        regenerates every pixel following them: the prompt edits the video), for ``feature`` only its
        motion (:func:`framecast.engines.motion.motion_video`, VACE's flow condition)."""
        from framecast.engines.motion import motion_video

        native_fps = self.options.native_fps or self.default_native_fps
        # native frame j shows instant j / native_fps: the job frame on screen then
        picks = [min(len(job.video) - 1, int(j * job.fps / native_fps + 1e-9)) for j in range(count)]
        frames = [resize(job.video[i], width, height) for i in picks]
        if job.video_role is VideoRole.FEATURE:
            frames = motion_video(frames)
        return [pil(f, width, height) for f in frames]
