"""schemathesis against the service's own OpenAPI document, in-process: no 5xx, and every answer is one
the document describes (status code, content type and body schema). Bounded here; bench/fuzz_api.py
runs :func:`fuzz` with many more examples per operation."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from framecast.app import create_app
from framecast.store.keys import create_key
from tests.conftest import make_settings

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@dataclass
class Report:
    """One operation's run: how many calls, which statuses came back, and the failure if any."""

    calls: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failure: str = ""


@contextmanager
def served(data_dir: Path) -> Iterator[tuple[Any, str]]:
    """The app's schema, its lifespan run by schemathesis' ASGI client, and a key to call it with."""
    app = create_app(make_settings(data_dir))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)  # starts the lifespan: migrations run
    with app.state.db.session() as s:
        _, token = create_key(s, name="fuzz")
    try:
        yield schema, token
    finally:
        asgi.shutdown_lifespans()


def fuzz(schema: Any, token: str, examples: int) -> dict[str, Report]:
    """``examples`` generated requests (valid and invalid) per operation, every answer checked."""
    reports: dict[str, Report] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        reports[operation.label] = _run(operation, {"Authorization": f"Bearer {token}"}, examples)
    return reports


def _run(operation: Any, headers: dict[str, str], examples: int) -> Report:
    report = Report()

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=operation.as_strategy())
    def check(case: schemathesis.Case) -> None:
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        report.calls += 1
        report.statuses[response.status_code] += 1

    try:
        check()
    except (Exception, BaseExceptionGroup) as exc:  # one operation's failure must not hide another's
        report.failure = str(exc)[:2000]
    return report


def test_every_operation_answers_as_documented(tmp_path: Path) -> None:
    with served(tmp_path) as (schema, token):
        reports = fuzz(schema, token, examples=3)
    assert len(reports) >= 30, sorted(reports)
    failures = {label: r.failure for label, r in reports.items() if r.failure}
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
    statuses = sum((r.statuses for r in reports.values()), Counter[int]())
    assert statuses[200] and statuses[400] and statuses[404], (
        statuses
    )  # accepted, refused and missing all seen
