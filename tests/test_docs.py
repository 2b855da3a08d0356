"""The docs are part of the product: every setting, route and CLI command is documented."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
from fastapi.routing import APIRoute
from PIL import Image
from typer.main import get_command

from framecast.app import create_app
from framecast.cli import app as cli_app
from framecast.config import Settings
from framecast.domain import GenerationRequest, ImageRef, ImageRole, TaskKind
from framecast.jobs.runner import job_from_bytes
from tests.conftest import make_settings

DOCS = Path(__file__).resolve().parent.parent / "docs"


def all_docs() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in DOCS.rglob("*.md"))


def doc_files() -> list[Path]:
    """README.md and every page under docs/."""
    return [DOCS.parent / "README.md", *sorted(DOCS.rglob("*.md"))]


def test_examples_use_the_port_the_server_runs_on() -> None:
    default = Settings.model_fields["port"].default
    wrong = [
        f"{p.relative_to(DOCS.parent)}: {m.group(0)}"
        for p in doc_files()
        for m in re.finditer(
            r"(?:localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\]):(\d+)", p.read_text(encoding="utf-8")
        )
        if int(m.group(1)) != default
    ]
    assert not wrong, f"examples must use the server's default port {default}: {wrong}"


def test_every_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    missing = [name for name in Settings.model_fields if f"FRAMECAST_{name.upper()}" not in text]
    assert not missing, f"settings missing from docs/configuration.md: {missing}"


def test_every_route_is_documented(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))
    text = all_docs()
    # a documented route may spell path parameters its own way ({id}, {task_id}, <id> ...)
    normalised = re.sub(r"\{[^}]*\}|<[^>]*>|:[a-z_]+", "{}", text)
    missing = []
    for route in app.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        path = re.sub(r"\{[^}]*\}", "{}", route.path)
        if path not in normalised:
            missing.append(route.path)
    assert not missing, f"routes missing from docs/: {missing}"


def test_every_cli_command_is_documented() -> None:
    text = all_docs() + (DOCS.parent / "README.md").read_text(encoding="utf-8")
    group = get_command(cli_app)
    missing = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        if subcommands:
            missing += [f"{name} {sub}" for sub in subcommands if f"framecast {name} {sub}" not in text]
        elif f"framecast {name}" not in text:
            missing.append(name)
    assert not missing, f"CLI commands missing from the docs: {missing}"


def test_openai_docs_say_how_an_input_reference_is_fitted_to_size() -> None:
    """docs/api/openai.md: an image whose aspect differs from `size` is centre-cropped, not letterboxed."""
    text = (DOCS / "api" / "openai.md").read_text(encoding="utf-8")
    assert "letterbox" not in text.lower()
    assert "centre-cropped to the aspect of `size`" in text
    # and that is what the runner does: a 16:9 picture (red | green | blue thirds) for a portrait size
    # keeps its green middle, with no black bars
    wide = np.zeros((360, 640, 3), dtype=np.uint8)
    wide[:, :213], wide[:, 213:427], wide[:, 427:] = (255, 0, 0), (0, 255, 0), (0, 0, 255)
    buf = io.BytesIO()
    Image.fromarray(wide).save(buf, format="PNG")
    req = GenerationRequest(
        kind=TaskKind.IMAGE,
        model="sora-2",
        images=[ImageRef(role=ImageRole.FIRST, source="first.png")],
        size=(180, 320),
        frames=2,
    )
    first = job_from_bytes(req, buf.getvalue(), None, {}).first
    assert first is not None and first.shape == (320, 180, 3)
    assert (first[:, :, 1] > 200).all() and (first[:, :, [0, 2]] < 60).all()
