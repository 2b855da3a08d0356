"""Task queries. Every state change is a compare-and-swap; every worker write names its attempt (fencing)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    String,
    and_,
    any_,
    bindparam,
    case,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from framecast.domain import (
    Creation,
    ErrorCode,
    GenerationRequest,
    StoredImage,
    StoredVideo,
    Task,
    TaskError,
    TaskState,
)
from framecast.store import billing, outbox
from framecast.store.db import Database, rows_matched
from framecast.store.prepared import prepared
from framecast.store.tables import CreationRow, TaskRow, TenantRow, table_of
from framecast.store.time import aware, utcnow

if TYPE_CHECKING:
    from framecast.store.async_reads import AsyncReads

# what a task cancelled while it ran records (Vidu's reason word; every other dialect says cancelled)
CANCELLED_BY_USER = TaskError(
    code=ErrorCode.CANCELLED, message="cancelled by the user", reason="UserCancelled"
)


# built once: building and hashing a statement per call cost the poll path as much as running it
_TASKS, _CREATIONS = table_of(TaskRow), table_of(CreationRow)
_CREATION_PREFIX = "creation_"
# a task and its creations in one statement (one round trip): one row per creation, or one with the
# creation's columns NULL when it has none
_TASK_WITH_CREATIONS = (
    select(_TASKS, *(c.label(_CREATION_PREFIX + c.name) for c in _CREATIONS.c))
    .outerjoin(_CREATIONS, _CREATIONS.c.task_id == _TASKS.c.id)
    .where(_TASKS.c.id == bindparam("task_id"))
    .order_by(_CREATIONS.c.index)
)
_TENANTS_TASK_WITH_CREATIONS = _TASK_WITH_CREATIONS.where(_TASKS.c.tenant == bindparam("tenant"))
# the same rows for several tasks at once, for polls read together (``store/read_batches.py``): PostgreSQL's
# ``= ANY(array)``, one statement text whatever the number of ids (prepared once by the driver); an array
# of unbounded strings, as a VARCHAR(32) one would cut a longer id down to one that exists
_TASKS_BY_IDS_WITH_CREATIONS = (
    select(_TASKS, *(c.label(_CREATION_PREFIX + c.name) for c in _CREATIONS.c))
    .outerjoin(_CREATIONS, _CREATIONS.c.task_id == _TASKS.c.id)
    .where(_TASKS.c.id == any_(bindparam("task_ids", type_=postgresql.ARRAY(String()))))
    .order_by(_TASKS.c.id, _CREATIONS.c.index)
)


_INSERT_TASK = insert(_TASKS)


def insert_task(
    session: Session, *, task: Task, callback_key: str | None = None, external_id: str | None = None
) -> None:
    """Insert a new (queued) task. ``callback_key`` is the sealed creating key Vidu signs callbacks with;
    ``external_id`` the client's own id for it, unique per tenant (IntegrityError when taken)."""
    # a Core insert built once, on the session's connection: one row needs none of the ORM's unit of work
    # (identity map, flush ordering), and a statement built per call had its cache key computed per call
    session.connection().execute(_INSERT_TASK, task_values(task, callback_key, external_id))


def task_values(task: Task, callback_key: str | None, external_id: str | None) -> dict[str, Any]:
    """The tasks table's columns of a new task."""
    req = task.request
    inputs: dict[str, Any] = {"images": [i.model_dump(mode="json") for i in task.inputs]}
    if task.watermark_key:
        inputs["watermark"] = task.watermark_key
    if task.input_videos:
        inputs["videos"] = [v.model_dump(mode="json") for v in task.input_videos]
    return {
        "id": task.id,
        "tenant": task.tenant,
        "key_id": task.key_id,
        "dialect": task.dialect,
        "kind": req.kind.value,
        "model": req.model,
        "request": req.model_dump(mode="json"),
        "inputs": inputs,
        "echo": task.echo,
        "state": task.state.value,
        "progress": task.progress,
        "attempt": task.attempt,
        "seed": task.seed,
        "credits": task.credits,
        "priority": req.priority,
        "off_peak": req.off_peak,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
        "callback_url": req.callback_url,
        "callback_key": callback_key,
        "external_id": external_id or None,
        "soundtrack": task.soundtrack,
    }


def load_by_external_id(session: Session, *, tenant: str, external_id: str) -> Task | None:
    row = session.scalar(select(TaskRow).where(TaskRow.tenant == tenant, TaskRow.external_id == external_id))
    return None if row is None else to_domain(row, creations_of(session, task_ids=[row.id])[row.id])


def get_row(session: Session, *, task_id: str, tenant: str | None = None) -> TaskRow | None:
    q = select(TaskRow).where(TaskRow.id == task_id)
    if tenant is not None:
        q = q.where(TaskRow.tenant == tenant)
    return session.scalar(q)


def state_of(session: Session, *, task_id: str, tenant: str) -> TaskState | None:
    state = session.scalar(select(TaskRow.state).where(TaskRow.id == task_id, TaskRow.tenant == tenant))
    return None if state is None else TaskState(state)


def creations_of(session: Session, *, task_ids: Sequence[str]) -> dict[str, list[Creation]]:
    out: dict[str, list[Creation]] = {tid: [] for tid in task_ids}
    if not task_ids:
        return out
    rows = session.scalars(
        select(CreationRow).where(CreationRow.task_id.in_(task_ids)).order_by(CreationRow.index)
    )
    for r in rows:
        out[r.task_id].append(_creation(r, ""))
    return out


def _creation(c: Any, prefix: str) -> Creation:
    """The creation in ``c``'s attributes named ``prefix`` + column (a row of the creations table, or the
    creation's columns of a joined row)."""

    def col(name: str) -> Any:
        return getattr(c, prefix + name)

    return Creation(
        id=col("id"),
        index=col("index"),
        video_key=col("video_key"),
        cover_key=col("cover_key"),
        watermarked_key=col("watermarked_key"),
        width=col("width"),
        height=col("height"),
        fps=col("fps"),
        frames=col("frames"),
        duration=col("duration"),
        seed=col("seed"),
    )


def to_domain(row: Any, creations: Sequence[Creation]) -> Task:
    """The task of a tasks-table row (an ORM object or a row with the same attributes)."""
    error = None
    if row.error_code:
        error = TaskError(
            code=ErrorCode(row.error_code), message=row.error_message or "", reason=row.error_reason or ""
        )
    return Task(
        id=row.id,
        tenant=row.tenant,
        key_id=row.key_id,
        dialect=row.dialect,
        request=GenerationRequest.model_validate(row.request),
        inputs=[StoredImage.model_validate(i) for i in row.inputs.get("images", [])],
        input_videos=[StoredVideo.model_validate(v) for v in row.inputs.get("videos", [])],
        watermark_key=row.inputs.get("watermark"),
        echo=row.echo,
        state=TaskState(row.state),
        progress=row.progress,
        phase=row.phase,
        attempt=row.attempt,
        lost_attempts=row.lost_attempts,
        worker=row.worker,
        claimed_at=aware(row.claimed_at),
        seed=row.seed,
        credits=row.credits,
        prompt_used=row.prompt_used,
        soundtrack=row.soundtrack or "",
        error=error,
        created_at=aware(row.created_at) or utcnow(),
        updated_at=aware(row.updated_at) or utcnow(),
        started_at=aware(row.started_at),
        finished_at=aware(row.finished_at),
        creations=list(creations),
    )


def load_task(session: Session | Connection, *, task_id: str, tenant: str | None = None) -> Task | None:
    """One task and its creations as the session sees them (its own writes included)."""
    stmt, values = _task_statement(task_id, tenant)
    return _task_of(session.execute(stmt, values).all())


def read_task(db: Database, *, task_id: str, tenant: str | None = None) -> Task | None:
    """One task and its creations, committed: the path every poll takes, on the driver's own cursor
    (``store/prepared.py``) with a connection of its own. The task may be one an earlier read of the
    same row built (``store/row_memo.py``): treat it as read-only."""
    stmt, values = _task_statement(task_id, tenant)
    select = prepared(stmt, db.engine.dialect)
    return db.polled_tasks.made(db.fetch(select, values), lambda raw: _task_of(select.convert(raw)))


async def read_task_async(reads: AsyncReads, *, task_id: str, tenant: str | None = None) -> Task | None:
    """:func:`read_task` awaited on the event loop (PostgreSQL through psycopg, ``store/async_reads.py``),
    in one statement with the other polls waiting at the same time (``store/read_batches.py``)."""
    select = prepared(_TASKS_BY_IDS_WITH_CREATIONS, reads.dialect)
    rows = await reads.fetch_by_key(select, "task_ids", "id", task_id)
    if tenant is not None and rows and rows[0][select.column_index("tenant")] != tenant:
        rows = []  # another tenant's task: as unknown as one that does not exist
    return reads.memo.made(rows, lambda raw: _task_of(select.convert(raw)))


def _task_statement(task_id: str, tenant: str | None) -> tuple[Select[Any], dict[str, str]]:
    if tenant is None:
        return _TASK_WITH_CREATIONS, {"task_id": task_id}
    return _TENANTS_TASK_WITH_CREATIONS, {"task_id": task_id, "tenant": tenant}


def _task_of(rows: Sequence[Any]) -> Task | None:
    """The task of :data:`_TASK_WITH_CREATIONS`'s rows (None when there are none)."""
    if not rows:
        return None
    creations = [
        _creation(r, _CREATION_PREFIX) for r in rows if getattr(r, _CREATION_PREFIX + "id") is not None
    ]
    return to_domain(rows[0], creations)


@dataclass(frozen=True)
class TaskFilter:
    tenant: str
    states: Sequence[TaskState] = ()
    task_ids: Sequence[str] = ()
    models: Sequence[str] = ()
    created_from: datetime | None = None
    created_to: datetime | None = None
    after_id: str | None = None  # keyset paging: tasks strictly older (desc) / newer (asc) than this id
    newest_first: bool = True


def list_tasks(session: Session, *, flt: TaskFilter, offset: int = 0, limit: int = 20) -> list[Task]:
    """One page of ``flt``'s tasks, ``offset`` rows in. Always a keyset seek on (created_at, id).

    The rows are read from a seek, never with OFFSET: skipping rows would decode every skipped row.
    ``offset`` (for dialects that number their pages) only finds where the page starts, by walking the
    narrow (tenant, created_at, id) index; a cursor (``after_id``) finds it with one primary-key read.
    """
    q = _filtered(flt)
    after = _anchor(session, flt)
    if offset > 0:
        keys = q.with_only_columns(TaskRow.created_at, TaskRow.id)
        start = session.execute(_seek(keys, after, flt.newest_first).offset(offset - 1).limit(1)).first()
        if start is None:
            return []  # past the last page
        after = (start[0], start[1])
    rows = list(session.scalars(_seek(q, after, flt.newest_first).limit(limit)))
    creations = creations_of(session, task_ids=[r.id for r in rows])
    return [to_domain(r, creations[r.id]) for r in rows]


def _filtered(flt: TaskFilter) -> Select[TaskRow]:
    q = select(TaskRow).where(TaskRow.tenant == flt.tenant)
    if flt.states:
        q = q.where(TaskRow.state.in_([s.value for s in flt.states]))
    if flt.task_ids:
        q = q.where(TaskRow.id.in_(list(flt.task_ids)))
    if flt.models:
        q = q.where(TaskRow.model.in_(list(flt.models)))
    if flt.created_from:
        q = q.where(TaskRow.created_at >= flt.created_from)
    if flt.created_to:
        q = q.where(TaskRow.created_at <= flt.created_to)
    return q


def _anchor(session: Session, flt: TaskFilter) -> tuple[datetime, str] | None:
    """The (created_at, id) of the cursor task, when it is the caller's (another tenant's id is ignored)."""
    if not flt.after_id:
        return None
    anchor = session.get(TaskRow, flt.after_id)
    if anchor is None or anchor.tenant != flt.tenant:
        return None
    return anchor.created_at, anchor.id


_S = TypeVar("_S", Select[TaskRow], Select[datetime, str])


def _seek(q: _S, after: tuple[datetime, str] | None, newest_first: bool) -> _S:
    """``q`` in list order, starting strictly after the key ``after``.

    ids are time-ordered (see service.new_task_id), so (created_at, id) is a total, stable order; the
    comparison is spelled out (not a row-value compare) so that every backend can use the index.
    """
    if after is not None:
        at, tid = after
        if newest_first:
            q = q.where((TaskRow.created_at < at) | and_(TaskRow.created_at == at, TaskRow.id < tid))
        else:
            q = q.where((TaskRow.created_at > at) | and_(TaskRow.created_at == at, TaskRow.id > tid))
    if newest_first:
        return q.order_by(TaskRow.created_at.desc(), TaskRow.id.desc())
    return q.order_by(TaskRow.created_at.asc(), TaskRow.id.asc())


# --- the worker side -------------------------------------------------------------------------------


def _held(task_id: str, attempt: int) -> ColumnElement[bool]:
    """The fencing condition every worker write carries: this task, still running under this attempt."""
    return and_(TaskRow.id == task_id, TaskRow.attempt == attempt, TaskRow.state == TaskState.RUNNING.value)


def _end(session: Session, *, task_id: str, attempt: int, **values: Any) -> bool:
    """Move a running attempt's task to a terminal state (compare-and-swap); False when fenced."""
    now = utcnow()
    res = session.execute(
        update(TaskRow)
        .where(_held(task_id, attempt))
        .values(phase="", finished_at=now, updated_at=now, lease_until=None, **values)
    )
    return rows_matched(res) == 1


def claim_next(
    session: Session, *, worker: str, lease_seconds: float, tries: int = 5
) -> tuple[str, int] | None:
    """Take the next queued task and mark it running under a new attempt number.

    Order: normal tasks before off-peak ones; across tenants first-in-first-out (the
    tenant whose oldest waiting task is oldest goes first); within that tenant, higher
    ``priority`` (Vidu's cus_priority) first, then FIFO. Tenants at their concurrency
    limit are left out until one of their tasks ends, however many tasks they have
    waiting. The UPDATE names the attempt it read, so two workers racing for one row
    cannot both win; the loser simply looks again.
    """
    full = _saturated_tenants(session)
    for _ in range(tries):
        picked = _pick(session, full)
        if picked is None:
            return None
        task_id, attempt = picked
        if _take(session, task_id=task_id, attempt=attempt, worker=worker, lease_seconds=lease_seconds):
            return task_id, attempt + 1
    return None


def _take(session: Session, *, task_id: str, attempt: int, worker: str, lease_seconds: float) -> bool:
    """The claim's compare-and-swap: a queued task read at ``attempt`` runs under ``attempt + 1``."""
    now = utcnow()
    res = session.execute(
        update(TaskRow)
        .where(TaskRow.id == task_id, TaskRow.state == TaskState.QUEUED.value, TaskRow.attempt == attempt)
        .values(
            state=TaskState.RUNNING.value,
            attempt=attempt + 1,
            worker=worker,
            lease_until=now + timedelta(seconds=lease_seconds),
            claimed_at=now,
            started_at=now,
            updated_at=now,
            progress=0,
            phase="starting",
        )
    )
    if rows_matched(res) != 1:
        return False
    outbox.record(session, task_id=task_id, event=TaskState.RUNNING.value)
    return True


def _saturated_tenants(session: Session) -> list[str]:
    """Tenants whose running tasks already fill their concurrency limit."""
    running = (
        select(func.count())
        .where(TaskRow.tenant == TenantRow.id, TaskRow.state == TaskState.RUNNING.value)
        .scalar_subquery()
    )
    return list(
        session.scalars(
            select(TenantRow.id).where(
                TenantRow.concurrency_limit.is_not(None), running >= TenantRow.concurrency_limit
            )
        )
    )


def _pick(session: Session, full: Sequence[str]) -> tuple[str, int] | None:
    eligible = [TaskRow.state == TaskState.QUEUED.value]
    if full:
        eligible.append(TaskRow.tenant.not_in(list(full)))
    oldest = session.execute(
        select(TaskRow.tenant, TaskRow.off_peak)
        .where(*eligible)
        .order_by(TaskRow.off_peak.asc(), TaskRow.created_at.asc(), TaskRow.id.asc())
        .limit(1)
    ).first()
    if oldest is None:
        return None
    row = session.execute(
        select(TaskRow.id, TaskRow.attempt)
        .where(*eligible, TaskRow.tenant == oldest.tenant, TaskRow.off_peak == oldest.off_peak)
        .order_by(TaskRow.priority.desc(), TaskRow.created_at.asc(), TaskRow.id.asc())
        .limit(1)
    ).first()
    return (row.id, row.attempt) if row is not None else None


def heartbeat(
    session: Session,
    *,
    task_id: str,
    attempt: int,
    lease_seconds: float,
    progress: int | None = None,
    phase: str | None = None,
) -> bool | None:
    """Extend the lease (and record progress and phase when given).

    Returns whether a cancel was requested, or None when this attempt no longer holds the task (fenced).
    """
    now = utcnow()
    values: dict[str, object] = {"lease_until": now + timedelta(seconds=lease_seconds), "updated_at": now}
    if progress is not None:
        values["progress"] = progress
    if phase is not None:
        values["phase"] = phase
    res = session.execute(update(TaskRow).where(_held(task_id, attempt)).values(**values))
    if rows_matched(res) != 1:
        return None
    return bool(session.scalar(select(TaskRow.cancel_requested).where(TaskRow.id == task_id)))


def finish_success(
    session: Session,
    *,
    task_id: str,
    attempt: int,
    creations: Sequence[Creation],
    prompt_used: str | None = None,
    soundtrack: str | None = None,
) -> bool:
    """Commit an attempt's results: the task succeeds and its creations are recorded, or nothing (fenced).

    ``prompt_used`` and ``soundtrack`` record what the attempt decided (None leaves them as they are)."""
    extra: dict[str, Any] = {}
    if prompt_used is not None:
        extra["prompt_used"] = prompt_used
    if soundtrack is not None:
        extra["soundtrack"] = soundtrack
    if not _end(
        session, task_id=task_id, attempt=attempt, state=TaskState.SUCCEEDED.value, progress=100, **extra
    ):
        return False
    session.add_all(CreationRow(task_id=task_id, attempt=attempt, **c.model_dump()) for c in creations)
    session.flush()
    outbox.record(session, task_id=task_id, event=TaskState.SUCCEEDED.value)
    return True


def finish_failure(
    session: Session,
    *,
    task_id: str,
    attempt: int,
    state: TaskState,
    error: TaskError,
) -> bool:
    if not _end(
        session,
        task_id=task_id,
        attempt=attempt,
        state=state.value,
        error_code=error.code.value,
        error_reason=error.reason,
        error_message=error.message,
    ):
        return False
    _ended_unpaid(session, task_id=task_id, state=state, note=error.reason or error.code.value)
    return True


def _ended_unpaid(session: Session, *, task_id: str, state: TaskState, note: str) -> None:
    """A task failed or was cancelled: refund it and queue its callback, in the same transaction."""
    billing.refund(session, task_id=task_id, note=note)
    outbox.record(session, task_id=task_id, event=state.value)


def cancel_queued(session: Session, *, task_id: str, message: str, reason: str) -> bool:
    now = utcnow()
    res = session.execute(
        update(TaskRow)
        .where(TaskRow.id == task_id, TaskRow.state == TaskState.QUEUED.value)
        .values(
            state=TaskState.CANCELLED.value,
            error_code=ErrorCode.CANCELLED.value,
            error_reason=reason,
            error_message=message,
            finished_at=now,
            updated_at=now,
            cancel_requested=True,
        )
    )
    if rows_matched(res) != 1:
        return False
    _ended_unpaid(session, task_id=task_id, state=TaskState.CANCELLED, note=reason)
    return True


def request_cancel_running(session: Session, *, task_id: str) -> bool:
    res = session.execute(
        update(TaskRow)
        .where(TaskRow.id == task_id, TaskRow.state == TaskState.RUNNING.value)
        .values(cancel_requested=True, updated_at=utcnow())
    )
    return rows_matched(res) == 1


@dataclass(frozen=True)
class Reaped:
    requeued: list[str]
    abandoned: list[str]  # failed: their workers died ``max_attempts`` times
    lost: list[tuple[str, int]]  # (task id, attempt) of every attempt found dead: its files are garbage


def abandoned_message(times: int) -> str:
    return (
        f"the task was abandoned {times} times: the worker running it stopped (crashed, was killed or "
        "lost its lease) during each attempt, so it is not retried again; the operator's log has the details"
    )


def requeue_expired(session: Session, *, max_attempts: int, now: datetime | None = None) -> Reaped:
    """Running tasks whose worker stopped heartbeating go back to the queue, or fail once their workers
    died ``max_attempts`` times (a poison input that crashes every worker must not loop for ever).
    A pending cancel wins over both.

    The attempt is left as it is: the next claim bumps it, which fences the lost worker out.
    """
    now = now or utcnow()
    lapsed = session.execute(
        select(TaskRow.id, TaskRow.attempt, TaskRow.lost_attempts, TaskRow.cancel_requested).where(
            TaskRow.state == TaskState.RUNNING.value, TaskRow.lease_until < now
        )
    ).all()
    requeued: list[str] = []
    abandoned: list[str] = []
    dead: list[tuple[str, int]] = []
    for task_id, attempt, lost, cancel_requested in lapsed:
        counted = session.execute(
            update(TaskRow).where(_held(task_id, attempt)).values(lost_attempts=lost + 1)
        )
        if rows_matched(counted) != 1:
            continue  # its worker finished or handed it back meanwhile
        dead.append((task_id, attempt))
        if lost + 1 >= max_attempts and not cancel_requested:
            # each dialect's own word for an internal failure
            error = TaskError(code=ErrorCode.INTERNAL, message=abandoned_message(lost + 1))
            if finish_failure(session, task_id=task_id, attempt=attempt, state=TaskState.FAILED, error=error):
                abandoned.append(task_id)
        elif release(session, task_id=task_id, attempt=attempt):
            requeued.append(task_id)
    return Reaped(requeued=requeued, abandoned=abandoned, lost=dead)


def release(session: Session, *, task_id: str, attempt: int) -> bool:
    """Put a running attempt's task back in the queue (its worker stopped); a pending cancel wins instead.

    The worker's name stays on the row: an operator looking at a task that keeps coming back sees
    which worker had it last.
    """
    row = session.execute(select(TaskRow.cancel_requested).where(_held(task_id, attempt))).first()
    if row is None:
        return False
    if row.cancel_requested:
        return finish_failure(
            session, task_id=task_id, attempt=attempt, state=TaskState.CANCELLED, error=CANCELLED_BY_USER
        )
    res = session.execute(
        update(TaskRow)
        .where(_held(task_id, attempt))
        .values(state=TaskState.QUEUED.value, lease_until=None, progress=0, phase="", updated_at=utcnow())
    )
    return rows_matched(res) == 1


def expire_off_peak(session: Session, *, older_than: datetime) -> list[str]:
    """Off-peak tasks still waiting after the window are cancelled and refunded (as Vidu promises)."""
    ids = list(
        session.scalars(
            select(TaskRow.id).where(
                TaskRow.state == TaskState.QUEUED.value,
                TaskRow.off_peak.is_(True),
                TaskRow.created_at < older_than,
            )
        )
    )
    return [
        i
        for i in ids
        if cancel_queued(
            session,
            task_id=i,
            reason="OffPeakExpired",
            message="the off-peak window passed before capacity was free; cancelled and refunded",
        )
    ]


def running_count(session: Session, *, tenant: str) -> tuple[int, int]:
    """(running, queued) task counts of one tenant."""
    counts = dict(
        session.execute(
            select(TaskRow.state, func.count())
            .where(
                TaskRow.tenant == tenant, TaskRow.state.in_([TaskState.RUNNING.value, TaskState.QUEUED.value])
            )
            .group_by(TaskRow.state)
        ).all()
    )
    return int(counts.get(TaskState.RUNNING.value, 0)), int(counts.get(TaskState.QUEUED.value, 0))


def existing_ids(session: Session, *, task_ids: Sequence[str]) -> set[str]:
    return set(session.scalars(select(TaskRow.id).where(TaskRow.id.in_(list(task_ids)))))


def running_attempts(session: Session, *, task_ids: Sequence[str]) -> dict[str, int]:
    """The attempt each of these tasks is running now; tasks not running are left out."""
    rows = session.execute(
        select(TaskRow.id, TaskRow.attempt).where(
            TaskRow.id.in_(list(task_ids)), TaskRow.state == TaskState.RUNNING.value
        )
    ).all()
    return {task_id: attempt for task_id, attempt in rows}


def delete_task(session: Session, *, task_id: str) -> None:
    session.execute(delete(CreationRow).where(CreationRow.task_id == task_id))
    session.execute(delete(TaskRow).where(TaskRow.id == task_id))


def count_by_state_and_model(session: Session) -> list[tuple[str, str, int]]:
    rows = session.execute(
        select(TaskRow.state, TaskRow.model, func.count()).group_by(TaskRow.state, TaskRow.model)
    ).all()
    return [(str(state), str(model), int(n)) for state, model, n in rows]


# --- distributed mode: a delivery claims its own task; the row is the outbox ---------------------------


def claim_task(session: Session, *, task_id: str, worker: str, lease_seconds: float) -> int | None:
    """Claim this one task (a broker delivered it) under a new attempt; None when it is not queued
    any more (claimed through another delivery, cancelled, finished) or its tenant is at its
    concurrency limit. Redelivery is therefore harmless: only one delivery wins the compare-and-swap."""
    row = session.execute(
        select(TaskRow.attempt, TaskRow.tenant).where(
            TaskRow.id == task_id, TaskRow.state == TaskState.QUEUED.value
        )
    ).first()
    if row is None or row.tenant in _saturated_tenants(session):
        return None
    if not _take(session, task_id=task_id, attempt=row.attempt, worker=worker, lease_seconds=lease_seconds):
        return None
    return int(row.attempt) + 1


@dataclass(frozen=True)
class Queued:
    """What a broker message needs to route a queued task: its queue (model) and priority."""

    id: str
    model: str
    attempt: int
    priority: int
    off_peak: bool


def queued(session: Session, *, task_ids: Sequence[str]) -> list[Queued]:
    """These tasks, those of them still queued."""
    rows = session.execute(
        select(TaskRow.id, TaskRow.model, TaskRow.attempt, TaskRow.priority, TaskRow.off_peak).where(
            TaskRow.id.in_(list(task_ids)), TaskRow.state == TaskState.QUEUED.value
        )
    ).all()
    return [Queued(r.id, r.model, r.attempt, r.priority, r.off_peak) for r in rows]


def queued_by_model(session: Session, *, older_than: datetime) -> dict[str, tuple[int, int]]:
    """Per model with a task queued since before ``older_than``: (queued tasks, of them that old)."""
    stale = func.sum(case((TaskRow.updated_at < older_than, 1), else_=0))
    rows = session.execute(
        select(TaskRow.model, func.count(), stale)
        .where(TaskRow.state == TaskState.QUEUED.value)
        .group_by(TaskRow.model)
    ).all()
    return {str(m): (int(n), int(s or 0)) for m, n, s in rows if s}


def take_unsent(
    session: Session, *, older_than: datetime, models: Sequence[str] | None = None, limit: int = 200
) -> list[Queued]:
    """Queued tasks untouched since ``older_than`` (no worker claimed them: their message was lost with
    an API process or a broker restart, or still waits behind others), marked as sent again now.

    The mark is a compare-and-swap on ``updated_at``, so of several API servers sweeping at once one
    re-sends each task.
    """
    rows = session.execute(
        select(
            TaskRow.id, TaskRow.model, TaskRow.attempt, TaskRow.priority, TaskRow.off_peak, TaskRow.updated_at
        )
        .where(
            TaskRow.state == TaskState.QUEUED.value,
            TaskRow.updated_at < older_than,
            *([TaskRow.model.in_(list(models))] if models is not None else []),
        )
        .order_by(TaskRow.created_at.asc())
        .limit(limit)
    ).all()
    now = utcnow()
    taken: list[Queued] = []
    for r in rows:
        res = session.execute(
            update(TaskRow)
            .where(
                TaskRow.id == r.id,
                TaskRow.state == TaskState.QUEUED.value,
                TaskRow.attempt == r.attempt,
                TaskRow.updated_at == r.updated_at,
            )
            .values(updated_at=now)
        )
        if rows_matched(res) == 1:
            taken.append(Queued(r.id, r.model, r.attempt, r.priority, r.off_peak))
    return taken
