"""Find a task by the client's ``external_task_id`` (Kling lets either id address a task).

The id is stored in its own column, unique per tenant and indexed by that constraint,
so a lookup is one indexed read and two creates racing for one id cannot both win.
"""

from __future__ import annotations

from framecast.dialects.common import read_one
from framecast.dialects.deps import Caller
from framecast.domain import Task
from framecast.errors import NotFoundError


async def resolve(caller: Caller, task_id: str) -> Task:
    """The task named by framecast's id or, failing that, by the client's external_task_id."""
    try:
        return await caller.poll(task_id)
    except NotFoundError:
        task = await read_one(caller.svc, caller.svc.find_external, caller.principal, task_id)
        if task is None:
            raise
        return task
