"""Engine registry: catalog engine names -> engine instances, built lazily and kept loaded.

Engines are found through the ``framecast.engines`` entry-point group, the built-in
one included (datasette's habit: built-ins register exactly like third-party
plugins), so a package that ships an engine only declares it in its metadata.
Kinds are read from the class attribute ``task_kinds`` without instantiating, and
engine modules import heavy libraries (torch, diffusers) lazily, so the API
process can check a request against an engine it will never load itself.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from framecast.domain import ErrorCode, TaskKind
from framecast.engines.base import Capabilities, Engine
from framecast.errors import ClientError

GROUP = "framecast.engines"
# used when the package metadata is missing (running from a source tree without an install)
_FALLBACK = {"builtin": "framecast.engines.builtin:BuiltinEngine"}


def _targets(extra: Mapping[str, str]) -> dict[str, str]:
    found = {ep.name: ep.value for ep in entry_points(group=GROUP)}
    return {**_FALLBACK, **found, **extra}


def _load_class(target: str) -> type[Any]:
    module_name, _, cls_name = target.partition(":")
    cls: type[Any] = getattr(importlib.import_module(module_name), cls_name)
    return cls


class EngineRegistry:
    """The engines one app (or one CLI run) can use.

    ``extra`` adds engines by ``module:Class`` to what the entry points declare, for this
    registry only (tests, embedding applications); an extra name replaces an installed one.
    """

    def __init__(self, extra: Mapping[str, str] | None = None) -> None:
        self._engines: dict[tuple[str, str], Engine] = {}
        self._lock = threading.Lock()
        self._targets = _targets(extra or {})

    def known(self, name: str) -> bool:
        return name in self._targets

    def names(self) -> list[str]:
        return sorted(self._targets)

    def capabilities(self, name: str, options: dict[str, Any] | None = None) -> Capabilities:
        target = self._targets.get(name)
        if target is None:
            raise ClientError(ErrorCode.MODEL_UNAVAILABLE, f"engine {name!r} is not installed")
        cls = _load_class(target)
        kinds: frozenset[TaskKind] | None = getattr(cls, "task_kinds", None)
        if kinds is not None:
            return Capabilities(kinds=frozenset(kinds), audio=bool(getattr(cls, "makes_audio", False)))
        return self.get(name, options).capabilities()

    def is_loaded(self, name: str, options: dict[str, Any] | None = None) -> bool:
        """Whether ``get`` would return at once (the engine was built and loaded in this process)."""
        return _cache_key(name, options or {}) in self._engines

    def get(self, name: str, options: dict[str, Any] | None = None) -> Engine:
        """The engine, built and loaded on first use (``load()`` when it has one) and kept."""
        options = options or {}
        cache_key = _cache_key(name, options)
        with self._lock:
            engine = self._engines.get(cache_key)
            if engine is None:
                target = self._targets.get(name)
                if target is None:
                    raise ClientError(ErrorCode.MODEL_UNAVAILABLE, f"engine {name!r} is not installed")
                cls = _load_class(target)
                engine = cls(**options) if options else cls()
                load = getattr(engine, "load", None)
                if callable(load):
                    load()
                self._engines[cache_key] = engine
            return engine


def _cache_key(name: str, options: dict[str, Any]) -> tuple[str, str]:
    return (name, repr(sorted(options.items())))
