"""Credits: tenant balances and the ledger. Charge on create, refund on failure or cancellation.

Balances move only through compare-and-swap UPDATEs (``credits >= amount``), so
concurrent creates can never drive a balance below zero; the ledger's unique
(task_id, kind) makes a second refund of the same task a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, bindparam, exists, func, insert, literal, select, update
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

    Statements built once, with bind parameters, run on the session's connection: an ORM update made the
    session find which loaded objects it changed (a RETURNING and its processing, 16% of a create in its
    profile, ``bench/load.py --rows create --profile``), and a statement built per call had its cache key
    computed per call (``bench/request_costs.py --only write_costs``)."""
    conn = session.connection()
    values = {"tenant": tenant, "amount": amount}
    # no row matched: a limited balance that cannot cover it, or an unlimited one (credits NULL)
    if (
        rows_matched(conn.execute(_CHARGE, values)) != 1
        and conn.execute(_CREDITS_OF, values).scalar() is not None
    ):
        return False
    conn.execute(
        _INSERT_LEDGER,
        {
            "tenant": tenant,
            "task_id": task_id,
            "kind": "charge",
            "delta": -amount,
            "note": "task created",
            "created_at": utcnow(),
        },
    )
    return True


_TENANTS = table_of(TenantRow)
_CHARGE = (
    update(_TENANTS)
    .where(
        _TENANTS.c.id == bindparam("tenant"),
        _TENANTS.c.credits.is_not(None),
        _TENANTS.c.credits >= bindparam("amount"),
    )
    .values(credits=_TENANTS.c.credits - bindparam("amount"))
)
_CREDITS_OF = select(_TENANTS.c.credits).where(_TENANTS.c.id == bindparam("tenant"))
_INSERT_LEDGER = insert(table_of(LedgerRow))


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
