"""``TaskService.list`` answers only the caller's tasks, whatever the query names."""

from __future__ import annotations

from framecast.domain import Principal
from framecast.service import TaskQuery, TaskService
from framecast.store.keys import authenticate
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


def _create(api: Api, pair: list[str]) -> str:
    resp = api.post("/ent/v2/start-end2video", {"model": "viduq3-pro", "images": pair})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["task_id"])


def _page(api: Api, query: str) -> tuple[list[str], str]:
    resp = api.get(f"/ent/v2/tasks?{query}")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    return [t["id"] for t in body["tasks"]], body["next_page_token"]


def test_numbered_pages_are_the_slices_of_the_whole_list(api: Api, pair: list[str]) -> None:
    created = [_create(api, pair) for _ in range(12)]
    everything, _ = _page(api, "pager.pagesz=100")
    assert everything == created[::-1]  # newest first
    for page in range(3):
        ids, _ = _page(api, f"pager.page={page}&pager.pagesz=5")
        assert ids == everything[page * 5 : page * 5 + 5]
    assert _page(api, "pager.page=3&pager.pagesz=5")[0] == []  # past the end: empty, not an error
    # the seek keeps to the filter: page 1 of the finished tasks is not page 1 of all tasks
    assert _page(api, "pager.page=1&pager.pagesz=5&states=success")[0] == []


def test_a_task_created_while_paging_by_token_does_not_shift_the_pages(api: Api, pair: list[str]) -> None:
    created = [_create(api, pair) for _ in range(6)][::-1]
    first, token = _page(api, "pager.pagesz=3")
    assert first == created[:3] and token
    newcomer = _create(api, pair)
    second, token = _page(api, f"pager.pagesz=3&pager.page_token={token}")
    assert second == created[3:]  # neither the newcomer nor a repeat of page one's last task
    assert token == ""
    assert _page(api, "pager.pagesz=3")[0] == [newcomer, *created[:2]]  # a fresh first page shows it
