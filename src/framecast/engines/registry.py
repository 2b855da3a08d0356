"""Engine registry: catalog engine names -> engine instances, built lazily and kept loaded.

Engines are found through the ``framecast.engines`` entry-point group, the built-in
one included (datasette's habit: built-ins register exactly like third-party
plugins), so a package that ships an engine only declares it in its metadata.
Kinds are read without instantiating: from the classmethod ``static_capabilities(options)`` when
the class has one (an engine whose kinds depend on the weights it is given), else from the class
attribute ``task_kinds`` (with ``max_frames``, ``max_short_side`` and ``needs_weights`` when set).
Engine modules import heavy libraries (torch, diffusers) lazily, so the API process can check a
request against an engine it will never load itself. An engine that needs weights may also have a
classmethod ``check_weights(options) -> str | None`` that looks only at the filesystem; a load that
failed in this process is remembered, and both make :meth:`EngineRegistry.unavailable` say why.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from framecast.config import Catalog, ModelSpec
from framecast.domain import ErrorCode, TaskKind
from framecast.engines.base import Capabilities, Engine
from framecast.errors import ClientError

log = logging.getLogger(__name__)

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
        self._failed: dict[tuple[str, str], str] = {}  # load failures, kept for the process's life

    def known(self, name: str) -> bool:
        return name in self._targets

    def names(self) -> list[str]:
        return sorted(self._targets)

    def capabilities(self, name: str, options: dict[str, Any] | None = None) -> Capabilities:
        target = self._targets.get(name)
        if target is None:
            raise ClientError(ErrorCode.MODEL_UNAVAILABLE, f"engine {name!r} is not installed")
        cls = _load_class(target)
        static = getattr(cls, "static_capabilities", None)
        if callable(static):
            caps: Capabilities = static(options or {})
            return caps
        kinds: frozenset[TaskKind] | None = getattr(cls, "task_kinds", None)
        if kinds is not None:
            default = Capabilities(kinds=frozenset())
            return Capabilities(
                kinds=frozenset(kinds),
                audio=bool(getattr(cls, "makes_audio", False)),
                max_frames=int(getattr(cls, "max_frames", default.max_frames)),
                max_short_side=int(getattr(cls, "max_short_side", default.max_short_side)),
                needs_weights=bool(getattr(cls, "needs_weights", False)),
            )
        return self.get(name, options).capabilities()

    def unavailable(self, name: str, options: dict[str, Any] | None = None) -> str | None:
        """Why a model on this engine cannot run here (its weights folder named), or None when it can.

        A load that failed in this process wins; otherwise an engine that needs weights is asked to look
        at the filesystem (``check_weights``), which loads nothing.
        """
        options = options or {}
        failed = self._failed.get(_cache_key(name, options))
        if failed is not None:
            return failed
        return self.check_weights(name, options)

    def check_weights(self, name: str, options: dict[str, Any] | None = None) -> str | None:
        """The engine's own filesystem check of its weights (None: found, or it needs none)."""
        target = self._targets.get(name)
        if target is None:
            return f"engine {name!r} is not installed"
        check = getattr(_load_class(target), "check_weights", None)
        if callable(check):
            reason: str | None = check(options or {})
            return reason
        return None

    def check_catalog(self, catalog: Catalog) -> None:
        """Refuse to start on a catalog whose options an installed engine rejects (an unknown key, a
        value of the wrong type, a switch set to something the engine does not have), so a typo is
        reported when the server starts, not when a task first reaches the model. Engines check their
        options with a classmethod ``check_options(options) -> str | None``; weights are not looked at
        here (a missing folder makes that model unavailable, not the server)."""
        problems = []
        for name in catalog.names():
            spec = catalog.require(name)
            target = self._targets.get(spec.engine)
            check = getattr(_load_class(target), "check_options", None) if target else None
            reason = check(spec.options) if callable(check) else None
            if reason:
                problems.append(f"model {name} ({spec.engine}): {reason}")
        if problems:
            raise RuntimeError("the catalog has invalid engine options: " + "; ".join(problems))

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
                failed = self._failed.get(cache_key)
                if failed is not None:
                    raise ClientError(ErrorCode.MODEL_UNAVAILABLE, f"the model could not be loaded: {failed}")
                cls = _load_class(target)
                try:
                    engine = cls(**options) if options else cls()
                    load = getattr(engine, "load", None)
                    if callable(load):
                        load()
                except Exception as exc:
                    reason = str(exc) or type(exc).__name__
                    self._failed[cache_key] = reason
                    log.error("engine %s could not be loaded: %s", name, reason)
                    raise ClientError(
                        ErrorCode.MODEL_UNAVAILABLE, f"the model could not be loaded: {reason}"
                    ) from exc
                self._engines[cache_key] = engine
            return engine


def _cache_key(name: str, options: dict[str, Any]) -> tuple[str, str]:
    return (name, repr(sorted(options.items())))


def describe_model(spec: ModelSpec, registry: EngineRegistry) -> dict[str, Any]:
    """One catalog model as `framecast models` (and ``GET /v1/models``) show it: its engine, whether that
    engine is installed, the kinds it can serve here, and for engines that need weights, where they were
    looked for and whether they were found. Looks only at metadata and the filesystem; loads nothing."""
    out: dict[str, Any] = {
        "name": spec.name,
        "engine": spec.engine,
        "installed": registry.known(spec.engine),
        "kinds": [],
        "needs_weights": False,
        "weights": None,
        "weights_found": None,
        "available": False,
        "reason": None,
    }
    if not out["installed"]:
        out["reason"] = f"engine {spec.engine!r} is not installed"
        return out
    caps = registry.capabilities(spec.engine, spec.options)
    out["kinds"] = sorted(k.value for k in caps.kinds)
    out["needs_weights"] = caps.needs_weights
    reason = registry.unavailable(spec.engine, spec.options)
    if caps.needs_weights:
        where = getattr(_load_class(registry._targets[spec.engine]), "weights_path", None)
        out["weights"] = where(spec.options) if callable(where) else spec.options.get("weights")
        out["weights_found"] = registry.check_weights(spec.engine, spec.options) is None
    out["available"] = reason is None
    out["reason"] = reason
    return out
