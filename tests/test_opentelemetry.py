"""FastAPI's native OpenTelemetry: off unless FRAMECAST_OPENTELEMETRY asks for it (docs/configuration.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry import trace

from tests.conftest import Api


class RecordingTracer(trace.NoOpTracer):
    def __init__(self, paths: list[str]) -> None:
        self.paths = paths

    def start_span(self, name: str, *args: Any, **kwargs: Any) -> trace.Span:
        if kwargs.get("kind") == trace.SpanKind.SERVER:
            self.paths.append(kwargs["attributes"]["url.path"])
        return super().start_span(name, *args, **kwargs)


class RecordingProvider(trace.TracerProvider):
    """A tracer provider a process has configured (not one of the API's deferred or no-op ones)."""

    def __init__(self) -> None:
        self.spans: list[str] = []  # the path of each request's server span

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return RecordingTracer(self.spans)


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> RecordingProvider:
    configured = RecordingProvider()
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: configured)
    return configured


def _poll_and_list_models(api: Api) -> None:
    assert api.get("/ent/v2/tasks/nope/creations").status_code == 404  # answered by the poll fast path
    assert api.get("/v1/models", scheme="Bearer").status_code == 200


def test_requests_are_not_traced_by_default(provider: RecordingProvider, api: Api) -> None:
    _poll_and_list_models(api)
    assert provider.spans == []


def test_requests_are_traced_when_asked(provider: RecordingProvider, make_api: Callable[..., Api]) -> None:
    api = make_api(opentelemetry=True)
    _poll_and_list_models(api)
    assert provider.spans == ["/ent/v2/tasks/nope/creations", "/v1/models"]
