"""Fixtures for the engine tests: tiny diffusers pipelines, built once per session and saved to disk."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``tiny_weights(family)``: the folder of that family's tiny pipeline, saved with save_pretrained
    on first use (tests/engines/tiny.py); families no test asks for are never built."""
    pytest.importorskip("diffusers")
    from tests.engines import tiny

    saved: dict[str, Path] = {}

    def get(family: str) -> Path:
        if family not in saved:
            saved[family] = tiny.save(family, tmp_path_factory.mktemp(family))
        return saved[family]

    return get


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every pipeline call's class name and keyword arguments (the real call still runs)."""
    import diffusers

    seen: list[tuple[str, dict[str, Any]]] = []
    for name in ("WanImageToVideoPipeline", "WanPipeline", "WanVACEPipeline", "LTXConditionPipeline"):
        cls = getattr(diffusers, name)
        original = cls.__call__

        def wrapper(self: Any, *args: Any, _original: Any = original, **kw: Any) -> Any:
            seen.append((type(self).__name__, kw))
            return _original(self, *args, **kw)

        monkeypatch.setattr(cls, "__call__", wrapper)
    yield seen
