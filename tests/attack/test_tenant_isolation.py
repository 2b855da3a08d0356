"""Tenant isolation on every route of every dialect, read from the app's own route table.

A route added later is covered without editing this file: each path parameter must be one this
file knows how to fill (a task, video or upload id that tenant A owns, or a public name), or the
test fails and says which. For every route and method:

- tenant B, with A's ids, answers 404 (or, on routes without an id in the path, never shows A's
  task), and A's task is untouched afterwards;
- A itself gets neither 401 nor 404 on the same request, so the 404s above are about ownership
  and not a wrong id;
- a revoked key answers 401 on every route except the few public ones listed here.

Result files are bearer links instead: tampering with or outliving the signature answers 403.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from fastapi.testclient import TestClient
from starlette.routing import Route

import tests.dialects.test_baicai as baicai_tests
import tests.dialects.test_kling as kling_tests
import tests.dialects.test_newapi as newapi_tests
import tests.dialects.test_openai_videos as openai_tests
import tests.dialects.test_qianfan as qianfan_tests
import tests.dialects.test_vidu as vidu_tests
from framecast import metrics
from framecast.domain import TaskState
from framecast.service import TaskService
from framecast.store.keys import revoke_key
from tests.conftest import Api, image_bytes
from tests.dialects.contract import DialectContract, drive, principal_of

CONTRACTS: tuple[DialectContract, ...] = (
    vidu_tests.TestViduContract(),
    qianfan_tests.TestQianfanContract(),
    kling_tests.TestKlingContract(),
    baicai_tests.TestBaicaiContract(),
    newapi_tests.TestNewApiContract(),
    openai_tests.TestOpenAIContract(),
)
# path parameters that name something a tenant owns; anything else must be listed in PUBLIC_PARAMS
OWNED_PARAMS = {"task_id", "video_id", "upload_id"}
PUBLIC_PARAMS = {"model_id"}  # the catalog is the same for every tenant
# routes anyone may call without a key: health, the API description, signed result files
# "/" is the web console's page: a static client that asks for the key itself (framecast.console)
PUBLIC_ROUTES = {"/", "/healthz", "/-/engines", "/metrics", "/files/{key:path}"}
PUBLIC_PREFIXES = ("/docs", "/redoc", "/openapi.json")
KLING_EXTERNAL_ID = "tenant-a-order-1"
_PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")


class Owned:
    """What tenant A made: one succeeded task per dialect (ids as each dialect shows them) and an upload."""

    def __init__(self, api: Api, pair: list[str]) -> None:
        self.api = api
        self.public_ids: dict[str, str] = {}  # dialect name -> the id its clients use
        self.task_ids: dict[str, str] = {}  # dialect name -> framecast's id
        state = api.client.app.state  # type: ignore[attr-defined]
        for contract in CONTRACTS:
            body = contract.create_body(pair)
            if contract.dialect.name == "kling":
                body = {**body, "external_task_id": KLING_EXTERNAL_ID}
            resp = api.post(contract.create_path, body, scheme=contract.scheme)
            assert resp.status_code == 200, resp.text
            task_id, public_id = contract.ids(resp.json())
            drive(api, task_id, TaskState.SUCCEEDED)
            for key in (f"results/{task_id}/0.mp4", f"results/{task_id}/0.jpg"):
                path = Path(state.settings.blob_dir) / key
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"result bytes of tenant A")
            self.public_ids[contract.dialect.name] = public_id
            self.task_ids[contract.dialect.name] = task_id
        upload = api.client.post(
            "/v1/resources/upload",
            files={"file": ("a.png", image_bytes(320, 180, seed=3), "image/png")},
            headers=api.headers("Bearer"),
        )
        assert upload.status_code == 200, upload.text
        self.upload_url: str = upload.json()["data"]["fullPath"]
        self.upload_id = self.upload_url.rstrip("/").rsplit("/", 1)[-1]

    def contract_for(self, path: str) -> DialectContract | None:
        """The dialect that owns ``path`` (longest prefix); None for framecast's own routes."""
        best: tuple[int, DialectContract | None] = (0, None)
        for contract in CONTRACTS:
            for prefix in contract.dialect.prefixes:
                if path.startswith(prefix) and len(prefix) > best[0]:
                    best = (len(prefix), contract)
        return best[1]

    def fill(self, route: Route) -> str:
        contract = self.contract_for(route.path)
        name = contract.dialect.name if contract else "vidu"  # native routes take framecast's id
        values = {
            "task_id": self.public_ids[name],
            "video_id": self.public_ids[name],
            "upload_id": self.upload_id,
            "model_id": "viduq1",
        }

        def value(m: re.Match[str]) -> str:
            param = m.group(1)
            if param not in values:
                pytest.fail(
                    f"{route.path}: no value for {{{param}}}; say in tests/attack/test_tenant_isolation.py "
                    "whether it names something a tenant owns (OWNED_PARAMS) or not (PUBLIC_PARAMS)"
                )
            return values[param]

        return _PARAM.sub(value, route.path)

    def all_ids(self) -> set[str]:
        return {*self.public_ids.values(), *self.task_ids.values(), self.upload_id, KLING_EXTERNAL_ID}


def _routes(app: Any) -> list[tuple[Route, str]]:
    """Every (route, method) the app serves, DELETE last so the rest still find A's tasks."""
    pairs = [
        (r, m)
        for r in metrics.route_candidates(app.router.routes)  # included routers' routes too
        for m in sorted(getattr(r, "methods", None) or ())
        if m not in ("HEAD", "OPTIONS")
    ]
    return sorted(pairs, key=lambda p: (p[1] == "DELETE", p[0].path, p[1]))


def _params(route: Route) -> set[str]:
    return set(_PARAM.findall(route.path))


def _call(api: Api, method: str, url: str, **kw: Any) -> Any:
    headers = api.headers("Bearer")
    if method == "POST":
        return api.client.post(url, json={"prompt": "a cat", "id": ""}, headers=headers, **kw)
    return api.client.request(method, url, headers=headers, **kw)


@pytest.fixture
def owned(api: Api, pair: list[str]) -> Owned:
    return Owned(api, pair)


def _is_public(route: Route) -> bool:
    return route.path in PUBLIC_ROUTES or route.path.startswith(PUBLIC_PREFIXES)


def test_every_route_hides_another_tenants_tasks_and_uploads(owned: Owned) -> None:
    api = owned.api
    other = api.new_key()
    checked = 0
    for route, method in _routes(api.client.app):
        if _is_public(route):
            continue
        params = _params(route)
        url = owned.fill(route)  # fails on a parameter this file does not know
        if params & OWNED_PARAMS:
            resp = _call(other, method, url)
            assert resp.status_code == 404, (
                f"{method} {url} as another tenant: {resp.status_code} {resp.text}"
            )
        elif method == "GET":  # lists, and routes that take the id as a query parameter
            ids = ",".join(sorted(owned.all_ids()))
            query = {"task_id": owned.task_ids["qianfan"], "task_ids": ids, "id": ids}
            resp = _call(other, method, url, params=query)
            # a 404 may repeat the id the caller sent; anything else must not show A's ids
            leaked = [] if resp.status_code == 404 else sorted(i for i in owned.all_ids() if i in resp.text)
            assert not leaked, f"GET {url} as another tenant shows {leaked}: {resp.text}"
            if route.path == "/beta/video/generations/qianfan-video":
                assert resp.status_code == 404, resp.text
        else:
            continue  # creates: B making its own task is fine (uploads: see the next test)
        checked += 1
        # the owner, with the same request, is neither unauthorised nor told it does not exist
        if method != "DELETE" or params & OWNED_PARAMS:
            mine = _call(api, method, url)
            assert mine.status_code not in (401, 404), f"{method} {url} as the owner: {mine.text}"
    assert checked >= 20, checked  # the route table really was walked
    svc: TaskService = api.client.app.state.service  # type: ignore[attr-defined]
    for task_id in owned.task_ids.values():  # other tenants' calls changed nothing (only A's own DELETE)
        task = svc.get(principal_of(api), task_id) if task_id != owned.task_ids["openai"] else None
        assert task is None or task.state is TaskState.SUCCEEDED


def test_kling_external_id_and_baicai_upload_are_per_tenant(owned: Owned) -> None:
    other = owned.api.new_key()
    resp = other.get(f"/v1/videos/image2video/{KLING_EXTERNAL_ID}", scheme="Bearer")
    assert resp.status_code == 404, resp.text
    mine = owned.api.get(f"/v1/videos/image2video/{KLING_EXTERNAL_ID}", scheme="Bearer")
    assert mine.status_code == 200 and mine.json()["data"]["task_id"] == owned.task_ids["kling"]
    # B names A's upload as an input image: refused as not found, nothing created for B
    body = baicai_tests.flf(image=owned.upload_url)
    assert owned.api.post("/v1/videos/generations", body, scheme="Bearer").status_code == 200  # A may
    created = other.post("/v1/videos/generations", body, scheme="Bearer")
    assert created.status_code == 400 and "not found" in created.json()["message"], created.text
    svc: TaskService = owned.api.client.app.state.service  # type: ignore[attr-defined]
    assert svc.list(principal_of(other)) == []


def test_a_revoked_key_is_401_on_every_route(owned: Owned) -> None:
    api = owned.api
    revoked = api.new_key(tenant=api.tenant)  # A's own tenant: only the revocation stands in the way
    with api.client.app.state.db.session() as s:  # type: ignore[attr-defined]
        assert revoke_key(s, key_id=principal_of(revoked).key_id)
    seen = 0
    for route, method in _routes(api.client.app):
        if _is_public(route):
            continue
        url = owned.fill(route)
        resp = _call(revoked, method, url)
        assert resp.status_code == 401, f"{method} {url} with a revoked key: {resp.status_code} {resp.text}"
        seen += 1
    assert seen >= 25, seen


def _file_links(owned: Owned) -> list[str]:
    body = owned.api.get(f"/v1/tasks/{owned.task_ids['vidu']}").json()
    links = [u for u in _strings(body) if "/files/" in u and "sig=" in u]
    assert links, body
    return links


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)


def _tamper(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return parts._replace(query="&".join(f"{k}={v}" for k, v in query.items())).geturl()


def test_file_links_refuse_tampering_and_expiry(owned: Owned, clock: time_machine.Coordinates) -> None:
    client: TestClient = owned.api.client
    for link in _file_links(owned):
        path = urlsplit(link)._replace(scheme="", netloc="").geturl()
        assert client.get(path).content == b"result bytes of tenant A"
        sig = parse_qs(urlsplit(path).query)["sig"][0]
        flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")
        for bad in (
            _tamper(path, sig=flipped),
            _tamper(path, expires=str(int(parse_qs(urlsplit(path).query)["expires"][0]) + 3600)),
            path.replace(owned.task_ids["vidu"], owned.task_ids["kling"]),  # another task's file, same sig
        ):
            resp = client.get(bad)
            assert resp.status_code == 403 and resp.json()["error"]["code"] == "forbidden", (bad, resp.text)
        clock.shift(timedelta(seconds=client.app.state.settings.url_ttl_seconds + 60))  # type: ignore[attr-defined]
        expired = client.get(path)
        assert expired.status_code == 403, expired.text
        clock.shift(-timedelta(seconds=client.app.state.settings.url_ttl_seconds + 60))  # type: ignore[attr-defined]
