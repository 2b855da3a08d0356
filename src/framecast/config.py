"""Settings (environment ``FRAMECAST_*``) and the model catalog."""

from __future__ import annotations

import secrets
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from framecast.domain import ErrorCode
from framecast.errors import ClientError


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRAMECAST_", env_ignore_empty=True, extra="ignore")

    data_dir: Path = Path("framecast-data")
    database_url: str = ""  # empty -> SQLite file inside data_dir
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""  # base for result URLs; empty -> the URL the request came in on
    secret_key: str = ""  # signs result URLs; empty -> generated once and kept in data_dir
    allow_private_urls: bool = False
    workers: int = Field(default=1, ge=0)  # embedded worker threads; 0 = API only
    # true: those threads run in a render process the server starts and restarts (jobs/process.py), off
    # the API's GIL; false: in the server process itself
    worker_process: bool = True
    # the nice value embedded worker threads (and the threads they start) run at: the API's event loop
    # is preferred when both want the cores; 0 = the process's own priority
    worker_nice: int = Field(default=10, ge=0, le=19)
    # a running attempt renews its lease every lease/3 on its own timer; one whose lease lapses (its
    # worker died) is requeued, until its workers died max_attempts times: then it fails, refunded
    lease_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=3, ge=1)
    url_ttl_seconds: int = Field(default=86400, gt=0)
    max_body_bytes: int = 20 * 1024 * 1024
    catalog_file: Path | None = None  # TOML merged over the built-in catalog
    fetch_timeout: float = 20.0
    # per-tenant concurrency limit reached: "queue" accepts the task and runs it when a slot frees,
    # "reject" refuses the create with the dialect's 429
    concurrency_mode: Literal["queue", "reject"] = "queue"
    blocklist_file: Path | None = None  # prompt blocklist; None -> the shipped default
    off_peak_window_hours: float = Field(default=48.0, gt=0)
    idempotency_hours: float = Field(default=24.0, gt=0)
    callback_attempts: int = Field(default=6, ge=1)  # first try + retries
    callback_backoff_seconds: float = Field(default=2.0, gt=0)  # doubles after each failed attempt
    callback_timeout: float = Field(default=10.0, gt=0)
    # a key found valid is trusted this long without asking the database again; a revocation
    # therefore takes up to this long to reach a serving process (0 = ask on every request)
    auth_cache_seconds: float = Field(default=5.0, ge=0)
    # share of requests `serve` writes to the access log: 1 = every request, 0 = none (no log line is
    # even formatted), 0.01 = one in a hundred at random
    access_log_sample: float = Field(default=1.0, ge=0, le=1)
    # FastAPI's native OpenTelemetry: a span, metrics and log records for each request, sent to the
    # OpenTelemetry providers the process sets up (or FASTAPI_OTEL_AUTO_CONFIGURE does). Off, FastAPI
    # does not even look for a provider on each request (up to a fifth of a poll's time in the app)
    opentelemetry: bool = False
    # tasks a process keeps built for polls, by their rows' exact values (store/row_memo.py): a poll still
    # reads the row, and skips building the task when nothing in it changed; about 16 KB each, 0 = none
    poll_memo_tasks: int = Field(default=2048, ge=0)
    # PostgreSQL connections a server process reads polls on (store/async_reads.py); the polls that arrive
    # while all are busy are read together in one statement when one frees (store/read_batches.py), so
    # fewer connections batch more: 2 served more polls than 4 or 8 (bench/README.md, round nine)
    poll_read_connections: int = Field(default=2, ge=1, le=32)
    # --- distributed mode (docs/deploy.md): a broker URL switches it on ------------------------------
    broker_url: str = ""  # redis://host:6379/0 or amqp://user:pass@host:5672//; empty -> embedded mode
    queue_prefix: str = "framecast"  # queues are <prefix>.<model>; also namespaces the Redis keys
    # a queued task no worker claimed within this window is sent again (a send lost with its API process
    # or with a broker restart is not lost: the database row is the outbox)
    enqueue_window_seconds: float = Field(default=60.0, gt=0)
    # Redis redelivers an unacknowledged message after this long: far longer than the longest task, or a
    # long render would be delivered twice (harmless, fenced, but wasted); the lease, not the broker,
    # notices a dead worker
    broker_visibility_timeout: int = Field(default=86400, gt=0)
    storage_url: str = ""  # s3://bucket/prefix; empty -> local files under data_dir/blobs
    s3_endpoint_url: str = ""  # an S3-compatible server (MinIO, Ceph, R2...); empty -> AWS
    s3_region: str = ""
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    # result URLs: "presign" hands out the store's own presigned URLs (the client downloads from S3),
    # "proxy" serves the bytes through the API's signed /files/ URLs
    s3_urls: Literal["presign", "proxy"] = "presign"
    # local storage in distributed mode: the operator asserts data_dir/blobs is one shared filesystem
    # (NFS, a single machine); without it a worker's results would be invisible to the API
    shared_storage: bool = False
    # --- prompt recommendation (is_rec, need_expand_prompt; docs/audio.md) ----------------------------
    # an OpenAI-compatible chat endpoint (e.g. http://127.0.0.1:11434/v1 for Ollama) that writes the
    # prompts; empty -> the built-in expander, which describes the motion measured between the keyframes
    prompt_llm_url: str = ""
    prompt_llm_model: str = ""
    prompt_llm_api_key: str = ""
    prompt_llm_timeout: float = Field(default=10.0, gt=0)  # seconds; past it the built-in one answers

    @field_validator("broker_url")
    @classmethod
    def _broker_scheme(cls, v: str) -> str:
        if v and v.split("://", 1)[0] not in ("redis", "rediss", "amqp", "amqps", "pyamqp"):
            raise ValueError("FRAMECAST_BROKER_URL must be a redis:// or amqp:// URL")
        return v

    @field_validator("storage_url")
    @classmethod
    def _storage_scheme(cls, v: str) -> str:
        if v and (not v.startswith("s3://") or not v[5:].split("/", 1)[0]):
            raise ValueError("FRAMECAST_STORAGE_URL must look like s3://bucket/prefix")
        return v

    @property
    def distributed(self) -> bool:
        """A broker is configured: API servers only enqueue, `framecast worker` processes run tasks."""
        return bool(self.broker_url)

    def check_distributed(self) -> None:
        """Refuse a distributed setup whose parts cannot see each other's results."""
        if self.distributed and not self.storage_url and not self.shared_storage:
            raise ValueError(
                "distributed mode (FRAMECAST_BROKER_URL) needs storage every machine reaches: set "
                "FRAMECAST_STORAGE_URL=s3://bucket/prefix, or FRAMECAST_SHARED_STORAGE=1 when "
                f"{self.blob_dir} is one shared filesystem"
            )

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, v: Path) -> Path:
        return v.expanduser().resolve()

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'framecast.db'}"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    def ensure_dirs(self) -> None:
        """Create the data and blob folders owner-only (0700): they hold the database, the signing key
        and every tenant's inputs and results. Folders the operator made are left as they are."""
        for folder in (self.data_dir, self.blob_dir):
            if not folder.exists():
                folder.mkdir(parents=True, mode=0o700, exist_ok=True)
                folder.chmod(0o700)  # mkdir's mode goes through the umask

    def signing_key(self) -> bytes:
        """The URL-signing secret: the configured one, or one generated on first use and kept on disk."""
        if self.secret_key:
            return self.secret_key.encode()
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.ensure_dirs()
            tmp = path.with_suffix(".tmp")
            tmp.write_text(secrets.token_hex(32))
            tmp.chmod(0o600)
            tmp.replace(path)
        return path.read_text().strip().encode()


@dataclass(frozen=True)
class ModelSpec:
    """One public model name and what it accepts. Durations in whole seconds."""

    name: str
    engine: str = "builtin"
    family: str = "vidu"
    min_duration: int = 1
    max_duration: int = 16
    durations: tuple[int, ...] = ()  # when set, only these values
    default_duration: int = 5
    resolutions: tuple[str, ...] = ("540p", "720p", "1080p")
    default_resolution: str = "720p"
    # e.g. vidu2.0: 8 s only at 720p
    resolutions_by_duration: dict[int, tuple[str, ...]] = field(default_factory=dict)
    fps: int = 24
    options: dict[str, Any] = field(default_factory=dict)
    # credits per second of video, by resolution (Vidu bills per second and resolution)
    credits_per_second: dict[str, int] = field(
        default_factory=lambda: {"360p": 2, "540p": 5, "720p": 10, "1080p": 30}
    )

    # credits a prompt recommendation adds to a task (Vidu's is_rec: +10)
    rec_credits: int = 10
    # generated sound (audio: true): a local StableAudioPipeline folder, {weights, steps, ...}; see
    # audio/generate.py and docs/audio.md. Empty: the model makes no sound of its own
    audio_model: dict[str, Any] = field(default_factory=dict)

    def price(self, *, duration: float, resolution: str, n: int = 1) -> int:
        per_second = self.credits_per_second.get(resolution, max(self.credits_per_second.values()))
        return round(per_second * duration) * n

    def check_duration(self, duration: int) -> None:
        ok = (
            duration in self.durations
            if self.durations
            else self.min_duration <= duration <= self.max_duration
        )
        if not ok:
            allowed = (
                ", ".join(str(d) for d in self.durations)
                if self.durations
                else f"{self.min_duration}-{self.max_duration}"
            )
            raise ClientError(
                ErrorCode.INVALID_FIELD,
                f"duration {duration} is not supported by model {self.name}; allowed: {allowed} seconds",
                param="duration",
            )

    def check_resolution(self, resolution: str, duration: int) -> None:
        allowed = self.resolutions_by_duration.get(duration, self.resolutions)
        if resolution not in allowed:
            raise ClientError(
                ErrorCode.INVALID_FIELD,
                f"resolution {resolution!r} is not supported by model {self.name} at {duration} s; "
                f"allowed: {', '.join(allowed)}",
                param="resolution",
            )


class Catalog:
    def __init__(self, models: dict[str, ModelSpec]) -> None:
        self._models = models
        self._lower = {k.lower(): v for k, v in models.items()}

    def get(self, name: str) -> ModelSpec | None:
        return self._models.get(name) or self._lower.get(name.lower())

    def require(self, name: str) -> ModelSpec:
        spec = self.get(name)
        if spec is None:
            raise ClientError(
                ErrorCode.INVALID_FIELD,
                f"unknown model {name!r}; GET /v1/models or `framecast models` lists the configured ones",
                param="model",
            )
        return spec

    def names(self) -> list[str]:
        return sorted(self._models)

    @classmethod
    def load(cls, extra: Path | None = None) -> Catalog:
        text = resources.files("framecast").joinpath("catalog.toml").read_text(encoding="utf-8")
        raw: dict[str, Any] = tomllib.loads(text).get("models", {})
        if extra is not None:
            for name, entry in tomllib.loads(extra.read_text(encoding="utf-8")).get("models", {}).items():
                raw[name] = {**raw.get(name, {}), **entry}
        return cls({name: _spec(name, entry) for name, entry in raw.items()})


def _spec(name: str, entry: dict[str, Any]) -> ModelSpec:
    e = dict(entry)
    by_dur = {int(k): tuple(v) for k, v in e.pop("resolutions_by_duration", {}).items()}
    for key in ("durations", "resolutions"):
        if key in e:
            e[key] = tuple(e[key])
    return ModelSpec(name=name, resolutions_by_duration=by_dur, **e)
