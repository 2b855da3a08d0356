"""The web console as the app serves it: the page, its assets, offline, readable colours; and the two API
features it relies on (the x-error-param header, Vidu's negative_prompt / number_of_videos). The browser
tests are in tests/e2e/test_console.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from framecast.console import STATIC_DIR
from tests.conftest import Api, data_uri, image_bytes

CSS = STATIC_DIR / "console.css"


def test_the_console_is_served_at_the_root_with_its_modules(api: Api) -> None:
    page = api.client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<label for="api-key">API key</label>' in page.text
    for src in re.findall(r'(?:src|href)="(/console/[^"]+)"', page.text):
        asset = api.client.get(src)
        assert asset.status_code == 200, src
    module = api.client.get("/console/js/main.js")
    assert module.headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript")
    # an unknown asset is a plain 404, and unknown API paths still answer in their dialect's envelope
    assert api.client.get("/console/js/nope.js").status_code == 404
    assert api.get("/ent/v2/nope").json()["reason"] == "NotFound"


def test_the_console_loads_nothing_from_another_site() -> None:
    files = [p for p in STATIC_DIR.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} == {".html", ".css", ".js"}
    for path in files:
        text = path.read_text(encoding="utf-8")
        # the only absolute URLs are in comments or docs strings, never loaded: none at all keeps it simple
        assert not re.search(r"(?:src|href|import)[^\n]*https?://", text), path.name
        assert "@import" not in text and "url(" not in text, path.name


def _colours(block: str) -> dict[str, str]:
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", block))


def _luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two colours."""
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_colours_have_aa_contrast(scheme: str) -> None:
    css = CSS.read_text(encoding="utf-8")
    light = _colours(css.split("@media (prefers-color-scheme: dark)")[0])
    dark = {**light, **_colours(css.split("@media (prefers-color-scheme: dark)")[1].split("}")[0])}
    c = light if scheme == "light" else dark
    pairs = [
        ("fg", "bg"),
        ("fg", "panel"),
        ("muted", "bg"),
        ("muted", "panel"),
        ("error", "bg"),
        ("error", "panel"),
        ("ok", "panel"),
        ("accent", "bg"),
        ("accent", "panel"),
        ("accent-fg", "accent"),
    ]
    low = {f"{a} on {b}": round(contrast(c[a], c[b]), 2) for a, b in pairs if contrast(c[a], c[b]) < 4.5}
    assert not low, f"{scheme}: below 4.5:1: {low}"


def test_every_error_names_its_field_in_a_header(api: Api) -> None:
    resp = api.post("/ent/v2/img2video", {"model": "viduq3-pro", "images": ["x"], "seed": -1})
    assert resp.status_code == 400
    assert resp.headers["x-error-param"] == "seed"
    assert set(resp.json()) == {"code", "reason", "message", "metadata"}  # Vidu's envelope is unchanged
    # another dialect's envelope gets the same header
    other = api.post("/v1/videos", {"model": "sora-2", "prompt": "x", "size": "bogus"}, scheme="Bearer")
    assert other.status_code == 400 and other.headers["x-error-param"] == "size"
    # an error about no one field has no header
    assert "x-error-param" not in api.get("/ent/v2/tasks/123/creations").headers


def test_vidu_takes_a_negative_prompt_and_a_number_of_videos(api_with_workers: Api, pair: list[str]) -> None:
    api = api_with_workers
    body = {"model": "viduq3-pro", "images": pair, "duration": 1, "resolution": "540p", "seed": 11}
    resp = api.post("/ent/v2/start-end2video", {**body, "negative_prompt": "blur", "number_of_videos": 2})
    assert resp.status_code == 200, resp.text
    task_id = resp.json()["task_id"]
    done = api.wait(task_id)
    assert done["state"] == "success" and len(done["creations"]) == 2
    seeds = [c["seed"] for c in api.get(f"/v1/tasks/{task_id}").json()["creations"]]
    assert seeds == [11, 12]

    too_many = api.post("/ent/v2/start-end2video", {**body, "number_of_videos": 5})
    assert too_many.status_code == 400 and too_many.headers["x-error-param"] == "number_of_videos"
    assert too_many.json()["message"].startswith("number_of_videos must be between 1 and 4")
    long_negative = api.post("/ent/v2/start-end2video", {**body, "negative_prompt": "x" * 5001})
    assert long_negative.status_code == 400 and long_negative.headers["x-error-param"] == "negative_prompt"
    one_image = {**body, "images": [data_uri(image_bytes())]}
    refused = api.post("/ent/v2/img2video", {**one_image, "negative_prompt": "csam"})
    assert refused.json()["reason"] == "AuditSubmitIllegal"


def test_the_console_files_are_package_data() -> None:
    pyproject = (Path(__file__).parent.parent / "pyproject.toml").read_text(encoding="utf-8")
    declared = re.search(r"\[tool\.setuptools\.package-data\]\nframecast = \[(.*)\]", pyproject)
    assert declared is not None
    patterns = re.findall(r'"([^"]+)"', declared.group(1))
    package = STATIC_DIR.parent.parent
    covered = {p for pattern in patterns for p in package.glob(pattern)}
    assert {p for p in STATIC_DIR.rglob("*") if p.is_file()} <= covered
