"""submit / get / list / cancel: the only entry point the dialects call.

The service owns the rules that hold for every dialect: which model serves what,
that inputs are fetched and checked *before* anything is stored, that a tenant
only ever sees its own tasks, and that nothing half-written is left behind.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio.to_thread
from anyio import CapacityLimiter
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from framecast.audio import generate as audio_generate
from framecast.config import Catalog, ModelSpec, Settings
from framecast.domain import (
    ErrorCode,
    GenerationRequest,
    ImageRef,
    ImageRole,
    Principal,
    PromptExpansion,
    StoredImage,
    StoredVideo,
    Task,
    TaskKind,
    TaskState,
    VideoRef,
)
from framecast.engines.base import Capabilities
from framecast.engines.registry import EngineRegistry
from framecast.errors import ClientError, InvalidStateError, NotFoundError
from framecast.media import preview
from framecast.media.fetch import FetchPolicy, check_destination
from framecast.media.images import (
    PAIR_RATIO,
    RESOLUTION_SHORT_SIDES,
    CheckedImage,
    ImageLimits,
    check_image,
    check_pair_ratio,
    load_source,
)
from framecast.media.videos import CheckedVideo, VideoLimits, load_video_source
from framecast.moderation import BlocklistModerator, Moderator
from framecast.principal_cache import PrincipalCache
from framecast.secretbox import SecretBox
from framecast.storage import BlobStore
from framecast.store import billing, idempotency
from framecast.store import tasks as task_store
from framecast.store.db import READ_THREADS, Database
from framecast.store.keys import authenticate
from framecast.store.time import utcnow

log = logging.getLogger(__name__)

_ID_EPOCH_MS = 1_704_067_200_000  # 2024-01-01


def new_task_id() -> str:
    """A numeric, time-ordered id like Vidu's (about 18 digits): ms since 2024 << 22 | 22 random bits."""
    ms = int(time.time() * 1000) - _ID_EPOCH_MS
    return str((ms << 22) | secrets.randbits(22))


# how much shorter than the asked duration an input video may be: its last frame is held that long
_VIDEO_SHORTFALL = 0.5

MAX_PROMPT_CHARS = 5000  # Vidu's limit, framecast's default for every dialect that documents none


def new_seed() -> int:
    return secrets.randbelow(2**31 - 2) + 1


@dataclass(frozen=True)
class SubmitLimits:
    """Input limits checked at submit; the defaults are framecast's, a dialect overrides its vendor's own."""

    images: ImageLimits = field(default_factory=ImageLimits)
    max_prompt_chars: int = MAX_PROMPT_CHARS
    pair_ratio: tuple[float, float] | None = PAIR_RATIO  # first/last pixel-count ratio; None = no check
    videos: VideoLimits = field(default_factory=VideoLimits)


def check_model(catalog: Catalog, engines: EngineRegistry, req: GenerationRequest) -> ModelSpec:
    """The catalog entry for the request's model, refusing kinds its engine cannot make."""
    spec = catalog.require(req.model)
    if not engines.known(spec.engine):
        raise ClientError(
            ErrorCode.MODEL_UNAVAILABLE,
            f"model {spec.name} is mapped to engine {spec.engine!r}, which is not installed on this server",
        )
    reason = engines.unavailable(spec.engine, spec.options)
    if reason is not None:
        raise ClientError(
            ErrorCode.MODEL_UNAVAILABLE,
            f"model {spec.name} is unavailable on this server: {reason}",
        )
    caps = engines.capabilities(spec.engine, spec.options)
    if req.kind not in caps.kinds:
        raise ClientError(
            ErrorCode.MODEL_UNAVAILABLE,
            f"model {spec.name} runs on the {spec.engine!r} engine, which cannot do "
            f"{req.kind.value}-to-video; "
            "that needs a generative (diffusion) model, and none is configured on this server. "
            "The operator maps model names to engines in the catalog (FRAMECAST_CATALOG_FILE); "
            "see docs/engines.md.",
        )
    _check_limits(spec, caps, req)
    # background music (bgm) is the service's own, added to any engine's video (audio/soundtrack.py);
    # keep_original_sound carries an input video's own track into the output (audio/mix.carry)
    if any(v.keep_original_sound for v in req.videos) and (req.audio or req.bgm):
        raise ClientError(
            ErrorCode.INVALID_FIELD,
            "keep_original_sound keeps the reference video's own sound, so it cannot be combined with "
            "generated sound (audio/sound) or background music (bgm); ask for one of them",
            param="keep_original_sound",
        )
    if req.audio and not caps.audio:
        problem = _audio_model_problem(spec)
        if problem is not None:
            raise ClientError(
                ErrorCode.INVALID_FIELD,
                f"model {spec.name} runs on the {spec.engine!r} engine, which makes silent video, and "
                f"{problem}, so audio (generated sound) is not available. "
                "Leave audio out or set it to false; bgm (background music) works on every model. "
                "The operator sets audio_model for the model in the catalog (FRAMECAST_CATALOG_FILE); "
                "see docs/audio.md.",
                param="audio",
            )
    return spec


def _audio_model_problem(spec: ModelSpec) -> str | None:
    if not spec.audio_model:
        return "no audio model is configured for it"
    reason = audio_generate.check(spec.audio_model)
    return None if reason is None else f"its audio model cannot be used ({reason})"


def default_sound(spec: ModelSpec, req: GenerationRequest) -> tuple[GenerationRequest, str]:
    """A model that makes sound by default (Vidu q3) when the client did not say: sound when an audio
    model is configured; else a silent video (not a refusal: the vendor's clients rarely send audio)
    and the note for the task record saying so."""
    if not req.audio_by_default:
        return req, ""
    if _audio_model_problem(spec) is None:
        return req.model_copy(update={"audio": True}), ""
    return req, (
        f"silent: {spec.name} makes sound by default, but no audio model is configured for it on this "
        "server (see docs/audio.md); the video has no generated sound"
    )


def _check_limits(spec: ModelSpec, caps: Capabilities, req: GenerationRequest) -> None:
    """Refuse sizes and lengths beyond what the model's engine renders."""
    short: int | None = None
    if req.size is not None:
        short = min(req.size)
    elif req.resolution:
        short = RESOLUTION_SHORT_SIDES.get(req.resolution.strip().lower())
    if short is not None and short > caps.max_short_side:
        raise ClientError(
            ErrorCode.INVALID_FIELD,
            f"model {spec.name} renders at most {caps.max_short_side}p (short side); "
            f"{short} px was asked for",
            param="size" if req.size is not None else "resolution",
        )
    duration = req.duration if req.duration is not None else float(spec.default_duration)
    if req.frames is None and duration == int(duration):
        spec.check_duration(int(duration))  # a duration the model refuses anyway is reported as such
    frames = req.frames or round(duration * (req.fps or spec.fps))
    if frames > caps.max_frames:
        raise ClientError(
            ErrorCode.INVALID_FIELD,
            f"model {spec.name} makes at most {caps.max_frames} frames per video; {frames} were asked for "
            "(shorten the duration or lower the fps)",
            param="duration",
        )


def normalise(req: GenerationRequest, spec: ModelSpec) -> GenerationRequest:
    """Fill the model's defaults and check duration and resolution against the model.

    The one home of the rules that need the catalog; the rest are on the model (domain.py).
    Returns the request as it will be stored.
    """
    duration = req.duration if req.duration is not None else float(spec.default_duration)
    if req.frames is None:
        if duration != int(duration):
            raise ClientError(
                ErrorCode.INVALID_FIELD, "duration must be a whole number of seconds", param="duration"
            )
        spec.check_duration(int(duration))
    resolution = req.resolution or spec.default_resolution
    if req.size is None:
        spec.check_resolution(resolution, int(duration))
    # n, fps, seed, watermark position, ... were checked when the request was built (domain.py);
    # model_validate (not model_copy) so the catalog's fps default passes the same rule
    update = {"duration": duration, "resolution": resolution, "fps": req.fps or spec.fps}
    return GenerationRequest.model_validate({**dict(req), **update})


WAKE = Callable[[], None]


class TaskService:
    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        blobs: BlobStore,
        catalog: Catalog,
        engines: EngineRegistry,
        moderator: Moderator | None = None,
    ) -> None:
        self.settings = settings
        self.moderator = moderator or BlocklistModerator.from_file(settings.blocklist_file)
        self.secrets = SecretBox(settings.signing_key())
        self.db = db
        self.blobs = blobs
        self.catalog = catalog
        self.engines = engines
        self.principals = PrincipalCache(settings.auth_cache_seconds)
        self._wakers: list[WAKE] = []
        self._queued_hooks: list[Callable[[Task], None]] = []
        self._cancel_hooks: list[Callable[[Task], None]] = []
        self.fetch_policy = FetchPolicy(
            allow_private=settings.allow_private_urls, timeout=settings.fetch_timeout
        )
        # a one-task read may run on the event loop: a WAL read of a local SQLite file never waits for a
        # writer and costs less than a thread hand-off; a network database's round trip must not hold it
        self.inline_reads = db.is_sqlite
        # elsewhere, at most this many one-task reads at once: more threads only queue for the pool's
        # connections and the GIL
        self.read_limiter = CapacityLimiter(READ_THREADS)

    def on_submit(self, wake: WAKE) -> None:
        """Job runners register here to hear about new work without polling."""
        self._wakers.append(wake)

    def on_queued(self, hook: Callable[[Task], None]) -> None:
        """Distributed mode: hear about each new task once its row is committed (to send it to a broker)."""
        self._queued_hooks.append(hook)

    def on_cancelled(self, hook: Callable[[Task], None]) -> None:
        """Distributed mode: hear about each task cancelled by a user (to revoke its queued message)."""
        self._cancel_hooks.append(hook)

    # --- submit ----------------------------------------------------------------------------------

    def check_model(self, req: GenerationRequest) -> ModelSpec:
        return check_model(self.catalog, self.engines, req)

    def _check_roles(self, req: GenerationRequest) -> None:
        roles = [i.role for i in req.images]
        if req.kind is TaskKind.FIRST_LAST and (ImageRole.FIRST not in roles or ImageRole.LAST not in roles):
            raise ClientError(
                ErrorCode.ITEM_COUNT,
                "first/last-frame generation needs a first and a last image",
                param="images",
            )
        if req.kind is TaskKind.IMAGE and ImageRole.FIRST not in roles:
            raise ClientError(ErrorCode.ITEM_COUNT, "image-to-video needs one image", param="images")
        if req.kind is TaskKind.VIDEO and not req.videos:
            raise ClientError(ErrorCode.ITEM_COUNT, "video-to-video needs one video", param="video_list")

    def _load_images(self, refs: Sequence[ImageRef], limits: SubmitLimits) -> list[CheckedImage]:
        out = []
        for i, ref in enumerate(refs, start=1):
            if ref.kind == "blob":
                if not self.blobs.exists(ref.source):
                    raise ClientError(
                        ErrorCode.IMAGE_DOWNLOAD, f"image {i}: uploaded file not found", param="images"
                    )
                out.append(check_image(self.blobs.get_bytes(ref.source), limits=limits.images, index=i))
            else:
                out.append(load_source(ref.source, limits=limits.images, policy=self.fetch_policy, index=i))
        return out

    def _load_videos(self, req: GenerationRequest, limits: SubmitLimits) -> list[CheckedVideo]:
        """Fetch and check each input video; each must last as long as the video asked for (it is
        edited or followed frame by frame, and inventing the missing end would not be what was sent)."""
        out = []
        for i, ref in enumerate(req.videos, start=1):
            video = load_video_source(ref.source, limits=limits.videos, policy=self.fetch_policy, index=i)
            wanted = req.duration or 0.0
            if video.seconds + _VIDEO_SHORTFALL < wanted:
                raise ClientError(
                    ErrorCode.INVALID_FIELD,
                    f"video {i} lasts {video.seconds:.2f} s, shorter than the {wanted:g} s asked for; "
                    "send a longer video or ask for a shorter duration",
                    param="duration",
                )
            out.append(video)
        return out

    def submit(
        self,
        principal: Principal,
        req: GenerationRequest,
        *,
        dialect: str,
        echo: dict[str, Any] | None = None,
        limits: SubmitLimits | None = None,
        external_id: str | None = None,
    ) -> Task:
        """Check, store and queue a request. ``external_id`` is the client's own id for the task (Kling's
        ``external_task_id``): unique per tenant, and the task can be looked up by it."""
        limits = limits or SubmitLimits()
        if len(req.prompt) > limits.max_prompt_chars:
            raise ClientError(
                ErrorCode.INVALID_FIELD,
                f"prompt is {len(req.prompt)} characters; the limit is {limits.max_prompt_chars}",
                param="prompt",
            )
        verdict = self.moderator.check_prompt(f"{req.prompt}\n{req.negative_prompt}")
        if not verdict.allowed:
            raise ClientError(
                ErrorCode.PROMPT_POLICY,
                f"the request was refused by content policy: {verdict.reason}",
                param="prompt",
            )
        spec = self.check_model(req)
        req = normalise(req, spec)
        req, silent_note = default_sound(spec, req)
        self._check_roles(req)
        # only an idempotency key needs it; it serialises the inline images (~1 MB for two data URIs)
        request_hash = _request_hash(dialect, req) if req.client_request_id else ""
        if req.client_request_id:
            replay = self._replay(principal, req.client_request_id, request_hash)
            if replay is not None:
                return replay
        if req.callback_url:
            self._check_callback_url(req.callback_url)
        if external_id:
            self._check_external_id(principal, external_id)  # early, before inputs are fetched and stored
        self._check_concurrency(principal)
        checked = self._load_images(req.images, limits)
        videos = self._load_videos(req, limits)
        if limits.pair_ratio and req.kind is TaskKind.FIRST_LAST:
            self._check_pair(req, checked, limits.pair_ratio)
        wm_logo = self._load_watermark(req)
        seed = req.seed or new_seed()
        task_id = new_task_id()
        credits = spec.price(duration=req.duration or 0, resolution=req.resolution or "", n=req.n)
        if req.prompt_expansion is PromptExpansion.RECOMMEND:
            credits += spec.rec_credits  # Vidu's is_rec surcharge, charged once per task
        try:
            task = self._insert(
                principal,
                req,
                checked,
                wm_logo,
                videos,
                task_id=task_id,
                seed=seed,
                credits=credits,
                dialect=dialect,
                echo=echo or {},
                request_hash=request_hash,
                external_id=external_id,
                soundtrack=silent_note,
            )
        except _DuplicateRequest:
            self.blobs.delete_prefix(f"inputs/{task_id}")
            replay = self._replay(principal, req.client_request_id, request_hash)
            if replay is None:  # pragma: no cover - the winner's row must exist once we lost to it
                raise ClientError(
                    ErrorCode.CONFLICT, "a request with this idempotency key is in flight"
                ) from None
            return replay
        except BaseException:
            self.blobs.delete_prefix(f"inputs/{task_id}")
            raise
        for wake in self._wakers:
            wake()
        for hook in self._queued_hooks:
            hook(task)
        return task

    def _insert(
        self,
        principal: Principal,
        req: GenerationRequest,
        checked: list[CheckedImage],
        wm_logo: CheckedImage | None,
        videos: list[CheckedVideo],
        *,
        task_id: str,
        seed: int,
        credits: int,
        dialect: str,
        echo: dict[str, Any],
        request_hash: str,
        external_id: str | None,
        soundtrack: str = "",
    ) -> Task:
        """Store the inputs, then insert the task, charge and keep the idempotency key in one transaction."""
        stored: list[StoredImage] = []
        for i, (ref, img) in enumerate(zip(req.images, checked, strict=True)):
            key = self._put_input(task_id, str(i), img.data, img.mime)
            stored.append(
                StoredImage(
                    role=ref.role,
                    key=key,
                    mime=img.mime,
                    width=img.width,
                    height=img.height,
                    size=len(img.data),
                    origin=_origin(ref),
                )
            )
        stored_videos = [
            StoredVideo(
                role=ref.role,
                key=self._put_input(task_id, f"video{i}", video.data, video.mime),
                size=len(video.data),
                origin=_video_origin(ref),
                **video.header(),
            )
            for i, (ref, video) in enumerate(zip(req.videos, videos, strict=True))
        ]
        wm_key = None
        if wm_logo is not None:
            wm_key = self._put_input(task_id, "wm", wm_logo.data, wm_logo.mime)
        # the request is stored without the inline image bytes: they live in blobs now
        stored_images = [
            ImageRef(role=r.role, source=s.origin, kind="url")
            for r, s in zip(req.images, stored, strict=True)
        ]
        now = utcnow()
        task = Task(
            id=task_id,
            tenant=principal.tenant,
            key_id=principal.key_id,
            dialect=dialect,
            request=req.model_copy(
                update={
                    "seed": seed,
                    "images": stored_images,
                    "videos": [
                        v.model_copy(update={"source": s.origin})
                        for v, s in zip(req.videos, stored_videos, strict=True)
                    ],
                }
            ),
            inputs=stored,
            input_videos=stored_videos,
            watermark_key=wm_key,
            echo=echo,
            state=TaskState.QUEUED,
            seed=seed,
            credits=credits,
            soundtrack=soundtrack,
            created_at=now,
            updated_at=now,
        )
        callback_key = self.secrets.seal(principal.token) if req.callback_url else None
        try:
            with self.db.write_session() as s:
                task_store.insert_task(s, task=task, callback_key=callback_key, external_id=external_id)
                if req.client_request_id:
                    idempotency.remember(
                        s,
                        tenant=principal.tenant,
                        key=req.client_request_id,
                        request_hash=request_hash,
                        task_id=task_id,
                        newer_than=self._idempotency_horizon(),
                    )
                if not billing.charge(s, tenant=principal.tenant, task_id=task_id, amount=credits):
                    bal = billing.balance(s, tenant=principal.tenant).credits
                    raise ClientError(
                        ErrorCode.CREDIT_INSUFFICIENT,
                        f"this task costs {credits} credits and the balance is {bal}; top up first",
                    )
                return task
        except (IntegrityError, idempotency.KeyTaken) as exc:
            if external_id:  # a concurrent create took the same external id first
                self._check_external_id(principal, external_id)
            if req.client_request_id:
                raise _DuplicateRequest() from exc
            raise

    def _put_input(self, task_id: str, stem: str, data: bytes, mime: str) -> str:
        """Store one input file beside the task's others (deleted with the task); its blob key."""
        key = f"inputs/{task_id}/{stem}.{mime.split('/')[-1]}"
        self.blobs.put_bytes(key, data)
        return key

    def _idempotency_horizon(self) -> datetime:
        return utcnow() - timedelta(hours=self.settings.idempotency_hours)

    def _replay(self, principal: Principal, key: str, request_hash: str) -> Task | None:
        """The task an earlier request with this idempotency key made, if the bodies match."""
        with self.db.session() as s:
            hit = idempotency.lookup(
                s,
                tenant=principal.tenant,
                key=key,
                newer_than=utcnow() - timedelta(hours=self.settings.idempotency_hours),
            )
            if hit is None:
                return None
            if hit.request_hash != request_hash:
                raise ClientError(
                    ErrorCode.CONFLICT,
                    "this idempotency key was already used with a different request body",
                    param="client_request_id",
                )
            task = task_store.load_task(s, task_id=hit.task_id, tenant=principal.tenant)
        return task

    def _check_callback_url(self, url: str) -> None:
        try:
            check_destination(url, self.fetch_policy)
        except ClientError as exc:
            raise ClientError(
                ErrorCode.INVALID_FIELD, f"callback_url: {exc.message}", param="callback_url"
            ) from exc

    def _check_concurrency(self, principal: Principal) -> None:
        if self.settings.concurrency_mode != "reject":
            return
        with self.db.session() as s:
            limit = billing.balance(s, tenant=principal.tenant).concurrency_limit
            if limit is None:
                return
            running, queued = task_store.running_count(s, tenant=principal.tenant)
        if running + queued >= limit:
            raise ClientError(
                ErrorCode.CONCURRENCY_LIMIT,
                f"{running + queued} tasks are already queued or running; this key's limit is {limit}",
            )

    def _check_pair(
        self, req: GenerationRequest, checked: list[CheckedImage], bounds: tuple[float, float]
    ) -> None:
        roles = [r.role for r in req.images]
        first = checked[roles.index(ImageRole.FIRST)]
        last = checked[roles.index(ImageRole.LAST)]
        check_pair_ratio(first, last, bounds)

    def _load_watermark(self, req: GenerationRequest) -> CheckedImage | None:
        if not (req.watermark.enabled and req.watermark.image_url):
            return None
        # a logo is small and may be any shape; only format and download rules apply
        logo_limits = ImageLimits(max_bytes=10 * 1024 * 1024, min_side=8, max_aspect=20.0)
        try:
            return load_source(req.watermark.image_url, limits=logo_limits, policy=self.fetch_policy)
        except ClientError as exc:
            raise ClientError(exc.code, f"wm_url: {exc.message}", param="wm_url") from exc

    # --- read ------------------------------------------------------------------------------------

    def authenticate(self, token: str) -> Principal | None:
        """The key's principal, or None when it is unknown or revoked, from the database (routes ask
        ``self.principals``, which remembers valid keys briefly and calls this on a miss)."""
        with self.db.session() as s:
            return authenticate(s, token=token)

    def get(self, principal: Principal, task_id: str) -> Task:
        task = task_store.read_task(self.db, task_id=task_id, tenant=principal.tenant)
        if task is None:
            raise NotFoundError(f"task {task_id} not found")
        return task

    async def poll(self, principal: Principal, task_id: str) -> Task:
        """:meth:`get` for a route, on the event loop: awaited on an async connection (PostgreSQL), run
        inline (SQLite, see ``inline_reads``), or else in a thread, at most ``read_limiter`` at once."""
        reads = self.db.async_reads
        if reads is not None and reads.usable():
            task = await task_store.read_task_async(reads, task_id=task_id, tenant=principal.tenant)
        elif self.inline_reads:
            task = task_store.read_task(self.db, task_id=task_id, tenant=principal.tenant)
        else:
            read = functools.partial(self.get, principal, task_id)
            return await anyio.to_thread.run_sync(read, limiter=self.read_limiter)
        if task is None:
            raise NotFoundError(f"task {task_id} not found")
        return task

    def list(
        self, principal: Principal, query: TaskQuery | None = None, *, offset: int = 0, limit: int = 20
    ) -> list[Task]:
        """The principal's tasks that match ``query``, newest first unless it says otherwise."""
        q = query or TaskQuery()
        flt = task_store.TaskFilter(
            tenant=principal.tenant,
            states=q.states,
            task_ids=q.task_ids,
            models=q.models,
            created_from=q.created_from,
            created_to=q.created_to,
            after_id=q.after_id,
            newest_first=q.newest_first,
        )
        with self.db.session() as s:
            return task_store.list_tasks(s, flt=flt, offset=offset, limit=limit)

    def usage(self, principal: Principal) -> Usage:
        with self.db.session() as s:
            bal = billing.balance(s, tenant=principal.tenant)
            running, queued = task_store.running_count(s, tenant=principal.tenant)
        return Usage(
            credits=bal.credits, concurrency_limit=bal.concurrency_limit, running=running, queued=queued
        )

    # --- result files ----------------------------------------------------------------------------

    def result_file(self, principal: Principal, task_id: str, variant: str, index: int = 0) -> ResultFile:
        """One file of a finished task: video, watermarked, cover, thumbnail or spritesheet.

        Previews (thumbnail, spritesheet) are made on first request and kept beside the video,
        so a delete takes them with it.
        """
        task = self.get(principal, task_id)
        if task.state is not TaskState.SUCCEEDED or not 0 <= index < len(task.creations):
            raise InvalidStateError(task.state.value, "the task has no results yet")
        c = task.creations[index]
        base = c.video_key.rsplit("/", 1)[0]
        if variant == "video":
            return self._blob_file(c.video_key, "video/mp4")
        if variant == "watermarked" and c.watermarked_key:
            return self._blob_file(c.watermarked_key, "video/mp4")
        if variant == "cover":
            return self._blob_file(c.cover_key, "image/jpeg")
        if variant in ("thumbnail", "spritesheet"):
            key = f"{base}/{variant}.webp"
            if not self.blobs.exists(key):
                if variant == "thumbnail":
                    data = preview.thumbnail_webp(self.blobs.get_bytes(c.cover_key))
                else:
                    data = preview.spritesheet_webp(self.blobs.get_bytes(c.video_key), total_frames=c.frames)
                self.blobs.put_bytes(key, data)
            return self._blob_file(key, "image/webp")
        raise ClientError(ErrorCode.INVALID_FIELD, f"no {variant!r} file for this task", param="variant")

    def _blob_file(self, key: str, media_type: str) -> ResultFile:
        path = self.blobs.local_path(key)
        return ResultFile(media_type=media_type, path=path, data=None if path else self.blobs.get_bytes(key))

    # --- uploads (OpenAI input_reference files, Baicai resources) ---------------------------------

    def store_upload(self, principal: Principal, data: bytes, *, limits: ImageLimits | None = None) -> Upload:
        """Check and keep an uploaded image for later use as an input; only its tenant can use it."""
        img = check_image(data, limits=limits or ImageLimits())
        upload_id = "file_" + secrets.token_hex(12)
        key = f"uploads/{_tenant_dir(principal.tenant)}/{upload_id}.{img.mime.split('/')[-1]}"
        self.blobs.put_bytes(key, img.data)
        return Upload(
            id=upload_id, key=key, mime=img.mime, size=len(img.data), width=img.width, height=img.height
        )

    def upload_file(self, principal: Principal, upload_id: str) -> ResultFile:
        key = self.upload_key(principal, upload_id)
        return self._blob_file(key, "image/" + key.rsplit(".", 1)[-1])

    def upload_key(self, principal: Principal, upload_id: str) -> str:
        """The blob key of one of the tenant's uploads; another tenant's id is simply not found."""
        if not upload_id.startswith("file_") or not upload_id[5:].isalnum():
            raise NotFoundError(f"file {upload_id} not found")
        for ext in ("png", "jpeg", "webp"):
            key = f"uploads/{_tenant_dir(principal.tenant)}/{upload_id}.{ext}"
            if self.blobs.exists(key):
                return key
        raise NotFoundError(f"file {upload_id} not found")

    # --- delete ----------------------------------------------------------------------------------

    def delete(self, principal: Principal, task_id: str) -> None:
        """Remove a finished task, its rows and its files. Queued or running tasks refuse."""
        with self.db.session() as s:
            state = _state_of(s, principal, task_id)
            if not state.terminal:
                raise InvalidStateError(
                    state.value, f"task is {state.value}; only finished tasks can be deleted"
                )
            task_store.delete_task(s, task_id=task_id)
        self.blobs.delete_prefix(f"tasks/{task_id}")
        self.blobs.delete_prefix(f"inputs/{task_id}")

    # --- lookup by the client's own id -----------------------------------------------------------

    def find_external(self, principal: Principal, external_id: str) -> Task | None:
        """The tenant's task that the client named ``external_id`` at create, if any."""
        with self.db.session() as s:
            return task_store.load_by_external_id(s, tenant=principal.tenant, external_id=external_id)

    def _check_external_id(self, principal: Principal, external_id: str) -> None:
        # the client's own id must name one task, or lookups by it would be ambiguous
        if self.find_external(principal, external_id) is not None:
            raise ClientError(
                ErrorCode.CONFLICT,
                f"external_task_id {external_id!r} is already used by another task",
                param="external_task_id",
            )

    # --- cancel ----------------------------------------------------------------------------------

    def cancel(self, principal: Principal, task_id: str) -> Task:
        """Queued tasks end at once; running ones stop at their next frame. Finished ones refuse."""
        with self.db.session() as s:
            state = _state_of(s, principal, task_id)
            if state is TaskState.QUEUED and not task_store.cancel_queued(
                s, task_id=task_id, message="cancelled by the user", reason="UserCancelled"
            ):
                state = _state_of(s, principal, task_id)  # a worker claimed it first: read it again
            if state is TaskState.RUNNING:
                task_store.request_cancel_running(s, task_id=task_id)
            elif state.terminal:
                raise InvalidStateError(
                    state.value,
                    f"task has already finished ({state.value}); "
                    "only queued or running tasks can be cancelled",
                )
        task = self.get(principal, task_id)
        for hook in self._cancel_hooks:
            hook(task)
        return task


@dataclass(frozen=True)
class TaskQuery:
    """Which of a tenant's tasks to list; the tenant is always the caller's (``TaskService.list``)."""

    states: Sequence[TaskState] = ()
    task_ids: Sequence[str] = ()
    models: Sequence[str] = ()
    created_from: datetime | None = None
    created_to: datetime | None = None
    after_id: str | None = None  # keyset paging: tasks strictly older (newest first) or newer than this id
    newest_first: bool = True


@dataclass(frozen=True)
class ResultFile:
    """A stored file to send: a local path when the blob store has one (range requests), else bytes."""

    media_type: str
    path: Path | None
    data: bytes | None


@dataclass(frozen=True)
class Usage:
    credits: int | None  # None: unmetered
    concurrency_limit: int | None
    running: int
    queued: int


@dataclass(frozen=True)
class Upload:
    id: str
    key: str
    mime: str
    size: int
    width: int
    height: int


def _state_of(session: Session, principal: Principal, task_id: str) -> TaskState:
    """The state of one of the caller's tasks; another tenant's id is not found, like a missing one."""
    state = task_store.state_of(session, task_id=task_id, tenant=principal.tenant)
    if state is None:
        raise NotFoundError(f"task {task_id} not found")
    return state


def _tenant_dir(tenant: str) -> str:
    return hashlib.sha256(tenant.encode()).hexdigest()[:16]


class _DuplicateRequest(Exception):
    """Another request with the same idempotency key committed first."""


def _request_hash(dialect: str, req: GenerationRequest) -> str:
    body = req.model_dump(mode="json", exclude={"client_request_id"})
    return hashlib.sha256(json.dumps([dialect, body], sort_keys=True).encode()).hexdigest()


def _video_origin(ref: VideoRef) -> str:
    return "data:...;base64 (inline video)" if ref.source[:5].lower() == "data:" else ref.source


def _origin(ref: ImageRef) -> str:
    if ref.kind == "url" and not ref.source.startswith("data:"):
        return ref.source
    if ref.kind == "blob":
        return ref.source
    return "data:...;base64 (inline image)"
