"""What the diffusers engines (``wan``, ``ltx``) share: catalog options, the weights check, loading, the
call with progress and cancel, and turning the pipeline's frames into the job's size, count and fps.

Nothing here imports torch or diffusers at module level: the API process checks requests against
these engines (kinds, whether the weights folder is there) without either installed. Only
:meth:`DiffusersEngine.load` and :meth:`DiffusersEngine.generate` import them.

Weights come only from the local disk: a folder written by ``save_pretrained`` or a Hugging Face id
already in the local cache, always loaded with ``local_files_only=True``. Never a download.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np

from framecast.domain import TaskKind
from framecast.engines.base import Capabilities, EngineCancelled, Frame, GenerationJob, StepProgress

log = logging.getLogger(__name__)

# Share of the engine's step progress spent denoising; decoding the latents is the rest.
_DENOISE_SHARE = 0.9


class WeightsError(RuntimeError):
    """The weights folder is missing or is not a pipeline this engine can load; the message names it."""


@dataclass(frozen=True)
class DiffusersOptions:
    """A catalog entry's ``options`` for a diffusers engine (every key optional but ``weights``)."""

    weights: str = ""  # a save_pretrained folder, or a Hugging Face id already in the local cache
    dtype: str = "bfloat16"  # transformer and text encoder; the VAE (and Wan's image encoder) stay fp32
    device: str = ""  # "" -> cuda when available, else cpu
    steps: int = 0  # 0 -> the engine's default
    guidance: float | None = None
    guidance_2: float | None = None  # Wan2.2 A14B: the low-noise expert's guidance
    flow_shift: float | None = None
    native_fps: int = 0  # 0 -> the engine's default (Wan 16, LTX 24)
    negative_prompt: str = ""  # used when a request has none
    render_short_side: int = 0  # 0 -> the engine's default; the output is resized to the request
    interpolate: str = "flow"  # how native fps is lifted to the request's: flow | blend | nearest
    max_sequence_length: int = 0  # 0 -> the pipeline's default
    lora: str = ""  # a LoRA file (.safetensors), e.g. a step-distillation LoRA
    lora_weight: float = 1.0
    offload: str = ""  # "" | model | sequential | group
    vae_tiling: bool = False
    vae_slicing: bool = False
    compile: bool = False  # regional torch.compile of the transformer's repeated blocks
    step_cache: str = ""  # "" | first_block | mag
    step_cache_threshold: float = 0.0  # 0 -> diffusers' default for that cache
    # MagCache's magnitude ratios, calibrated per model (MagCacheConfig(calibrate=True) prints them);
    # diffusers ships them for Flux only, so a Wan or LTX model needs its own here
    step_cache_ratios: tuple[float, ...] = ()
    attention_backend: str = ""  # e.g. native, flash, sage, _native_cudnn; "" -> diffusers' default

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> DiffusersOptions:
        """The options, or a ValueError that names the key and what it takes. Needs neither torch nor
        diffusers, except to list the attention backends when diffusers is installed."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        for f in fields(cls):
            if f.name in options and not _is_like(options[f.name], f.default):
                raise ValueError(f"option {f.name} = {options[f.name]!r} should be {_kind_of(f.default)}")
        values = dict(options)
        if "step_cache_ratios" in values:
            values["step_cache_ratios"] = tuple(values["step_cache_ratios"])
        opts = cls(**values)
        choices = {
            "dtype": (opts.dtype, _DTYPES),
            "interpolate": (opts.interpolate, ("flow", "blend", "nearest")),
            "offload": (opts.offload, ("", "model", "sequential", "group")),
            "step_cache": (opts.step_cache, ("", "first_block", "mag")),
            "device": (opts.device.split(":")[0], ("", "cpu", "cuda")),
        }
        backends = attention_backends() if opts.attention_backend else ()
        if backends:
            choices["attention_backend"] = (opts.attention_backend, backends)
        for key, (value, allowed) in choices.items():
            if value not in allowed:
                shown = ", ".join(repr(a) for a in allowed if a)
                raise ValueError(f"option {key} = {getattr(opts, key)!r} is not one of {shown}")
        for key in ("steps", "native_fps", "render_short_side", "max_sequence_length"):
            if getattr(opts, key) < 0:
                raise ValueError(f"option {key} must be 0 (the default) or more, not {getattr(opts, key)}")
        if opts.step_cache == "mag" and not (opts.steps and opts.step_cache_ratios):
            # MagCache skips steps by the model's calibrated magnitude ratios, stretched to the step count
            raise ValueError(
                "option step_cache = 'mag' needs steps and step_cache_ratios (the model's calibrated "
                "magnitude ratios: run diffusers' MagCacheConfig(calibrate=True) once to get them)"
            )
        return opts


_DTYPES = ("bfloat16", "float16", "float32")


def _is_like(value: Any, default: Any) -> bool:
    """Whether a TOML value has the option's type (a bool is not a number; None defaults are floats)."""
    if isinstance(default, tuple):
        return isinstance(value, list | tuple) and all(_is_like(v, 0.0) for v in value)
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float) or default is None:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, str)


def _kind_of(default: Any) -> str:
    if isinstance(default, tuple):
        return "a list of numbers"
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, int):
        return "a whole number"
    return "a number" if isinstance(default, float) or default is None else "a string"


def attention_backends() -> tuple[str, ...]:
    """The attention backends this diffusers has (``()`` when diffusers is not installed here)."""
    try:
        from diffusers.models.attention_dispatch import AttentionBackendName
    except ImportError:
        return ()
    return tuple(b.value for b in AttentionBackendName)


def hf_cache_dir() -> Path:
    """Where the Hugging Face hub keeps downloaded repositories on this machine (its own env rules)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "huggingface"
    )
    return Path(home).expanduser() / "hub"


def resolve_weights(weights: str) -> Path:
    """The folder a ``weights`` option names: a path, or the local cache's snapshot of a hub id."""
    path = Path(weights).expanduser()
    if path.is_dir() or weights.startswith(("/", ".", "~")) or weights.count("/") != 1:
        return path
    repo = hf_cache_dir() / ("models--" + weights.replace("/", "--"))
    ref = repo / "refs" / "main"
    if ref.is_file():
        return repo / "snapshots" / ref.read_text().strip()
    snapshots = sorted((repo / "snapshots").glob("*")) if (repo / "snapshots").is_dir() else []
    return snapshots[-1] if snapshots else repo


def read_model_index(options: Mapping[str, Any], classes: tuple[str, ...]) -> tuple[Path, dict[str, Any]]:
    """The weights folder and its ``model_index.json``, checked against the filesystem only.

    Raises :class:`WeightsError` naming the folder when it is missing, has no readable model index,
    holds a pipeline class outside ``classes``, or lacks a component folder the index lists.
    """
    weights = str(options.get("weights") or "")
    if not weights:
        raise WeightsError("no weights folder is configured (catalog option weights)")
    folder = resolve_weights(weights)
    if not folder.is_dir():
        raise WeightsError(f"weights folder {folder} does not exist")
    index_file = folder / "model_index.json"
    try:
        index: dict[str, Any] = json.loads(index_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WeightsError(
            f"weights folder {folder} has no readable model_index.json (save it with save_pretrained): "
            f"{type(exc).__name__}"
        ) from None
    cls_name = str(index.get("_class_name", ""))
    if cls_name not in classes:
        raise WeightsError(
            f"weights folder {folder} holds a {cls_name or 'unnamed'} pipeline; this engine loads "
            f"{', '.join(classes)}"
        )
    for name, value in index.items():
        if name.startswith("_") or not isinstance(value, list) or value[0] is None:
            continue
        sub = folder / name
        if not sub.is_dir() or not any(sub.iterdir()):
            raise WeightsError(
                f"weights folder {folder} lacks the {name}/ component its model_index.json lists"
            )
    return folder, index


def frame_count(span_frames: int, job_fps: int, native_fps: int, temporal: int) -> int:
    """Native frames (``temporal``k+1) that cover the same time as ``span_frames`` at ``job_fps``."""
    seconds = max(span_frames - 1, 1) / job_fps
    k = max(1, math.ceil(seconds * native_fps / temporal - 1e-9))
    return temporal * k + 1


def render_size(width: int, height: int, short_cap: int, multiple: int) -> tuple[int, int]:
    """The size the pipeline renders at: the job's aspect, its short side capped, sides on ``multiple``."""
    short = min(width, height, short_cap) if short_cap > 0 else min(width, height)
    scale = short / min(width, height)

    def align(v: float) -> int:
        return max(multiple, round(v / multiple) * multiple)

    return align(width * scale), align(height * scale)


def resize(frame: Frame, width: int, height: int) -> Frame:
    if frame.shape[1] == width and frame.shape[0] == height:
        return frame
    shrink = width * height < frame.shape[0] * frame.shape[1]
    out = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
    return np.ascontiguousarray(out, dtype=np.uint8)


def retime(
    native: list[Frame], count: int, how: str, step: float | None = None, workers: int | None = None
) -> Iterator[Frame]:
    """``count`` frames from ``native``: frame ``i`` sits at native position ``i * step`` (the fps ratio),
    or, without ``step``, the frames span the same time as ``native`` (first and last frames kept).
    Exact where a native frame falls; in-between frames from the flow in-betweener (or a cross-fade, or
    the nearest frame) elsewhere. The in-betweener's per-pair analysis (two optical flows, most of the
    cost) runs for the next pairs on ``workers`` threads (default: the CPUs, at most 8) while the earlier
    frames are handed out; the frames are the same bytes as on one thread."""
    n = len(native)
    places: list[tuple[int, float]] = []
    for i in range(count):
        stretched = i * (n - 1) / (count - 1) if count > 1 else 0.0
        pos = min(i * step, n - 1.0) if step is not None else stretched
        a = min(math.floor(pos + 1e-9), n - 1)
        places.append((a, pos - a))
    drawn = sorted({a for a, t in places if t >= 1e-6 and a < n - 1})
    pairs = _interpolators(native, drawn, workers or min(8, os.cpu_count() or 1)) if how == "flow" else None
    current: tuple[int, Any] = (-1, None)
    for a, t in places:
        if t < 1e-6 or a == n - 1:
            yield native[a].copy()
        elif how == "nearest":
            yield native[a + 1 if t >= 0.5 else a].copy()
        elif how == "blend":
            yield np.asarray(cv2.addWeighted(native[a], 1 - t, native[a + 1], t, 0.0), np.uint8)
        else:
            assert pairs is not None
            while current[0] != a:
                current = next(pairs)
            yield current[1].frame(t, native[a], native[a + 1])


def _interpolators(native: list[Frame], pairs: list[int], workers: int) -> Iterator[tuple[int, Any]]:
    """``(a, Interpolator(native[a], native[a + 1]))`` for each of ``pairs`` in order, the next
    ``workers`` of them analysed ahead on a thread pool (OpenCV's flow releases the GIL). Memory holds at
    most ``workers + 1`` pairs' flows."""
    from framecast.engines.flow import Interpolator

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="framecast-lift") as pool:
        ahead: deque[tuple[int, Future[Interpolator]]] = deque()
        todo = iter(pairs)
        for a in todo:
            ahead.append((a, pool.submit(Interpolator, native[a], native[a + 1])))
            if len(ahead) > workers:
                break
        while ahead:
            a, future = ahead.popleft()
            nxt = next(todo, None)
            if nxt is not None:
                ahead.append((nxt, pool.submit(Interpolator, native[nxt], native[nxt + 1])))
            yield a, future.result()


class _Interrupted(Exception):
    """Raised from the step callback to leave the pipeline at once (no decode of a cancelled video)."""


class DiffusersEngine:
    """A diffusers pipeline kept loaded, called once per video. Subclasses say which pipelines they load
    and how a job becomes the pipeline's arguments."""

    name: ClassVar[str] = ""
    pipeline_classes: ClassVar[tuple[str, ...]] = ()
    default_steps: ClassVar[int] = 30
    default_guidance: ClassVar[float] = 5.0
    default_native_fps: ClassVar[int] = 16
    default_render_short_side: ClassVar[int] = 720
    needs_weights: ClassVar[bool] = True
    max_short_side: ClassVar[int] = 1080
    max_frames: ClassVar[int] = 24 * 20

    def __init__(self, **options: Any) -> None:
        self.options = DiffusersOptions.parse(options)
        self.pipe: Any = None
        self._lock = threading.Lock()  # one call at a time on one pipeline (its state is per call)

    # --- what the API process asks without loading anything -------------------------------------

    @classmethod
    def kinds_for(cls, index: Mapping[str, Any]) -> frozenset[TaskKind]:
        raise NotImplementedError

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> str | None:
        """What is wrong with the catalog options (checked when the server starts), or None."""
        try:
            DiffusersOptions.parse(options)
        except ValueError as exc:
            return str(exc)
        return None

    @classmethod
    def check_weights(cls, options: Mapping[str, Any]) -> str | None:
        """Why this model cannot load (naming the folder or LoRA file looked at), or None; filesystem
        only."""
        try:
            read_model_index(options, cls.pipeline_classes)
        except WeightsError as exc:
            return str(exc)
        lora = str(options.get("lora") or "")
        if lora and not Path(lora).expanduser().is_file():
            return f"LoRA file {lora} does not exist"
        return None

    @classmethod
    def weights_path(cls, options: Mapping[str, Any]) -> str | None:
        """The folder the ``weights`` option points at (a hub id resolved in the local cache)."""
        weights = str(options.get("weights") or "")
        return str(resolve_weights(weights)) if weights else None

    @classmethod
    def static_capabilities(cls, options: Mapping[str, Any]) -> Capabilities:
        try:
            _, index = read_model_index(options, cls.pipeline_classes)
            kinds = cls.kinds_for(index)
        except WeightsError:
            kinds = frozenset()
        return Capabilities(
            kinds=kinds, max_frames=cls.max_frames, max_short_side=cls.max_short_side, needs_weights=True
        )

    def capabilities(self) -> Capabilities:
        return self.static_capabilities({"weights": self.options.weights})

    # --- loading -----------------------------------------------------------------------------------

    def load(self) -> None:
        import torch

        folder, index = read_model_index({"weights": self.options.weights}, self.pipeline_classes)
        dtype = getattr(torch, self.options.dtype, None)
        if not isinstance(dtype, torch.dtype):
            raise WeightsError(f"dtype {self.options.dtype!r} is not a torch dtype")
        device = self.options.device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            pipe = self._from_pretrained(folder, index, dtype)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise WeightsError(
                f"weights folder {folder} could not be loaded: {type(exc).__name__}: {exc}"
            ) from exc
        pipe.set_progress_bar_config(disable=True)
        self._apply_switches(pipe, device)
        self.pipe = pipe
        self.kinds = self.kinds_for(index)

    def _from_pretrained(self, folder: Path, index: Mapping[str, Any], dtype: Any) -> Any:
        raise NotImplementedError

    def _apply_switches(self, pipe: Any, device: str) -> None:
        import torch

        o = self.options
        if o.flow_shift is not None:
            config = pipe.scheduler.config
            key = "flow_shift" if "flow_shift" in config else "shift"
            pipe.scheduler = type(pipe.scheduler).from_config(config, **{key: o.flow_shift})
        if o.lora:
            if not Path(o.lora).expanduser().is_file():
                raise WeightsError(f"LoRA file {o.lora} does not exist")
            pipe.load_lora_weights(str(Path(o.lora).expanduser()), adapter_name="framecast")
            pipe.set_adapters(["framecast"], [o.lora_weight])
        vae = pipe.vae
        if o.vae_tiling:
            vae.enable_tiling()
        if o.vae_slicing:
            vae.enable_slicing()
        transformers = [t for t in (pipe.transformer, getattr(pipe, "transformer_2", None)) if t is not None]
        for t in transformers:
            if o.attention_backend:
                t.set_attention_backend(o.attention_backend)
            if o.step_cache:
                t.enable_cache(_cache_config(o))
        if o.offload and device == "cpu":
            raise WeightsError(f"offload = {o.offload!r} needs a GPU; this worker has none")
        if o.offload == "model":
            pipe.enable_model_cpu_offload(device=device)
        elif o.offload == "sequential":
            pipe.enable_sequential_cpu_offload(device=device)
        elif o.offload == "group":
            pipe.enable_group_offload(
                onload_device=torch.device(device), offload_type="leaf_level", use_stream=True
            )
        else:
            pipe.to(device)
        if o.compile:
            for t in transformers:
                t.compile_repeated_blocks(fullgraph=True)

    # --- one video -----------------------------------------------------------------------------------

    def check_inputs(self, job: GenerationJob) -> None:
        if self.pipe is None:
            raise RuntimeError(f"the {self.name} engine was not loaded")
        if job.kind not in self.kinds:
            raise ValueError(f"this {self.name} model cannot do {job.kind.value} jobs")
        if job.kind in (TaskKind.IMAGE, TaskKind.FIRST_LAST) and job.first is None:
            raise ValueError(f"a {job.kind.value} job needs a first image")
        if job.kind is TaskKind.FIRST_LAST and job.last is None:
            raise ValueError("a first_last job needs a last image")
        if job.kind is TaskKind.REFERENCE and not job.references:
            raise ValueError("a reference job needs at least one reference image")
        if job.kind is TaskKind.VIDEO and not job.video:
            raise ValueError("a video job needs the input video's frames")
        if job.num_frames < 1:
            raise ValueError("num_frames must be at least 1")

    def spatial_multiple(self) -> int:
        """Render sides are multiples of this (the VAE's spatial factor times the patch size)."""
        raise NotImplementedError

    def temporal_multiple(self) -> int:
        """Frame counts are this times k, plus one (the VAE's temporal factor)."""
        raise NotImplementedError

    def call_kwargs(self, job: GenerationJob, width: int, height: int, num_frames: int) -> dict[str, Any]:
        """The kind-specific arguments (images, conditions, masks); the common ones are added after."""
        raise NotImplementedError

    def pipeline_for(self, job: GenerationJob) -> Any:
        return self.pipe

    def generate(
        self, job: GenerationJob, cancelled: Callable[[], bool], progress: StepProgress | None = None
    ) -> Iterator[Frame]:
        self.check_inputs(job)
        return self._frames(job, cancelled, progress)

    def _frames(
        self, job: GenerationJob, cancelled: Callable[[], bool], progress: StepProgress | None
    ) -> Iterator[Frame]:
        if cancelled():
            raise EngineCancelled()
        native = self.render_native(job, cancelled, progress)
        frames = [resize(f, job.width, job.height) for f in native]
        del native
        # first/last: stretch so the last frame is the last keyframe; otherwise keep the model's timing
        # (at the native fps every output frame is a model frame, nothing is drawn)
        native_fps = self.options.native_fps or self.default_native_fps
        step = None if job.kind is TaskKind.FIRST_LAST else native_fps / job.fps
        yield from retime(frames, job.num_frames, self.options.interpolate, step)

    def render_native(
        self, job: GenerationJob, cancelled: Callable[[], bool], progress: StepProgress | None
    ) -> list[Frame]:
        """The pipeline's own frames (render size, native fps), as uint8 arrays."""
        import torch

        o = self.options
        width, height = render_size(
            job.width,
            job.height,
            o.render_short_side or self.default_render_short_side,
            self.spatial_multiple(),
        )
        native_fps = o.native_fps or self.default_native_fps
        count = frame_count(job.num_frames, job.fps, native_fps, self.temporal_multiple())
        steps = o.steps or self.default_steps
        pipe = self.pipeline_for(job)
        kwargs = self.call_kwargs(job, width, height, count)
        kwargs.update(
            prompt=job.prompt,
            negative_prompt=job.negative_prompt or o.negative_prompt or None,
            height=height,
            width=width,
            num_frames=count,
            num_inference_steps=steps,
            guidance_scale=o.guidance if o.guidance is not None else self.default_guidance,
            generator=torch.Generator("cpu").manual_seed(job.seed),
            output_type="np",
        )
        if o.guidance_2 is not None:
            kwargs["guidance_scale_2"] = o.guidance_2
        if o.max_sequence_length:
            kwargs["max_sequence_length"] = o.max_sequence_length

        def on_step_end(p: Any, i: int, t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            if cancelled():
                p._interrupt = True
                raise _Interrupted()
            if progress is not None:
                done = (i + 1) / steps
                progress(_DENOISE_SHARE * done, "decoding" if i + 1 >= steps else "denoising")
            return tensors

        if progress is not None:
            progress(0.0, "denoising")
        with self._lock:
            try:
                out = pipe(**kwargs, callback_on_step_end=on_step_end)
            except _Interrupted:
                _free_memory()
                raise EngineCancelled() from None
        if cancelled():
            raise EngineCancelled()
        video = np.asarray(out.frames[0])
        if progress is not None:
            progress(1.0, "generating")
        # float -> uint8 once for the whole clip, in place (no per-frame temporaries); the same values as
        # clip, * 255, round (half to even) per frame. Each row of the uint8 array is a contiguous frame.
        if not video.flags.writeable:
            video = video.copy()
        np.clip(video, 0.0, 1.0, out=video)
        video *= 255.0
        np.rint(video, out=video)
        return list(video.astype(np.uint8))


def _cache_config(o: DiffusersOptions) -> Any:
    if o.step_cache == "first_block":
        from diffusers import FirstBlockCacheConfig

        return FirstBlockCacheConfig(threshold=o.step_cache_threshold or 0.05)
    from diffusers import MagCacheConfig

    kw: dict[str, Any] = {"num_inference_steps": o.steps, "mag_ratios": list(o.step_cache_ratios)}
    if o.step_cache_threshold:
        kw["threshold"] = o.step_cache_threshold
    return MagCacheConfig(**kw)


def _free_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def pil(frame: Frame, width: int, height: int) -> Any:
    """A job image as the PIL image a pipeline takes, at the render size."""
    from PIL import Image

    return Image.fromarray(resize(frame, width, height))
