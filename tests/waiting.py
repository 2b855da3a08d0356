"""Waiting on conditions with a deadline: the one way tests wait (never a fixed sleep)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout: float, what: str = "condition", poll: float = 0.05) -> T:
    """Call ``condition`` until it returns something truthy, and return that; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last: {value!r})")
        time.sleep(poll)


async def settle(steps: int = 5) -> None:
    """Let every task started on the running loop so far run up to where it waits: the loop's own steps,
    not a time, so it holds on a busy machine too."""
    for _ in range(steps):
        await asyncio.sleep(0)
