"""``TaskService.list`` answers only the caller's tasks, whatever the query names."""

from __future__ import annotations

from framecast.service import TaskQuery, TaskService
from framecast.store.keys import Principal, authenticate
from tests.conftest import Api


def _principal(api: Api) -> Principal:
    with api.client.app.state.db.session() as s:  # type: ignore[attr-defined]
        principal = authenticate(s, token=api.token)
    assert principal is not None
    return principal


def test_list_keeps_to_the_callers_tenant(api: Api, pair: list[str]) -> None:
    other = api.new_key()
    mine = api.post("/ent/v2/start-end2video", {"model": "viduq3-pro", "images": pair}).json()["task_id"]
    theirs = other.post("/ent/v2/start-end2video", {"model": "viduq3-pro", "images": pair}).json()["task_id"]
    svc: TaskService = api.client.app.state.service  # type: ignore[attr-defined]
    assert [t.id for t in svc.list(_principal(api))] == [mine]
    # naming the other tenant's id does not reach it
    assert svc.list(_principal(api), TaskQuery(task_ids=[theirs])) == []
    assert [t.id for t in svc.list(_principal(other), TaskQuery(task_ids=[mine, theirs]))] == [theirs]
