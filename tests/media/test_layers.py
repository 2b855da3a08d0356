"""media sits below engines: it reads frames from framecast.frames and never imports an engine module."""

from __future__ import annotations

import ast
from pathlib import Path

import framecast

MEDIA = Path(framecast.__file__).parent / "media"


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_media_never_imports_engines() -> None:
    offenders = {
        f"{path.name}: {name}"
        for path in sorted(MEDIA.glob("*.py"))
        for name in imported_modules(path)
        if name == "framecast.engines" or name.startswith("framecast.engines.")
    }
    assert not offenders, offenders


def test_engines_base_still_exports_frame() -> None:
    from framecast.engines.base import Frame as OldHome
    from framecast.frames import Frame

    assert OldHome is Frame
