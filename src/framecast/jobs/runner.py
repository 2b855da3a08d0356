"""Run one claimed task: inputs -> engine -> encoder -> storage -> one committing transaction.

Shared by every job runner (the embedded pool's threads, Celery workers). The
attempt number the claim returned is named in every write, so a worker that lost
its lease (and the task was handed to another) can never overwrite the newer
attempt's progress or results: its writes match no row and it stops.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Protocol

from framecast.audio import soundtrack
from framecast.audio.generate import AudioModels
from framecast.config import Catalog, Settings
from framecast.domain import (
    Creation,
    ErrorCode,
    GenerationRequest,
    ImageRole,
    PromptExpansion,
    StoredVideo,
    Task,
    TaskError,
    TaskState,
)
from framecast.engines.base import EngineCancelled, Frame, GenerationJob
from framecast.engines.registry import EngineRegistry
from framecast.errors import ClientError, Fenced
from framecast.jobs.lease import HeldAttempt
from framecast.media.images import decode_rgb, fit_to, output_size
from framecast.media.labels import default_label
from framecast.media.render import RenderResult, WatermarkSpec, render_outputs
from framecast.media.videos import sample_frames
from framecast.prompts.base import Expander, ExpandRequest, language_of
from framecast.prompts.motion import MotionExpander
from framecast.prompts.setup import expander_for
from framecast.storage import BlobStore
from framecast.store import tasks as task_store
from framecast.store.db import Database

log = logging.getLogger(__name__)

# what a task that failed for a reason of the server's own records: the details go to the log only
INTERNAL_FAILURE = TaskError(
    code=ErrorCode.INTERNAL,
    message="the video could not be generated (internal error); the operator's log has the details",
)

ASPECTS = {
    "16:9": (16, 9),
    "9:16": (9, 16),
    "1:1": (1, 1),
    "4:3": (4, 3),
    "3:4": (3, 4),
    "21:9": (21, 9),
    "9:21": (9, 21),
}


@dataclass
class RunContext:
    db: Database
    blobs: BlobStore
    catalog: Catalog
    engines: EngineRegistry
    lease_seconds: float
    work_dir: Path
    max_attempts: int = 3
    off_peak_window: timedelta = timedelta(hours=48)
    idempotency_window: timedelta = timedelta(hours=24)
    metrics: TaskMetrics | None = None
    # writes the prompt for is_rec / need_expand_prompt tasks (prompts.setup.expander_for)
    expander: Expander = field(default_factory=MotionExpander)
    # the audio models (catalog audio_model) this worker has loaded, each once
    audio_models: AudioModels = field(default_factory=AudioModels)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        db: Database,
        blobs: BlobStore,
        catalog: Catalog,
        engines: EngineRegistry,
        metrics: TaskMetrics | None = None,
    ) -> RunContext:
        """The context the operator's settings describe: the same for the in-process pool and a worker."""
        return cls(
            db=db,
            blobs=blobs,
            catalog=catalog,
            engines=engines,
            lease_seconds=settings.lease_seconds,
            max_attempts=settings.max_attempts,
            work_dir=settings.data_dir / "work",
            off_peak_window=timedelta(hours=settings.off_peak_window_hours),
            idempotency_window=timedelta(hours=settings.idempotency_hours),
            metrics=metrics,
            expander=expander_for(settings),
        )

    @classmethod
    def for_worker_process(
        cls, settings: Settings, catalog: Catalog, *, metrics: TaskMetrics | None = None
    ) -> RunContext:
        """The context of a process that only runs tasks (``framecast worker``, with or without a broker):
        its own database connections, blob store and engines, checked against ``catalog``."""
        from framecast.engines.registry import EngineRegistry
        from framecast.storage import open_blob_store
        from framecast.store.db import Database

        settings.ensure_dirs()
        engines = EngineRegistry()
        engines.check_catalog(catalog)
        return cls.from_settings(
            settings,
            db=Database(settings.db_url),
            blobs=open_blob_store(settings),
            catalog=catalog,
            engines=engines,
            metrics=metrics,
        )


@dataclass(frozen=True)
class Rendered:
    """What an attempt made: the videos, and what it decided on the way (recorded on the task)."""

    creations: list[Creation]
    prompt_used: str | None = None
    soundtrack: str | None = None


class TaskMetrics(Protocol):
    def observe_task(self, model: str, state: str, seconds: float) -> None: ...

    def observe_frames(self, engine: str, frames: int, seconds: float) -> None: ...

    def observe_swept(self, kind: str, count: int) -> None: ...


class _Progress:
    """Turns frames encoded and an engine's own step reports into the task's progress and phase.

    Each of the task's ``n`` videos is an equal share. Within one, frames are the whole of it for an
    engine that reports nothing else (the built-in one); an engine that reports its steps (diffusion:
    denoising, decoding) gets 80% for those and 20% for the frames that follow.
    """

    _STEP_SHARE = 0.8

    def __init__(self, held: HeldAttempt, frames_per_video: int, videos: int) -> None:
        self.held = held
        self.frames, self.videos = max(frames_per_video, 1), max(videos, 1)
        self.video = 0
        self.done = 0
        self.step: float | None = None

    def start_video(self, index: int) -> None:
        self.video, self.done, self.step = index, 0, None
        self.held.set_phase("generating")

    def engine_step(self, fraction: float, phase: str | None = None) -> None:
        self.step = min(1.0, max(0.0, fraction))
        if phase is not None and phase != self.held.phase:
            self.held.set_phase(phase)
        self._publish()
        self.held.check()

    def frame_done(self, _index: int) -> None:
        self.done += 1
        self._publish()
        if self.done == self.frames:
            self.held.set_phase("encoding")  # the encoder drains its queue and writes the file's index
        self.held.check()
        if self.held.shutdown.is_set():
            raise ShuttingDown()
        if self.held.cancel_requested:
            raise EngineCancelled()

    def _publish(self) -> None:
        frames = self.done / self.frames
        within = (
            frames if self.step is None else self._STEP_SHARE * self.step + (1 - self._STEP_SHARE) * frames
        )
        self.held.set_progress(int(100 * (self.video + within) / self.videos))


class ShuttingDown(Exception):
    """The service is stopping: this attempt hands its task back to the queue instead of finishing it."""


def job_from_bytes(
    req: GenerationRequest,
    first: bytes | None,
    last: bytes | None,
    options: dict[str, object],
    references: Sequence[bytes] = (),
    video: tuple[StoredVideo, bytes] | None = None,
) -> GenerationJob:
    """The engine's view of a request: decoded images (and video frames) fitted to the output size, a
    frame count. Without a first image the output takes the input video's aspect, else the request's."""
    first_rgb = decode_rgb(first) if first is not None else None
    if req.size is not None:
        width, height = req.size
    elif first_rgb is not None:
        width, height = output_size(first_rgb.shape[1], first_rgb.shape[0], req.resolution or "720p")
    elif video is not None:
        width, height = output_size(video[0].width, video[0].height, req.resolution or "720p")
    else:
        aw, ah = ASPECTS.get(req.aspect_ratio or "16:9", (16, 9))
        width, height = output_size(aw * 120, ah * 120, req.resolution or "720p")
    fps = req.fps or 24
    num_frames = req.frames or max(2, round((req.duration or 5) * fps))
    last_rgb = decode_rgb(last) if last is not None else None
    frames = sample_frames(video[1], count=num_frames, fps=fps, width=width, height=height) if video else []
    return GenerationJob(
        kind=req.kind,
        width=width,
        height=height,
        num_frames=num_frames,
        fps=fps,
        seed=req.seed or 0,
        prompt=req.prompt,
        negative_prompt=req.negative_prompt,
        first=fit_to(first_rgb, width, height) if first_rgb is not None else None,
        last=fit_to(last_rgb, width, height) if last_rgb is not None else None,
        references=[fit_to(decode_rgb(r), width, height) for r in references],
        video=frames,
        video_role=video[0].role if video else None,
        movement_amplitude=req.movement_amplitude,
        options=options,
    )


def build_job(task: Task, blobs: BlobStore, seed: int, options: dict[str, object]) -> GenerationJob:
    def data(role: ImageRole) -> bytes | None:
        img = next((i for i in task.inputs if i.role is role), None)
        return blobs.get_bytes(img.key) if img else None

    refs = [blobs.get_bytes(i.key) for i in task.inputs if i.role is ImageRole.REFERENCE]
    video = next(((v, blobs.get_bytes(v.key)) for v in task.input_videos), None)
    req = task.request.model_copy(update={"seed": seed})
    return job_from_bytes(req, data(ImageRole.FIRST), data(ImageRole.LAST), options, refs, video)


def _watermark(task: Task, blobs: BlobStore) -> WatermarkSpec | None:
    wm = task.request.watermark
    if not wm.enabled:
        return None
    image = decode_rgba(blobs.get_bytes(task.watermark_key)) if task.watermark_key else None
    return WatermarkSpec(position=wm.position, image=image)


def decode_rgba(data: bytes) -> Frame:
    import io

    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGBA"), dtype=np.uint8)


def run_task(ctx: RunContext, task_id: str, attempt: int, shutdown: threading.Event | None = None) -> None:
    """Run a task this worker claimed with ``attempt``. Never raises for task-level failures.

    The attempt's lease is renewed on a timer from here to the commit. When ``shutdown`` is set
    mid-render the task goes straight back to the queue (no lease to wait out, no attempt spent).
    """
    shutdown = shutdown or threading.Event()
    held = HeldAttempt(
        ctx.db, task_id=task_id, attempt=attempt, lease_seconds=ctx.lease_seconds, shutdown=shutdown
    )
    with held:
        _run_held(ctx, held)


def _run_held(ctx: RunContext, held: HeldAttempt) -> None:
    task_id, attempt, shutdown = held.task_id, held.attempt, held.shutdown
    with ctx.db.session() as s:
        task = task_store.load_task(s, task_id=task_id)
    if task is None or task.attempt != attempt or task.state is not TaskState.RUNNING:
        return
    prefix = attempt_prefix(task.id, attempt)
    started = time.monotonic()
    outcome = TaskState.FAILED
    try:
        done = _render_all(ctx, task, held, prefix)
        # from here the attempt only writes its end: a renewal racing the commit would read as a takeover
        held.close()
        with ctx.db.session() as s:
            if not task_store.finish_success(
                s,
                task_id=task.id,
                attempt=attempt,
                creations=done.creations,
                prompt_used=done.prompt_used,
                soundtrack=done.soundtrack,
            ):
                raise Fenced(f"task {task.id} attempt {attempt} lost before commit")
        outcome = TaskState.SUCCEEDED
    except Fenced as exc:
        log.warning("%s; discarding this attempt's output", exc)
        ctx.blobs.delete_prefix(prefix)
        return  # the attempt that took over reports the outcome
    except (EngineCancelled, ShuttingDown):
        held.close()
        ctx.blobs.delete_prefix(prefix)
        if held.lost:
            log.warning("task %s attempt %s was taken over; discarding its output", task.id, attempt)
            return
        if shutdown.is_set():  # the service is stopping: hand the task back (release honours a cancel)
            with ctx.db.session() as s:
                task_store.release(s, task_id=task.id, attempt=attempt)
            log.info("task %s handed back to the queue at shutdown", task.id)
            return
        outcome = TaskState.CANCELLED
        _fail(ctx, task.id, attempt, TaskState.CANCELLED, task_store.CANCELLED_BY_USER)
    except ClientError as exc:
        held.close()
        ctx.blobs.delete_prefix(prefix)
        _fail(
            ctx,
            task.id,
            attempt,
            TaskState.FAILED,
            TaskError(code=exc.code, message=exc.message, reason=exc.reason),
        )
    except Exception:
        held.close()
        log.exception("task %s attempt %s failed", task.id, attempt)
        ctx.blobs.delete_prefix(prefix)
        _fail(ctx, task.id, attempt, TaskState.FAILED, INTERNAL_FAILURE)
    if ctx.metrics is not None:
        ctx.metrics.observe_task(task.request.model, outcome.value, time.monotonic() - started)


def scratch_prefix(task_id: str, attempt: int) -> str:
    """How an attempt's scratch folders under the work dir begin, so a sweeper can tell whose they are."""
    return f"{task_id}-a{attempt}-"


def attempt_prefix(task_id: str, attempt: int) -> str:
    """Where one attempt's result files go in the blob store (deleted whole if it does not commit)."""
    return f"tasks/{task_id}/a{attempt}"


def _fail(ctx: RunContext, task_id: str, attempt: int, state: TaskState, error: TaskError) -> None:
    with ctx.db.session() as s:
        task_store.finish_failure(s, task_id=task_id, attempt=attempt, state=state, error=error)


def write_prompt(expander: Expander, task: Task, job: GenerationJob) -> str | None:
    """The prompt the service writes for the task, or None when the client's own is used as given."""
    mode = task.request.prompt_expansion
    if mode is PromptExpansion.NONE:
        return None
    # is_rec ignores the client's words, but their language is still the one the client reads
    language = language_of(task.request.prompt)
    given = task.request.prompt if mode is PromptExpansion.EXPAND else ""
    return expander.expand(ExpandRequest(prompt=given, language=language, first=job.first, last=job.last))


def _render_all(ctx: RunContext, task: Task, held: HeldAttempt, prefix: str) -> Rendered:
    spec = ctx.catalog.require(task.request.model)
    if not ctx.engines.is_loaded(spec.engine, spec.options):
        held.set_phase("loading model")  # the first use in this process: minutes for a diffusion model
    engine = ctx.engines.get(spec.engine, spec.options)
    held.check()
    label = task.request.meta_data or default_label(task_id=task.id)
    watermark = _watermark(task, ctx.blobs)
    n = task.request.n
    rows: list[Creation] = []
    first_job = build_job(task, ctx.blobs, task.seed, dict(spec.options))
    prompt_used = write_prompt(ctx.expander, task, first_job)
    if prompt_used is not None:
        first_job = dataclasses.replace(first_job, prompt=prompt_used)
    sound = soundtrack.plan(
        task.request, prompt=first_job.prompt, seed=task.seed, audio_model=spec.audio_model
    )
    kept = _sound_to_keep(task)
    kept_record = None
    progress = _Progress(held, first_job.num_frames, n)
    for index in range(n):
        seed = task.seed + index
        job = dataclasses.replace(first_job, seed=seed)  # same inputs, decoded once
        progress.start_video(index)
        with tempfile.TemporaryDirectory(
            dir=ctx.work_dir, prefix=scratch_prefix(task.id, held.attempt)
        ) as tmp:
            began = time.monotonic()
            frames: Iterator[Frame] = engine.generate(job, held.cancelled, progress.engine_step)
            result = render_outputs(
                frames,
                out_dir=Path(tmp),
                width=job.width,
                height=job.height,
                fps=job.fps,
                label=label,
                watermark=watermark,
                on_frame=progress.frame_done,
            )
            if ctx.metrics is not None:
                ctx.metrics.observe_frames(engine.name, result.frames, time.monotonic() - began)
            if sound is not None:
                held.set_phase("adding sound")
                files = [p for p in (result.video_path, result.watermarked_path) if p is not None]
                soundtrack.apply(
                    sound, files, frames=result.frames, fps=result.fps, seed=seed, models=ctx.audio_models
                )
            if kept is not None:
                held.set_phase("adding sound")
                kept_record = _carry_sound(ctx.blobs, kept, result, Path(tmp))
            held.set_phase("saving")
            rows.append(_store_creation(ctx, task, held.attempt, prefix, index, seed, result))
    record = None
    if sound is not None:
        # the silent fallback noted at submit (Vidu q3 audio) stays in front of the music's record
        record = "; ".join(r for r in (task.soundtrack, sound.record) if r)
    elif kept_record is not None:
        record = kept_record
    return Rendered(rows, prompt_used=prompt_used, soundtrack=record)


def _sound_to_keep(task: Task) -> StoredVideo | None:
    """The input video whose own sound the client asked to keep (keep_original_sound), if any."""
    asked = [ref.keep_original_sound for ref in task.request.videos]
    return next((v for v, keep in zip(task.input_videos, asked, strict=False) if keep), None)


def _carry_sound(blobs: BlobStore, video: StoredVideo, result: RenderResult, tmp: Path) -> str:
    """Carry ``video``'s sound into the rendered files; the task's record of what was done."""
    source = tmp / ("original" + Path(video.key).suffix)
    source.write_bytes(blobs.get_bytes(video.key))
    files = [p for p in (result.video_path, result.watermarked_path) if p is not None]
    if soundtrack.carry_original(source, files):
        return "original sound of the reference video"
    return "silent: keep_original_sound was asked, but the reference video has no sound track"


def _store_creation(
    ctx: RunContext, task: Task, attempt: int, prefix: str, index: int, seed: int, result: RenderResult
) -> Creation:
    base = f"{prefix}/{index}"
    ctx.blobs.put_file(f"{base}/video.mp4", result.video_path)
    ctx.blobs.put_file(f"{base}/cover.jpg", result.cover_path)
    wm_key = None
    if result.watermarked_path is not None:
        wm_key = f"{base}/watermarked.mp4"
        ctx.blobs.put_file(wm_key, result.watermarked_path)
    return Creation(
        id=f"{task.id}{index:02d}{attempt % 100:02d}",
        index=index,
        video_key=f"{base}/video.mp4",
        cover_key=f"{base}/cover.jpg",
        watermarked_key=wm_key,
        width=result.width,
        height=result.height,
        fps=result.fps,
        frames=result.frames,
        duration=math.floor(result.duration * 1000) / 1000,
        seed=seed,
    )
