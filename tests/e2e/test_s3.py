"""S3-compatible storage against moto's server mode (started here, on loopback): the store itself, and a
distributed cluster whose API and worker keep inputs and results only in the bucket."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from framecast.config import Settings
from framecast.storage import open_blob_store
from framecast.storage_s3 import S3BlobStore, parse_s3_url
from tests.e2e.test_distributed import Cluster, cluster, redis_broker  # noqa: F401  (fixtures)
from tests.e2e.test_restart import BIN, free_port
from tests.store.test_postgres import pg_url  # noqa: F401  (fixture)
from tests.waiting import wait_until

CREDS = {"s3_access_key_id": "testing", "s3_secret_access_key": "testing", "s3_region": "us-east-1"}


@pytest.fixture
def moto(tmp_path: Path) -> Iterator[str]:
    """An S3 endpoint served by `moto_server` in a subprocess; yields its URL."""
    port = free_port()
    log = open(tmp_path / "moto.log", "wb")  # noqa: SIM115  (closed below, after the process)
    proc = subprocess.Popen(
        [str(BIN.parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/moto-api/", timeout=1).status_code < 500
        except httpx.HTTPError:
            return proc.poll() is not None  # exited: fail below rather than wait

    wait_until(up, 30, what="moto's S3 server")
    assert proc.poll() is None, (tmp_path / "moto.log").read_text()
    yield url
    proc.terminate()
    proc.wait(10)
    log.close()


def _settings(tmp_path: Path, endpoint: str, **extra: Any) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        storage_url="s3://media/fc/results",
        s3_endpoint_url=endpoint,
        **CREDS,
        **extra,
    )


def _bucket(endpoint: str, name: str = "media") -> None:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=name)
    client.close()


def test_parse_s3_url() -> None:
    assert parse_s3_url("s3://b") == ("b", "")
    assert parse_s3_url("s3://b/x/y/") == ("b", "x/y/")
    with pytest.raises(ValueError):
        parse_s3_url("s3:///x")


def test_s3_store_round_trip(tmp_path: Path, moto: str) -> None:
    _bucket(moto)
    store = open_blob_store(_settings(tmp_path, moto))
    assert isinstance(store, S3BlobStore)
    src = tmp_path / "v.mp4"
    src.write_bytes(b"video")
    store.put_file("tasks/t1/a1/0/video.mp4", src)
    store.put_bytes("tasks/t1/a10/0/cover.jpg", b"cover")
    store.put_bytes("tasks/t2/a1/0/cover.jpg", b"other")
    assert store.get_bytes("tasks/t1/a1/0/video.mp4") == b"video"
    assert store.exists("tasks/t1/a1/0/video.mp4") and not store.exists("tasks/t1/a1/0/nothing")
    assert store.local_path("tasks/t1/a1/0/video.mp4") is None
    assert [name for name, _ in store.list_dirs("tasks")] == ["t1", "t2"]
    assert all(mtime > 0 for _, mtime in store.list_dirs("tasks/t1"))
    store.delete_prefix("tasks/t1/a1")  # the attempt a1, not a10
    assert not store.exists("tasks/t1/a1/0/video.mp4") and store.exists("tasks/t1/a10/0/cover.jpg")
    assert httpx.get(store.presigned_url("tasks/t2/a1/0/cover.jpg", 60), timeout=10).content == b"other"
    with pytest.raises(ValueError):
        store.put_bytes("../escape", b"x")


def test_distributed_mode_refuses_local_storage_unless_shared(tmp_path: Path) -> None:
    distributed = Settings(data_dir=tmp_path / "data", broker_url="redis://127.0.0.1:6379/0")
    with pytest.raises(ValueError, match="FRAMECAST_SHARED_STORAGE"):
        open_blob_store(distributed)
    shared = Settings(data_dir=tmp_path / "data", broker_url="redis://127.0.0.1:6379/0", shared_storage=True)
    assert open_blob_store(shared).local_path("x") is None  # local files, allowed: the operator said so
    with pytest.raises(ValueError):
        Settings(broker_url="http://nope")
    r = subprocess.run(
        [str(BIN), "serve", "--port", str(free_port())],
        env={
            **os.environ,
            "FRAMECAST_DATA_DIR": str(tmp_path / "d2"),
            "FRAMECAST_BROKER_URL": "redis://x:1/0",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0 and "FRAMECAST_SHARED_STORAGE" in r.stderr


@pytest.mark.parametrize("urls", ["presign", "proxy"])
def test_cluster_on_s3_storage(
    cluster: Callable[..., Cluster],  # noqa: F811
    redis_broker: str,  # noqa: F811
    moto: str,
    urls: str,
) -> None:
    _bucket(moto)
    env = {
        "FRAMECAST_STORAGE_URL": "s3://media/fc",
        "FRAMECAST_S3_ENDPOINT_URL": moto,
        "FRAMECAST_S3_ACCESS_KEY_ID": "testing",
        "FRAMECAST_S3_SECRET_ACCESS_KEY": "testing",
        "FRAMECAST_S3_REGION": "us-east-1",
        "FRAMECAST_S3_URLS": urls,
        "FRAMECAST_SHARED_STORAGE": "",
    }
    c = cluster(redis_broker, **env)
    api = c.add_api()
    c.add_worker()
    ids = [c.create(api, seed=i) for i in range(2)]
    assert set(c.wait_all(ids, 120).values()) == {"succeeded"}, c.logs()
    c.assert_exactly_once(ids)
    url = c.state(ids[0])["creations"][0]["url"]
    first = httpx.get(url, timeout=10)
    if urls == "presign":
        assert first.status_code == 307 and first.headers["location"].startswith(moto)
    else:
        assert first.status_code == 200
    video = httpx.get(url, timeout=10, follow_redirects=True)
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"  # an MP4, from the bucket
    assert not (Path(c.env["FRAMECAST_DATA_DIR"]) / "blobs" / "tasks").exists()  # nothing kept locally
