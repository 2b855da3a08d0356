"""API keys: created once, shown once, stored as a SHA-256 hash."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from framecast.domain import Principal
from framecast.store import billing
from framecast.store.db import rows_matched
from framecast.store.tables import ApiKeyRow

KEY_PREFIX = "fc-"


def hash_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_key(
    session: Session,
    *,
    name: str = "",
    tenant: str | None = None,
    credits: int | None = None,
    concurrency_limit: int | None = None,
) -> tuple[ApiKeyRow, str]:
    """A new key (and its tenant, unless it joins an existing one). Returns the row and the key, shown once.

    ``credits=None`` leaves the tenant unmetered; ``concurrency_limit=None`` leaves it unlimited.
    """
    token = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = "key_" + secrets.token_hex(8)
    billing.set_limits(session, tenant=tenant or key_id, credits=credits, concurrency_limit=concurrency_limit)
    row = ApiKeyRow(
        id=key_id,
        tenant=tenant or key_id,
        name=name,
        prefix=token[:10],
        key_hash=hash_key(token),
        created_at=datetime.now(UTC),
        webhook_secret="whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
    )
    session.add(row)
    session.flush()
    return row, token


def authenticate(session: Session, *, token: str) -> Principal | None:
    row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.key_hash == hash_key(token)))
    if row is None or row.revoked_at is not None:
        return None
    return Principal(key_id=row.id, tenant=row.tenant, token=token)


def get_key(session: Session, *, key_id: str) -> ApiKeyRow | None:
    return session.get(ApiKeyRow, key_id)


def list_keys(session: Session) -> list[ApiKeyRow]:
    return list(session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at)))


def revoke_key(session: Session, *, key_id: str) -> bool:
    result = session.execute(
        update(ApiKeyRow)
        .where(ApiKeyRow.id == key_id, ApiKeyRow.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    return bool(rows_matched(result))


def count_active(session: Session) -> int:
    return int(session.scalar(select(func.count()).where(ApiKeyRow.revoked_at.is_(None))) or 0)
