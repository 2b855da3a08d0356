"""Idempotency keys: (tenant, key) -> the task the first request made, and a hash of its body."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from framecast.store.db import rows_matched
from framecast.store.tables import IdempotencyRow
from framecast.store.time import aware, utcnow


def lookup(session: Session, *, tenant: str, key: str, newer_than: datetime) -> IdempotencyRow | None:
    row = session.get(IdempotencyRow, (tenant, key))
    if row is None or (aware(row.created_at) or utcnow()) < newer_than:
        return None
    return row


class KeyTaken(Exception):
    """Another request already holds this key (it committed between our lookup and our insert)."""


def remember(
    session: Session, *, tenant: str, key: str, request_hash: str, task_id: str, newer_than: datetime
) -> None:
    """Record the key. Raises KeyTaken, or IntegrityError on the flush, when a twin got there first."""
    existing = session.get(IdempotencyRow, (tenant, key))
    if existing is not None:
        if (aware(existing.created_at) or utcnow()) >= newer_than:
            raise KeyTaken(key)
        session.delete(existing)  # expired: the key may be used again
        session.flush()
    session.add(
        IdempotencyRow(
            tenant=tenant, key=key, request_hash=request_hash, task_id=task_id, created_at=utcnow()
        )
    )
    session.flush()


def purge(session: Session, *, older_than: datetime) -> int:
    return rows_matched(session.execute(delete(IdempotencyRow).where(IdempotencyRow.created_at < older_than)))


__all__ = ["lookup", "purge", "remember"]
