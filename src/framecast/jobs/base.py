"""The JobRunner protocol every way of running tasks implements."""

from __future__ import annotations

from typing import Protocol


class JobRunner(Protocol):
    def start(self) -> None: ...

    def stop(self, timeout: float = 10.0) -> None: ...

    def wake(self) -> None:
        """New work was queued: look now rather than at the next poll."""
        ...

    def healthy(self) -> bool: ...
