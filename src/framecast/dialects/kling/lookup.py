"""Find a task by the client's ``external_task_id`` (Kling lets either id address a task).

The id is stored in its own column, unique per tenant and indexed by that constraint,
so a lookup is one indexed read and two creates racing for one id cannot both win.
"""

from __future__ import annotations

from framecast.dialects.common import read_one
from framecast.domain import Principal, Task
from framecast.errors import NotFoundError
from framecast.service import TaskService


async def resolve(svc: TaskService, principal: Principal, task_id: str) -> Task:
    """The task named by framecast's id or, failing that, by the client's external_task_id."""
    try:
        return await svc.poll(principal, task_id)
    except NotFoundError:
        task = await read_one(svc, svc.find_external, principal, task_id)
        if task is None:
            raise
        return task
