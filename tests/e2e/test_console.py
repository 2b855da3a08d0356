"""The web console in a real browser (Debian's Chromium driven by Playwright) against a real server.

Each step saves a screenshot under the test's temporary directory; the path is printed (``pytest -s``)
and named in the failure message when a step fails.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import data_uri
from tests.e2e.test_restart import BIN, Server
from tests.waiting import wait_until

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"needs Debian's chromium package at {CHROMIUM} (apt-get install chromium)"
)

DATA = Path(__file__).parent.parent / "data"
FIRST, LAST = DATA / "bbb_040.jpg", DATA / "bbb_044.jpg"  # real frames, 256x144
STEP_TIMEOUT_MS = 120_000  # a render on a busy two-core machine; the waits end as soon as the page is there


class Console:
    """One browser page on the console, with the steps the tests take and a screenshot after each."""

    def __init__(self, page: Page, server: Server, key: str, shots: Path) -> None:
        self.page = page
        self.server = server
        self.url = server.url
        self.key = key
        self.shots = shots
        self.step = 0

    def shot(self, name: str) -> Path:
        self.step += 1
        path = self.shots / f"{self.step:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path

    def sign_in(self, key: str) -> None:
        self.page.goto(self.url)
        self.page.get_by_label("API key").fill(key)
        self.page.get_by_role("button", name="Sign in").click()

    def drop(self, selector: str, path: Path, mime: str) -> None:
        """Drop a file on an element, as dragging it from the desktop does."""
        self.page.evaluate(
            """([selector, name, type, b64]) => {
                const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                const data = new DataTransfer();
                data.items.add(new File([bytes], name, { type }));
                const drop = new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true });
                document.querySelector(selector).dispatchEvent(drop);
            }""",
            [selector, path.name, mime, base64.b64encode(path.read_bytes()).decode()],
        )

    def task(self, task_id: str) -> Any:
        return self.page.locator(f'li.task[data-task-id="{task_id}"]')

    def generate(self) -> str:
        """Click Generate and return the id of the task the console says it queued."""
        self.page.get_by_role("button", name="Generate").click()
        status = self.page.locator("#create-status")
        expect(status).to_have_text(re.compile(r"Task \d+ is queued"), timeout=STEP_TIMEOUT_MS)
        found = re.search(r"\d+", status.inner_text())
        assert found is not None
        return found.group(0)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    server = Server(tmp_path_factory.mktemp("console") / "data")
    key = subprocess.run(
        [str(BIN), "keys", "create", "--quiet"], env=server.env, check=True, capture_output=True, text=True
    ).stdout.strip()
    server.start()
    yield server, key
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def console(
    served: tuple[Server, str], browser: Browser, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Console]:
    server, key = served
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    shots = tmp_path / "screenshots"
    shots.mkdir()
    print(f"\nscreenshots of {request.node.name}: {shots}")
    yield Console(page, server, key, shots)
    context.close()


@pytest.fixture
def signed_in(console: Console) -> Console:
    console.sign_in(console.key)
    expect(console.page.get_by_role("button", name="Generate")).to_be_visible()
    return console


def test_sign_in_upload_two_frames_generate_and_play(signed_in: Console, tmp_path: Path) -> None:
    console, server, key = signed_in, signed_in.server, signed_in.key
    page = console.page
    console.shot("signed-in")

    page.get_by_label("First frame").set_input_files(FIRST)
    page.get_by_label("Last frame").set_input_files(LAST)
    expect(page.locator("#ratio-check")).to_have_text(re.compile(r"Size ratio 1\.00 .*within 0\.8–1\.25"))
    expect(page.get_by_alt_text(re.compile("First frame preview, 256×144"))).to_be_visible()
    expect(page.get_by_alt_text(re.compile("Last frame preview, 256×144"))).to_be_visible()
    page.get_by_label("Prompt", exact=True).fill("the rabbit turns its head")
    page.get_by_label("Duration (seconds)").select_option("1")
    page.get_by_label("Resolution").select_option("540p")
    page.get_by_label("Seed").fill("7")
    page.get_by_label("Add a watermark").check()
    page.get_by_label("Watermark position").select_option(label="Top left")
    console.shot("frames-picked")

    task_id = console.generate()
    row = console.task(task_id)
    expect(row.locator(".percent")).to_have_text("100%", timeout=STEP_TIMEOUT_MS)
    expect(row.locator(".state")).to_have_text("succeeded")
    video = row.locator("video")
    expect(video).to_have_count(1)
    page.wait_for_function("el => el.readyState >= 2", arg=video.element_handle(), timeout=STEP_TIMEOUT_MS)
    src = video.get_attribute("src") or ""
    poster = video.get_attribute("poster") or ""
    # the server's own signed file URL, not a blob copy; the cover is the poster
    assert src.startswith(f"{server.url}/files/") and "sig=" in src, src
    assert poster.startswith(f"{server.url}/files/") and poster.split("?")[0].endswith(".jpg"), poster
    assert httpx.get(src, timeout=10).headers["content-type"] == "video/mp4"
    expect(row.get_by_role("link", name="Download video")).to_have_attribute("href", src)
    expect(row.get_by_role("link", name="Download cover")).to_have_attribute("href", poster)
    watermarked = row.get_by_role("link", name="Download watermarked video").get_attribute("href") or ""
    assert watermarked.startswith(f"{server.url}/files/") and watermarked != src
    expect(row.locator("figcaption")).to_contain_text("Seed 7")

    row.get_by_text("Request as curl (Vidu dialect)").click()
    curl = row.locator(".curl")
    expect(curl).to_contain_text(f"'{server.url}/ent/v2/start-end2video'")
    expect(curl).to_contain_text(""""seed":7""")
    console.shot("played")
    # the command runs as shown, next to the two picked files, and makes the same request again
    work = tmp_path / "rerun"
    work.mkdir()
    shutil.copy(FIRST, work)
    shutil.copy(LAST, work)
    env = {**os.environ, "FRAMECAST_API_KEY": key}
    ran = subprocess.run(
        ["bash", "-c", curl.inner_text()], cwd=work, env=env, capture_output=True, text=True, timeout=60
    )
    again = json.loads(ran.stdout)
    assert again["type"] == "headtailimg2video" and again["seed"] == 7, ran.stdout + ran.stderr
    assert again["prompt"] == "the rabbit turns its head" and again["resolution"] == "540p"
    assert again["watermark"] is True and again["wm_position"] == "top_left"


def test_cancel_a_second_task(signed_in: Console) -> None:
    console = signed_in
    page = console.page
    page.get_by_label("First frame").set_input_files(FIRST)
    # long enough to still be queued or running when the cancel lands
    page.get_by_label("Duration (seconds)").select_option("16")
    page.get_by_label("Resolution").select_option("1080p")
    task_id = console.generate()
    row = console.task(task_id)
    row.get_by_role("button", name=f"Cancel task {task_id}").click()
    expect(row.locator(".state")).to_have_text("cancelled", timeout=STEP_TIMEOUT_MS)
    expect(row.locator(".task-error")).to_have_text("cancelled by the user")
    expect(row.get_by_role("button", name=f"Cancel task {task_id}")).to_be_hidden()
    console.shot("cancelled")


def test_a_wrong_key_is_refused_with_a_message(console: Console) -> None:
    console.sign_in("fc-not-a-key")
    error = console.page.locator("#api-key-error")
    expect(error).to_contain_text("This API key was not accepted")
    expect(console.page.get_by_role("button", name="Generate")).to_be_hidden()
    assert console.page.evaluate("sessionStorage.getItem('framecast.apiKey')") is None
    console.shot("wrong-key")


def test_a_refused_request_shows_the_message_beside_its_field(signed_in: Console) -> None:
    console, server, key = signed_in, signed_in.server, signed_in.key
    page = console.page
    page.get_by_label("First frame").set_input_files(FIRST)
    page.get_by_label("Prompt", exact=True).fill("terrorist propaganda")
    page.get_by_role("button", name="Generate").click()
    beside_prompt = page.locator("#prompt-error")
    expect(beside_prompt).to_contain_text("refused by content policy", timeout=STEP_TIMEOUT_MS)
    expect(page.get_by_label("Prompt", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#form-error")).to_be_empty()
    console.shot("refused-prompt")

    page.get_by_label("Prompt", exact=True).fill("a quiet meadow")
    page.get_by_label("Seed").fill("99999999999999999999")  # past the largest seed
    page.get_by_role("button", name="Generate").click()
    expect(page.locator("#seed-error")).to_contain_text("seed", timeout=STEP_TIMEOUT_MS)
    expect(beside_prompt).to_be_empty()
    console.shot("refused-seed")
    # nothing was queued by either refusal
    listed = httpx.get(f"{server.url}/ent/v2/tasks", headers={"Authorization": f"Token {key}"}, timeout=10)
    assert all(t["prompt"] not in ("terrorist propaganda", "a quiet meadow") for t in listed.json()["tasks"])


def test_the_ratio_check_stops_a_mismatched_pair_before_submit(signed_in: Console, tmp_path: Path) -> None:
    from PIL import Image

    console = signed_in
    small = tmp_path / "small.png"
    Image.open(FIRST).resize((128, 72)).save(small)
    page = console.page
    page.get_by_label("First frame").set_input_files(FIRST)
    console.drop('[data-drop="last-frame"]', small, "image/png")
    expect(page.get_by_alt_text(re.compile("Last frame preview, 128×72"))).to_be_visible()
    expect(page.locator("#ratio-check")).to_have_text(re.compile(r"Size ratio 4\.00 .*must be between 0\.8"))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/ent/v2/start-end2video" in r.url else None)
    page.get_by_role("button", name="Generate").click()
    expect(page.locator("#images-error")).to_contain_text("Not sent: the two frames' sizes must be closer")
    assert requests == []
    console.shot("ratio-refused")


def test_phone_width_has_no_sideways_scroll_and_keyboard_reaches_generate(signed_in: Console) -> None:
    console = signed_in
    page = console.page
    page.set_viewport_size({"width": 375, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    # keyboard only: Tab from the first frame reaches Generate
    page.get_by_label("First frame").focus()

    def generate_focused() -> bool:
        page.keyboard.press("Tab")
        return bool(page.evaluate("document.activeElement && document.activeElement.id === 'generate'"))

    wait_until(generate_focused, 30, what="Tab to reach the Generate button", poll=0)
    console.shot("phone-width")


def test_the_task_list_pages_newest_first(console: Console) -> None:
    server, key = console.server, console.key
    headers = {"Authorization": f"Token {key}"}
    body = {"model": "viduq3-pro", "images": [data_uri(FIRST.read_bytes(), "image/jpeg")], "duration": 1}
    for _ in range(9):  # more than a page, whatever the earlier tests left
        resp = httpx.post(f"{server.url}/ent/v2/img2video", headers=headers, json=body, timeout=30)
        assert resp.status_code == 200, resp.text
    everything = httpx.get(f"{server.url}/ent/v2/tasks?pager.pagesz=100", headers=headers, timeout=10).json()
    ids = [t["id"] for t in everything["tasks"]]  # newest first

    page = console.page
    console.sign_in(key)
    rows = page.locator("li.task")
    expect(rows).to_have_count(8)
    assert [rows.nth(i).get_attribute("data-task-id") for i in range(8)] == ids[:8]
    expect(page.get_by_role("button", name="Newer")).to_be_disabled()
    page.get_by_role("button", name="Older").click()
    expect(page.locator("#page-label")).to_have_text("Page 2")
    expect(rows.first).to_have_attribute("data-task-id", ids[8])
    console.shot("page-2")
    page.get_by_role("button", name="Newer").click()
    expect(rows.first).to_have_attribute("data-task-id", ids[0])
