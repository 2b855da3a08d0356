"""/metrics: HTTP counts by route template, task gauges read from the database, the observe_* API."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from framecast.metrics import Metrics
from tests.conftest import Api


def scrape(api: Api) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    resp = api.client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_known_workload_is_counted(api_with_workers: Api, pair: list[str]) -> None:
    api = api_with_workers
    body = {"model": "viduq3-pro", "images": pair, "duration": 1, "resolution": "540p"}
    done = [api.post("/ent/v2/start-end2video", body).json()["task_id"] for _ in range(2)]
    for task_id in done:
        assert api.wait(task_id)["state"] == "success"
    # a long one to cancel (queued or running, it ends cancelled either way)
    long_id = api.post("/ent/v2/start-end2video", {**body, "duration": 16, "resolution": "1080p"}).json()
    api.post(f"/ent/v2/tasks/{long_id['task_id']}/cancel", {})
    assert api.wait(long_id["task_id"])["err_code"] == "UserCancelled"
    for bad in ({**body, "model": ""}, {**body, "images": pair[:1]}):
        assert api.post("/ent/v2/start-end2video", bad).status_code == 400
    assert api.get("/ent/v2/tasks/123/creations").status_code == 404
    assert api.client.get("/no/such/route").status_code == 404
    api.client.get(f"/ent/v2/tasks/{done[0]}/creations")  # no key: 401

    s = scrape(api)
    create = "/ent/v2/start-end2video"
    assert value(s, "framecast_http_requests_total", method="POST", route=create, status="200") == 3
    assert value(s, "framecast_http_requests_total", method="POST", route=create, status="400") == 2
    query = "/ent/v2/tasks/{task_id}/creations"
    assert value(s, "framecast_http_requests_total", method="GET", route=query, status="404") == 1
    assert value(s, "framecast_http_requests_total", method="GET", route=query, status="401") == 1
    assert value(s, "framecast_http_requests_total", method="GET", route=query, status="200") >= 3
    assert value(s, "framecast_http_requests_total", method="GET", route="unmatched", status="404") == 1
    # raw task ids never become label values
    assert not any(done[0] in dict(labels).get("route", "") for _, labels in s)
    assert value(s, "framecast_http_request_duration_seconds_count", method="POST", route=create) == 5

    assert value(s, "framecast_tasks", state="succeeded", model="viduq3-pro") == 2
    assert value(s, "framecast_tasks", state="cancelled", model="viduq3-pro") == 1
    assert (
        "framecast_tasks",
        frozenset({("state", "running"), ("model", "viduq3-pro")}),
    ) in s  # zero, present
    assert value(s, "framecast_queue_depth") == 0
    assert value(s, "framecast_metrics_database_up") == 1


def test_queue_depth_and_body_limit_route(make_api: object, pair: list[str]) -> None:
    api = make_api(max_body_bytes=1000)  # type: ignore[operator]
    small = {"model": "viduq3-pro", "images": ["https://example.com/a.png"] * 2, "prompt": "x" * 2000}
    assert api.post("/ent/v2/start-end2video", small).status_code == 413
    s = scrape(api)
    # refused before routing, still labelled with the route it was headed for
    route = "/ent/v2/start-end2video"
    assert value(s, "framecast_http_requests_total", method="POST", route=route, status="413") == 1


def test_queued_tasks_are_the_queue_depth(api: Api, pair: list[str]) -> None:
    body = {"model": "viduq3-pro", "images": pair, "duration": 1, "resolution": "540p"}
    for _ in range(3):
        assert api.post("/ent/v2/start-end2video", body).status_code == 200
    s = scrape(api)
    assert value(s, "framecast_queue_depth") == 3
    assert value(s, "framecast_tasks", state="queued", model="viduq3-pro") == 3


def test_observe_api_lands_in_the_apps_registry(api: Api) -> None:
    m: Metrics = api.client.app.state.metrics  # type: ignore[attr-defined]
    m.observe_task("viduq3-pro", "succeeded", 12.5)
    m.observe_task("viduq3-pro", "failed", 0.5)
    m.observe_frames("builtin", 48, 2.0)
    m.observe_frames("builtin", 24, 0.0)  # fps not observable, frames still counted
    m.observe_callback("delivered")
    m.observe_callback("delivered")
    m.observe_callback("gave_up")
    s = scrape(api)
    h = "framecast_task_duration_seconds"
    assert value(s, f"{h}_count", model="viduq3-pro", state="succeeded") == 1
    assert value(s, f"{h}_sum", model="viduq3-pro", state="succeeded") == 12.5
    assert value(s, f"{h}_bucket", model="viduq3-pro", state="succeeded", le="20.0") == 1
    assert value(s, f"{h}_bucket", model="viduq3-pro", state="succeeded", le="10.0") == 0
    assert value(s, f"{h}_count", model="viduq3-pro", state="failed") == 1
    assert value(s, "framecast_engine_frames_total", engine="builtin") == 72
    assert value(s, "framecast_engine_fps_count", engine="builtin") == 1
    assert value(s, "framecast_engine_fps_sum", engine="builtin") == 24.0
    assert value(s, "framecast_callback_deliveries_total", outcome="delivered") == 2
    assert value(s, "framecast_callback_deliveries_total", outcome="gave_up") == 1


def test_each_app_has_its_own_registry(make_api: object) -> None:
    a = make_api()  # type: ignore[operator]
    b = make_api(data_dir=a.client.app.state.settings.data_dir.parent / "other")  # type: ignore[operator]
    a.client.app.state.metrics.observe_callback("delivered")
    assert value(scrape(b), "framecast_callback_deliveries_total", outcome="delivered") == 0
    assert value(scrape(a), "framecast_callback_deliveries_total", outcome="delivered") == 1


def test_scrape_survives_a_broken_database() -> None:
    class Broken:
        async_reads = None  # a SQLite database: no polls read on the loop

        def session(self) -> object:
            raise RuntimeError("database is down")

    m = Metrics(Broken(), process=False)  # type: ignore[arg-type]
    text = m.render().decode()
    assert "framecast_metrics_database_up 0.0" in text
    assert "framecast_tasks{" not in text
