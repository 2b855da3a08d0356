"""The docs are part of the product: every setting, route and CLI command is documented."""

from __future__ import annotations

import io
import json
import re
import subprocess
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
from PIL import Image
from typer.main import get_command

from framecast.app import create_app
from framecast.cli import app as cli_app
from framecast.config import Settings
from framecast.domain import GenerationRequest, ImageRef, ImageRole, TaskKind
from framecast.engines.builtin import BuiltinEngine
from framecast.engines.ltx import LtxEngine
from framecast.engines.wan import WanEngine
from framecast.jobs.runner import job_from_bytes
from framecast.metrics import route_candidates
from tests.conftest import make_settings
from tests.e2e.test_restart import BIN, Server

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


def _expand_alternatives(text: str) -> str:
    alternation = re.compile(r"`([^`]*?)\{([\w-]+(?:\\\|[\w-]+)+)\}([^`]*)`")

    def expand(m: re.Match[str]) -> str:
        return " ".join(f"`{m[1]}{alt}{m[3]}`" for alt in m[2].split("\\|"))

    while True:
        expanded = alternation.sub(expand, text)
        if expanded == text:
            return text
        text = expanded


def test_every_route_is_documented(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))
    text = all_docs()
    # a documented route may spell path parameters its own way ({id}, {task_id}, <id> ...)
    # and may list sibling routes as one: /v1/videos/{image2video\|omni-video}/{task_id}
    text = _expand_alternatives(text)
    normalised = re.sub(r"\{[^}]*\}|<[^>]*>|:[a-z_]+", "{}", text)
    missing = []
    checked = 0
    # included routers are resolved lazily: walk their effective routes, not only the top level
    for route in route_candidates(app.router.routes):
        # an included router's routes come as contexts that carry the same path and schema flag
        if not getattr(route, "include_in_schema", False) or not getattr(route, "methods", None):
            continue
        checked += 1
        path = re.sub(r"\{[^}]*\}", "{}", route.path)
        if path not in normalised:
            missing.append(route.path)
    assert checked > 30, f"only {checked} routes found: the walk misses the dialects' routers"
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


# --- the README ---------------------------------------------------------------------------------

README = DOCS.parent / "README.md"
PHOTOS = Path(__file__).resolve().parent / "data"
DEFAULT_BASE = "http://127.0.0.1:8000"
# the README's words for each kind of task
KIND_WORDS = {
    TaskKind.FIRST_LAST: "first/last-frame",
    TaskKind.IMAGE: "image-to-video",
    TaskKind.TEXT: "text-",
    TaskKind.REFERENCE: "reference-",
    TaskKind.VIDEO: "video-to-video",
}


def test_readme_opening_says_what_runs_out_of_the_box() -> None:
    """The opening names exactly the kinds the built-in engine makes, the kinds the diffusers engines add
    with weights, and says the rest need an engine that framecast does not ship."""
    shipped = {ep.name for ep in entry_points(group="framecast.engines")}
    assert shipped <= {"builtin", "wan", "ltx"}, (
        f"an engine ships now ({shipped}): say what it does in the README"
    )
    diffusion = set(WanEngine.kinds_for({"_class_name": "WanVACEPipeline"})) | set(LtxEngine.kinds_for({}))
    opening = " ".join(README.read_text(encoding="utf-8").split("```")[0].split())
    sentences = re.split(r"(?<=\.)\s+", opening)
    in_the_box = next(s for s in sentences if "out of the box" in s)
    with_weights = next(s for s in sentences if "framecast[diffusers]" in s)
    not_shipped = next(s for s in sentences if "does not ship" in s)
    for kind, words in KIND_WORDS.items():
        if kind in BuiltinEngine.task_kinds:
            assert words in in_the_box.split(":", 1)[1], f"{kind}: {in_the_box}"
        elif kind in diffusion:
            assert words in with_weights and words not in in_the_box, f"{kind}: {with_weights}"
        else:
            assert words in not_shipped and words not in in_the_box, f"{kind}: {not_shipped}"


def readme_api_blocks() -> list[str]:
    """The README's shell blocks that talk to the API (those that use the key)."""
    blocks = re.findall(r"^```sh\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.S | re.M)
    return [b for b in blocks if "$KEY" in b]


def test_readme_commands_work_as_written_with_real_photos(tmp_path: Path) -> None:
    """Run the README's commands with bash against a live `framecast serve`, with photos the size a
    camera makes; only the key and the base URL are substituted."""
    blocks = readme_api_blocks()
    assert blocks, "the README shows no API call"
    script = "\n".join(blocks)
    assert script.count("KEY=fc-...") == 1 and DEFAULT_BASE in script
    work = tmp_path / "work"
    work.mkdir()
    # the photos the README names: real frames (tests/data) at 1920x1080, each far over the 128 KiB that
    # one command-line argument may hold once base64-encoded
    names = list(dict.fromkeys(re.findall(r"\$\(img (\S+?)\)", script)))  # first, last
    assert len(names) == 2, names
    for name, frame in zip(names, ("bbb_040.jpg", "bbb_044.jpg"), strict=True):
        with Image.open(PHOTOS / frame) as im:
            im.resize((1920, 1080), Image.Resampling.BICUBIC).save(work / name, quality=92)
        assert (work / name).stat().st_size * 4 / 3 > 2 * 128 * 1024

    server = Server(tmp_path / "data")
    keys = subprocess.run(
        [str(BIN), "keys", "create", "--quiet"], env=server.env, capture_output=True, text=True, check=True
    )
    token = keys.stdout.strip()
    server.start()
    try:
        script = script.replace("KEY=fc-...", f"KEY={token}").replace(DEFAULT_BASE, server.url)
        # the deadline: the README's own loop polls until the task ends
        run = subprocess.run(
            ["bash", "-c", script], cwd=work, capture_output=True, text=True, timeout=300, check=False
        )
    finally:
        server.stop()
    assert run.returncode == 0 and not run.stderr, run.stderr + server.log.read_text()[-2000:]
    created, result = (json.loads(line) for line in run.stdout.split("\n") if line.startswith("{"))
    assert created["state"] == "created" and created["type"] == "headtailimg2video", created
    assert result["state"] == "success", result
    (creation,) = result["creations"]
    assert creation["video"]["resolution"] == {"width": 1280, "height": 720}
    assert creation["video"]["duration"] == 5.0 and creation["video"]["fps"] == 24


def shell_commands(text: str) -> list[str]:
    """Every command of the ```sh blocks of ``text``, continuation lines joined."""
    commands: list[str] = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, flags=re.S | re.M):
        pending = ""
        for line in block.split("\n"):
            if not pending and line.lstrip().startswith("#"):
                continue
            pending += line.removesuffix("\\") + " "
            # a command goes on past a trailing backslash and while a single-quoted string is open
            if not line.endswith("\\") and pending.count("'") % 2 == 0:
                commands.append(pending.strip())
                pending = ""
        commands.append(pending.strip())
    return [c for c in commands if c]


def test_no_example_puts_an_image_on_the_command_line() -> None:
    """`curl -d "...$(img photo.jpg)..."` fails with any real photo (a single argument holds at most
    128 KiB): examples expand images only into builtins (printf) and hand curl a file."""
    wrong = [
        f"{p.relative_to(DOCS.parent)}: {c[:80]}"
        for p in doc_files()
        for c in shell_commands(p.read_text(encoding="utf-8"))
        if re.search(r"\$\((img|base64)\b", c) and not c.startswith("printf ")
    ]
    assert not wrong, f"an image on a command line: {wrong}"
