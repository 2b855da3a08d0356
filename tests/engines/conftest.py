"""Fixtures for the engine tests: tiny diffusers pipelines, built once per session and saved to disk."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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
