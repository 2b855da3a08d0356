"""Find a task by the client's ``external_task_id`` (Kling lets either id address a task).

The id lives in the task's echo, which the store does not index, so this scans
the tenant's tasks newest first. That is fine for self-hosted volumes; an
indexed column is the fix if a tenant ever holds very many tasks.
"""

from __future__ import annotations

from framecast.domain import ErrorCode, Task
from framecast.errors import ClientError, NotFoundError
from framecast.service import TaskService
from framecast.store.keys import Principal

PAGE = 200


def find_external(svc: TaskService, principal: Principal, external_id: str) -> Task | None:
    offset = 0
    while True:
        batch = svc.list(principal, offset=offset, limit=PAGE)
        for task in batch:
            if task.echo.get("external_task_id") == external_id:
                return task
        if len(batch) < PAGE:
            return None
        offset += PAGE


def resolve(svc: TaskService, principal: Principal, task_id: str) -> Task:
    """The task named by framecast's id or, failing that, by the client's external_task_id."""
    try:
        return svc.get(principal, task_id)
    except NotFoundError:
        task = find_external(svc, principal, task_id)
        if task is None:
            raise
        return task


def ensure_unique(svc: TaskService, principal: Principal, external_id: str) -> None:
    # Kling requires external_task_id to be unique per user; a duplicate would make lookups ambiguous
    if find_external(svc, principal, external_id) is not None:
        raise ClientError(
            ErrorCode.CONFLICT,
            f"external_task_id {external_id!r} is already used by another task",
            param="external_task_id",
        )
