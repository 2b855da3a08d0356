"""The callback outbox: events recorded with the state change that caused them, delivered later.

``record`` runs inside the transaction that changes a task's state, so a callback
exists if and only if the change committed. Senders claim due rows with a
compare-and-swap lease (several processes may send), and every attempt is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from sqlalchemy import insert, literal, select, update
from sqlalchemy.orm import Session

from framecast.store.db import rows_matched
from framecast.store.tables import CallbackAttemptRow, OutboxRow, TaskRow
from framecast.store.time import aware, utcnow


def record(session: Session, *, task_id: str, event: str) -> None:
    """Queue a callback for ``task_id`` entering ``event`` if the task asked for callbacks."""
    now = utcnow()
    session.execute(
        insert(OutboxRow).from_select(
            ["task_id", "event", "url", "status", "attempts", "next_attempt_at", "created_at", "last_error"],
            select(
                TaskRow.id,
                literal(event),
                TaskRow.callback_url,
                literal("pending"),
                literal(0),
                literal(now),
                literal(now),
                literal(""),
            ).where(TaskRow.id == task_id, TaskRow.callback_url != ""),
        )
    )


@dataclass(frozen=True)
class Due:
    id: int
    task_id: str
    event: str
    url: str
    attempts: int
    created_at: datetime


# a Due is read straight from the outbox columns of the same names
_DUE_FIELDS = [f.name for f in fields(Due)]
_DUE_COLUMNS = [getattr(OutboxRow, name) for name in _DUE_FIELDS]


def claim_due(session: Session, *, limit: int, lease_seconds: float) -> list[Due]:
    now = utcnow()
    rows = session.execute(
        select(*_DUE_COLUMNS, OutboxRow.status)
        .where(
            ((OutboxRow.status == "pending") & (OutboxRow.next_attempt_at <= now))
            | ((OutboxRow.status == "sending") & (OutboxRow.lease_until < now))
        )
        .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
        .limit(limit)
    ).all()
    claimed = []
    for r in rows:
        res = session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == r.id, OutboxRow.status == r.status, OutboxRow.attempts == r.attempts)
            .values(status="sending", lease_until=now + timedelta(seconds=lease_seconds))
        )
        if rows_matched(res) == 1:
            due = {name: getattr(r, name) for name in _DUE_FIELDS}
            claimed.append(Due(**{**due, "created_at": aware(r.created_at) or now}))
    return claimed


def log_attempt(
    session: Session,
    *,
    outbox_id: int,
    status_code: int | None,
    latency_ms: int,
    error: str,
    delivered: bool,
    next_attempt_at: datetime | None,
) -> None:
    """Record one attempt; then the row is delivered, due again at ``next_attempt_at``, or dead (None)."""
    now = utcnow()
    session.add(
        CallbackAttemptRow(
            outbox_id=outbox_id, at=now, status_code=status_code, latency_ms=latency_ms, error=error[:500]
        )
    )
    values: dict[str, object] = {
        "attempts": OutboxRow.attempts + 1,
        "last_status": status_code,
        "last_error": error[:500],
        "lease_until": None,
    }
    if delivered:
        values.update(status="delivered", delivered_at=now)
    elif next_attempt_at is None:
        values.update(status="dead")
    else:
        values.update(status="pending", next_attempt_at=next_attempt_at)
    session.execute(update(OutboxRow).where(OutboxRow.id == outbox_id).values(**values))


def history(session: Session, *, task_id: str) -> list[tuple[OutboxRow, list[CallbackAttemptRow]]]:
    rows = list(session.scalars(select(OutboxRow).where(OutboxRow.task_id == task_id).order_by(OutboxRow.id)))
    out = []
    for r in rows:
        attempts = list(
            session.scalars(
                select(CallbackAttemptRow)
                .where(CallbackAttemptRow.outbox_id == r.id)
                .order_by(CallbackAttemptRow.id)
            )
        )
        out.append((r, attempts))
    return out
