"""What every dialect must do, written once (diffusers' ``PipelineTesterMixin`` habit).

A dialect's test class inherits :class:`DialectContract` and supplies only how to create a
task, how to query it and how its error envelope looks; the contract then checks, in that
dialect's own words: 401 without a key, 404 for another tenant's task, an unknown route,
malformed JSON, the 413 body limit, that a refused create stores nothing, the query of every
state, and the body a callback sends.

Also the two checks every dialect's tests share: :func:`assert_error` and
:func:`assert_nothing_stored`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from framecast.dialects.dialect import Dialect, DialectTable
from framecast.domain import ErrorCode, Principal, TaskError, TaskState
from framecast.service import TaskService
from framecast.store import tasks as task_store
from framecast.store.keys import authenticate
from framecast.store.tables import CreationRow
from tests.conftest import Api

# how one dialect's error envelope looks: checks the body's shape, returns the word for what went wrong
Envelope = Callable[[dict[str, Any], int], object]


def assert_error(resp: Any, status: int, code: object, envelope: Envelope) -> dict[str, Any]:
    """``resp`` is an error with ``status``, in the dialect's ``envelope``, saying ``code``."""
    assert resp.status_code == status, resp.text
    body: dict[str, Any] = resp.json()
    assert envelope(body, status) == code, body
    return body


def error_asserter(envelope: Envelope) -> Callable[[Any, int, object], dict[str, Any]]:
    """``assert_error`` bound to one dialect's envelope."""

    def check(resp: Any, status: int, code: object) -> dict[str, Any]:
        return assert_error(resp, status, code, envelope)

    return check


def _app_state(api: Api) -> Any:
    return api.client.app.state  # type: ignore[attr-defined]


def principal_of(api: Api) -> Principal:
    with _app_state(api).db.session() as s:
        principal = authenticate(s, token=api.token)
    assert principal is not None
    return principal


def assert_nothing_stored(api: Api) -> None:
    """After a refused create: no task for the caller and no input blob on disk."""
    svc: TaskService = _app_state(api).service
    assert svc.list(principal_of(api)) == []
    inputs = Path(_app_state(api).settings.blob_dir) / "inputs"
    assert not inputs.exists() or not any(inputs.rglob("*.*"))


def drive(api: Api, task_id: str, state: TaskState) -> None:
    """Move a queued task to ``state`` through the store calls a worker makes (no engine runs)."""
    db = _app_state(api).db
    if state is TaskState.QUEUED:
        return
    if state is TaskState.CANCELLED:
        _app_state(api).service.cancel(principal_of(api), task_id)
        return
    with db.session() as s:
        claimed = task_store.claim_next(s, worker="contract", lease_seconds=60.0)
    assert claimed is not None and claimed[0] == task_id, claimed
    attempt = claimed[1]
    with db.session() as s:
        if state is TaskState.SUCCEEDED:
            assert task_store.finish_success(s, task_id=task_id, attempt=attempt, creations=[])
            # one result row, added beside the commit so this does not depend on how the store takes results
            s.add(
                CreationRow(
                    id=f"{task_id}-0",
                    task_id=task_id,
                    index=0,
                    attempt=attempt,
                    video_key=f"results/{task_id}/0.mp4",
                    cover_key=f"results/{task_id}/0.jpg",
                    width=320,
                    height=180,
                    fps=8,
                    frames=16,
                    duration=2.0,
                    seed=7,
                )
            )
        elif state is TaskState.FAILED:
            failure = TaskError(code=ErrorCode.INTERNAL, message="the engine stopped")
            assert task_store.finish_failure(
                s, task_id=task_id, attempt=attempt, state=TaskState.FAILED, error=failure
            )


@dataclass(frozen=True)
class ErrorWords:
    """The envelope's word a dialect answers in each situation the contract checks.

    The HTTP statuses are every dialect's: 401 without a valid key, 404 for a task the caller
    cannot see and for an unknown route, 400 for malformed JSON; only an over-large body differs
    (413, or 400 where the vendor documents no 413).
    """

    no_key: object
    not_found: object  # a task id the caller cannot see
    no_route: object
    bad_json: object
    too_large: object
    wrong_key: object = None  # when it differs from no_key
    too_large_status: int = 413

    def expected(self, situation: str) -> tuple[int, object]:
        """(HTTP status, word) for ``situation``, one of the field names above."""
        if situation == "wrong_key" and self.wrong_key is None:
            situation = "no_key"
        status = {"no_key": 401, "wrong_key": 401, "not_found": 404, "no_route": 404, "bad_json": 400}
        return status.get(situation, self.too_large_status), getattr(self, situation)


@dataclass(frozen=True)
class StateWords:
    """What a dialect's query says for each canonical state."""

    queued: str
    running: str
    succeeded: str
    failed: str
    cancelled: str

    def __getitem__(self, state: TaskState) -> str:
        word: str = getattr(self, state.value)
        return word


def dig(body: Any, path: str) -> Any:
    """The value at a dotted ``path`` ("data.0.status"); a ``*`` segment maps the rest over a list."""
    head, _, rest = path.partition(".")
    if head == "*":
        return [dig(item, rest) for item in body] if rest else list(body)
    value = body[int(head)] if head.isdigit() else body[head]
    return dig(value, rest) if rest else value


class DialectContract:
    """Mixin for ``Test<Dialect>Contract`` classes; pytest collects the ``test_`` methods below.

    A dialect declares where things are in its bodies (dotted paths for :func:`dig`) and
    overrides a method only where its shape is not a plain path.
    """

    dialect: ClassVar[Dialect]
    create_path: ClassVar[str]
    query_path: ClassVar[str]  # where a task is queried; ``{id}`` stands for its public id
    id_at: ClassVar[str]  # the public task id in a create answer
    id_prefix: ClassVar[str] = ""  # what the public id adds before framecast's task id ("video_")
    state_at: ClassVar[str]  # the state word in a query answer
    urls_at: ClassVar[str | None] = None  # the result URLs in a query answer; None: served elsewhere
    errors: ClassVar[ErrorWords]
    states: ClassVar[StateWords]
    scheme: ClassVar[str] = "Bearer"

    # --- what a dialect supplies ---------------------------------------------------------------------

    @staticmethod
    def envelope(body: dict[str, Any], status: int) -> object:
        """Check an error body's shape; return its word for what went wrong."""
        raise NotImplementedError

    def create_body(self, pair: list[str]) -> dict[str, Any]:
        raise NotImplementedError

    def ids(self, created: dict[str, Any]) -> tuple[str, str]:
        """(framecast's task id, the id this dialect's clients use) from a create answer."""
        public_id = str(dig(created, self.id_at))
        return public_id.removeprefix(self.id_prefix), public_id

    def query_url(self, public_id: str) -> str:
        return self.query_path.format(id=public_id)

    def read(self, api: Api, public_id: str) -> dict[str, Any]:
        """A successful query's body (two calls for dialects that split status and result)."""
        resp = self.query(api, public_id)
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        return body

    def state_of(self, body: dict[str, Any]) -> str:
        return str(dig(body, self.state_at))

    def urls_of(self, body: dict[str, Any]) -> list[str] | None:
        """The result URLs a query shows; None for a dialect that serves results by another route."""
        return None if self.urls_at is None else list(dig(body, self.urls_at))

    def callback_as_query(self, body: dict[str, Any]) -> dict[str, Any]:
        """A callback body seen as a query answer (most dialects send exactly that)."""
        return body

    # --- helpers -------------------------------------------------------------------------------------

    def query(self, api: Api, public_id: str) -> Any:
        return api.get(self.query_url(public_id), scheme=self.scheme)

    def expect(self, resp: Any, situation: str) -> dict[str, Any]:
        status, code = self.errors.expected(situation)
        return assert_error(resp, status, code, self.envelope)

    def create(self, api: Api, pair: list[str]) -> tuple[str, str]:
        resp = api.post(self.create_path, self.create_body(pair), scheme=self.scheme)
        assert resp.status_code == 200, resp.text
        return self.ids(resp.json())

    # --- the contract --------------------------------------------------------------------------------

    def test_contract_no_key_is_401_and_stores_nothing(self, api: Api, pair: list[str]) -> None:
        self.expect(api.client.post(self.create_path, json=self.create_body(pair)), "no_key")
        wrong = {"Authorization": f"{self.scheme} fc-nope"}
        self.expect(
            api.client.post(self.create_path, json=self.create_body(pair), headers=wrong), "wrong_key"
        )
        assert_nothing_stored(api)
        _, public_id = self.create(api, pair)
        self.expect(api.client.get(self.query_url(public_id)), "no_key")

    def test_contract_other_tenants_task_is_404(self, api: Api, pair: list[str]) -> None:
        _, public_id = self.create(api, pair)
        self.expect(self.query(api.new_key(), public_id), "not_found")
        self.expect(self.query(api, "123456789"), "not_found")
        # another key of the same tenant sees it
        assert self.query(api.new_key(tenant=api.tenant), public_id).status_code == 200

    def test_contract_unknown_route_in_the_dialects_envelope(self, api: Api) -> None:
        # under the dialect's first prefix, two segments deeper than any of its routes reach
        unknown_route = f"{self.dialect.prefixes[0]}/no/such-route"
        self.expect(api.get(unknown_route, scheme=self.scheme), "no_route")

    def test_contract_malformed_json_stores_nothing(self, api: Api) -> None:
        headers = {**api.headers(self.scheme), "content-type": "application/json"}
        self.expect(api.client.post(self.create_path, content=b"{nope", headers=headers), "bad_json")
        assert_nothing_stored(api)

    def test_contract_body_limit(self, make_api: Callable[..., Api], pair: list[str]) -> None:
        api = make_api(max_body_bytes=1024 * 1024)
        body = self.create_body(pair)
        big = {**body, "prompt": "x" * (1024 * 1024 + 1)}
        self.expect(api.post(self.create_path, big, scheme=self.scheme), "too_large")
        assert_nothing_stored(api)
        # the same body without the padding is fine
        assert api.post(self.create_path, body, scheme=self.scheme).status_code == 200

    @pytest.mark.parametrize("state", list(TaskState))
    def test_contract_query_and_callback_of_every_state(
        self, api: Api, pair: list[str], state: TaskState
    ) -> None:
        task_id, public_id = self.create(api, pair)
        drive(api, task_id, state)
        body = self.read(api, public_id)
        assert self.state_of(body) == self.states[state], body
        urls = self.urls_of(body)
        if urls is not None:
            # result links exist once a task has succeeded, and only then
            assert bool(urls) == (state is TaskState.SUCCEEDED), urls
            assert all("/files/results/" in u and "sig=" in u for u in urls), urls

        table: DialectTable = _app_state(api).dialects
        renderer = table.callbacks.get(self.dialect.name)
        if renderer is None:
            assert not self.dialect.accepts_callbacks
            return
        task = _app_state(api).service.get(principal_of(api), task_id)
        sent = self.callback_as_query(renderer(task, _app_state(api).callbacks.links))
        assert self.state_of(sent) == self.states[state], sent
        if urls is not None:
            assert len(self.urls_of(sent) or []) == len(urls)
