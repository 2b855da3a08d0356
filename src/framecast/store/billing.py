"""Credits: tenant balances and the ledger. Charge on create, refund on failure or cancellation.

Balances move only through compare-and-swap UPDATEs (``credits >= amount``), so
concurrent creates can never drive a balance below zero; the ledger's unique
(task_id, kind) makes a second refund of the same task a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, exists, func, insert, literal, select, update
from sqlalchemy.orm import Session

from framecast.store.db import rows_matched
from framecast.store.tables import LedgerRow, TenantRow, table_of
from framecast.store.time import utcnow


@dataclass(frozen=True)
class Balance:
    credits: int | None  # None = unlimited
    concurrency_limit: int | None


def ensure_tenant(
    session: Session, *, tenant: str, credits: int | None = None, concurrency_limit: int | None = None
) -> TenantRow:
    row = session.get(TenantRow, tenant)
    if row is None:
        row = TenantRow(id=tenant, credits=credits, concurrency_limit=concurrency_limit, created_at=utcnow())
        session.add(row)
        session.flush()
    return row


def balance(session: Session, *, tenant: str) -> Balance:
    # Columns, not the ORM object: a TenantRow loaded earlier in the session may be stale by now, and
    # this is read right after a refused charge lost to concurrent ones.
    row = session.execute(
        select(TenantRow.credits, TenantRow.concurrency_limit).where(TenantRow.id == tenant)
    ).first()
    if row is None:
        return Balance(credits=None, concurrency_limit=None)
    return Balance(credits=row.credits, concurrency_limit=row.concurrency_limit)


def charge(session: Session, *, tenant: str, task_id: str, amount: int) -> bool:
    """Take ``amount`` from the tenant; False (and nothing written) when the balance cannot cover it.

    Core statements on the table: an ORM update made the session find which loaded objects it changed
    (``synchronize_session``, a RETURNING and its processing) on every create, for objects no create loads
    (in the create's py-spy profile, ``bench/load.py --rows create --profile``, the charge was 16%)."""
    tenants = table_of(TenantRow)
    res = session.execute(
        update(tenants)
        .where(tenants.c.id == tenant, tenants.c.credits.is_not(None), tenants.c.credits >= amount)
        .values(credits=tenants.c.credits - amount)
    )
    if rows_matched(res) != 1:
        limited = session.scalar(select(tenants.c.credits).where(tenants.c.id == tenant))
        if limited is not None:
            return False
    session.execute(
        insert(table_of(LedgerRow)).values(
            tenant=tenant,
            task_id=task_id,
            kind="charge",
            delta=-amount,
            note="task created",
            created_at=utcnow(),
        )
    )
    return True


def refund(session: Session, *, task_id: str, note: str) -> int:
    """Give back what the task was charged, once. Returns the amount refunded (0 if nothing to do)."""
    charged = session.execute(
        select(LedgerRow.tenant, LedgerRow.delta).where(
            LedgerRow.task_id == task_id, LedgerRow.kind == "charge"
        )
    ).first()
    if charged is None or charged.delta == 0:
        return 0
    amount = -int(charged.delta)
    already = exists().where(and_(LedgerRow.task_id == task_id, LedgerRow.kind == "refund"))
    res = session.execute(
        insert(LedgerRow).from_select(
            ["tenant", "task_id", "kind", "delta", "note", "created_at"],
            select(
                literal(charged.tenant),
                literal(task_id),
                literal("refund"),
                literal(amount),
                literal(note[:200]),
                literal(utcnow()),
            ).where(~already),
        )
    )
    if rows_matched(res) != 1:
        return 0
    session.execute(
        update(TenantRow)
        .where(TenantRow.id == charged.tenant, TenantRow.credits.is_not(None))
        .values(credits=TenantRow.credits + amount)
    )
    return amount


def topup(session: Session, *, tenant: str, amount: int) -> int | None:
    """Add credits; an unlimited tenant becomes a metered one starting from ``amount``."""
    ensure_tenant(session, tenant=tenant, credits=0)
    session.execute(
        update(TenantRow)
        .where(TenantRow.id == tenant)
        .values(credits=func.coalesce(TenantRow.credits, 0) + amount)
    )
    session.add(
        LedgerRow(tenant=tenant, task_id=None, kind="topup", delta=amount, note="top-up", created_at=utcnow())
    )
    session.flush()
    return session.scalar(select(TenantRow.credits).where(TenantRow.id == tenant))


def set_limits(
    session: Session, *, tenant: str, credits: int | None = None, concurrency_limit: int | None = None
) -> None:
    row = ensure_tenant(session, tenant=tenant)
    if credits is not None:
        row.credits = credits
    if concurrency_limit is not None:
        row.concurrency_limit = concurrency_limit or None
    session.flush()
