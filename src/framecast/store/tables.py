"""Table models. The database is the source of truth for every task's state."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


def table_of(row: type[Base]) -> Table:
    """The Core table of a mapped class: hot-path inserts skip the ORM's unit of work with it."""
    return cast(Table, row.__table__)


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    prefix: Mapped[str] = mapped_column(String(16))  # first characters of the key, to recognise it in lists
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex; the key itself is never kept
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    # Standard Webhooks secret ("whsec_..."): signs callbacks of non-Vidu dialects for this key's tasks
    webhook_secret: Mapped[str] = mapped_column(String(80), default="")


class TenantRow(Base):
    """A billing and scheduling unit; keys belong to one. NULL credits / limit mean unlimited."""

    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    credits: Mapped[int | None] = mapped_column(BigInteger, default=None)
    concurrency_limit: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime]


class LedgerRow(Base):
    """Every credit movement. (task_id, kind) is unique so a task is charged and refunded at most once."""

    __tablename__ = "ledger"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    task_id: Mapped[str | None] = mapped_column(String(32), default=None)
    kind: Mapped[str] = mapped_column(String(16))  # charge | refund | topup
    delta: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("task_id", "kind", name="uq_ledger_task_kind"),)


class IdempotencyRow(Base):
    __tablename__ = "idempotency_keys"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    task_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(index=True)


class OutboxRow(Base):
    """A callback to deliver, written in the same transaction as the state change that caused it."""

    __tablename__ = "callback_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(String(32), index=True)
    event: Mapped[str] = mapped_column(String(16))  # the canonical state the task entered
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sending | delivered | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    last_status: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)


class CallbackAttemptRow(Base):
    """One delivery attempt, for the operator: when, what came back, how long it took."""

    __tablename__ = "callback_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("callback_outbox.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    latency_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text, default="")


class TaskRow(Base):
    __tablename__ = "tasks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(40))
    dialect: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(100))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"images": [StoredImage...]}
    echo: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))
    progress: Mapped[int] = mapped_column(Integer, default=0)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    seed: Mapped[int] = mapped_column(BigInteger)
    credits: Mapped[int] = mapped_column(Integer, default=0)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    off_peak: Mapped[bool] = mapped_column(default=False)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    callback_url: Mapped[str] = mapped_column(Text, default="")
    # the creating key, encrypted with the server secret: Vidu signs callbacks with the caller's own key
    callback_key: Mapped[str | None] = mapped_column(Text, default=None)
    error_code: Mapped[str | None] = mapped_column(String(40), default=None)
    error_reason: Mapped[str | None] = mapped_column(String(80), default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    # the worker that holds the task, or held it last: kept after a release so an operator can see
    # which worker keeps losing a task
    worker: Mapped[str | None] = mapped_column(String(100), default=None)
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    # what the running attempt is doing ("loading model", "generating", "saving"); "" when not running
    phase: Mapped[str] = mapped_column(String(32), default="", server_default="")
    # attempts whose worker died (lease lapsed); graceful hand-backs are not counted
    lost_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # the client's own id for the task (Kling's external_task_id): unique per tenant, looked up by index
    external_id: Mapped[str | None] = mapped_column(String(200), default=None)
    # the prompt the service wrote or expanded (is_rec, need_expand_prompt); NULL = the client's was used
    prompt_used: Mapped[str | None] = mapped_column(Text, default=None)
    # the video's sound and why ("bgm calm (mood words: lake)", "silent: ..."); "" when none was asked
    soundtrack: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        Index("ix_tasks_tenant_created_id", "tenant", "created_at", "id"),
        Index("ix_tasks_state_priority", "state", "off_peak", "priority", "created_at"),
        UniqueConstraint("tenant", "external_id", name="uq_tasks_tenant_external_id"),
    )


class CreationRow(Base):
    __tablename__ = "creations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer)
    video_key: Mapped[str] = mapped_column(String(300))
    cover_key: Mapped[str] = mapped_column(String(300))
    watermarked_key: Mapped[str | None] = mapped_column(String(300), default=None)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    fps: Mapped[int] = mapped_column(Integer)
    frames: Mapped[int] = mapped_column(Integer)
    duration: Mapped[float]
    seed: Mapped[int] = mapped_column(BigInteger)
