"""An S3-compatible blob store (AWS, MinIO, Ceph, R2...) behind the ``BlobStore`` protocol.

Distributed mode's storage: a worker on one machine uploads an attempt's results, the API on another
hands out URLs for them. Keys are the same relative paths the local store uses, under the URL's prefix
(``s3://bucket/prefix`` keeps ``tasks/<id>/a1/0/video.mp4`` at ``prefix/tasks/<id>/a1/0/video.mp4``).
boto3 is imported here only, so embedded mode never needs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from framecast.storage import check_key

if TYPE_CHECKING:
    from framecast.config import Settings

_DELETE_BATCH = 1000  # the most keys one DeleteObjects call takes


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ("bucket", "some/prefix/"); the prefix is "" or ends with "/"."""
    if not url.startswith("s3://"):
        raise ValueError(f"not an s3:// URL: {url!r}")
    bucket, _, prefix = url[5:].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {url!r}")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


class S3BlobStore:
    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    @classmethod
    def from_settings(cls, settings: Settings) -> S3BlobStore:
        import boto3
        from botocore.config import Config

        bucket, prefix = parse_s3_url(settings.storage_url)
        client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url or None,
            region_name=settings.s3_region or None,
            aws_access_key_id=settings.s3_access_key_id or None,
            aws_secret_access_key=settings.s3_secret_access_key or None,
            config=Config(signature_version="s3v4", retries={"max_attempts": 5, "mode": "standard"}),
        )
        return cls(client, bucket, prefix)

    def _key(self, key: str) -> str:
        check_key(key)
        return self.prefix + key

    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def put_file(self, key: str, src: Path) -> None:
        self.client.upload_file(str(src), self.bucket, self._key(key))

    def get_bytes(self, key: str) -> bytes:
        body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        try:
            return bytes(body.read())
        finally:
            body.close()

    def local_path(self, key: str) -> Path | None:
        return None  # nothing is on this machine's disk: /files/ redirects or streams instead

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def _objects(self, prefix: str) -> Iterator[dict[str, Any]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        for page in pages:
            yield from page.get("Contents", [])

    def delete_prefix(self, prefix: str) -> None:
        """Delete the object ``prefix`` and everything under ``prefix/`` (not ``prefix10/...``)."""
        base = self._key(prefix.rstrip("/"))
        keys = [base, *(o["Key"] for o in self._objects(base + "/"))]
        for i in range(0, len(keys), _DELETE_BATCH):
            batch = [{"Key": k} for k in keys[i : i + _DELETE_BATCH]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    def list_dirs(self, prefix: str) -> list[tuple[str, float]]:
        """The "folders" under ``prefix``, each with the newest modification time of what it holds
        (S3 has no folders: the sweeper's age test needs the time of the newest object)."""
        base = self._key(prefix.rstrip("/")) + "/"
        newest: dict[str, float] = {}
        for obj in self._objects(base):
            name, sep, _rest = obj["Key"][len(base) :].partition("/")
            if sep:
                newest[name] = max(newest.get(name, 0.0), obj["LastModified"].timestamp())
        return sorted(newest.items())

    def presigned_url(self, key: str, ttl_seconds: int) -> str:
        """A URL the store itself signs: the client downloads straight from S3, not through the API."""
        url: str = self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._key(key)}, ExpiresIn=ttl_seconds
        )
        return url
