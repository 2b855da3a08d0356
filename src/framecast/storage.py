"""Blob storage behind one interface, and signed expiring URLs for what it holds.

Keys are relative POSIX paths (``tasks/<id>/a<attempt>/0/video.mp4``). The local
store keeps them under one directory; an S3-compatible store slots in behind the
same ``BlobStore`` protocol for distributed mode.
"""

from __future__ import annotations

import base64
import hmac
import os
import shutil
import time
import uuid
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote

if TYPE_CHECKING:
    from framecast.config import Settings


class BlobStore(Protocol):
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def put_file(self, key: str, src: Path) -> None: ...
    def get_bytes(self, key: str) -> bytes: ...
    def local_path(self, key: str) -> Path | None: ...
    def exists(self, key: str) -> bool: ...
    def delete_prefix(self, prefix: str) -> None: ...
    def list_dirs(self, prefix: str) -> list[tuple[str, float]]:
        """The folders directly under ``prefix``: (name, last modified as a Unix time)."""
        ...


def check_key(key: str) -> PurePosixPath:
    """Keys are relative POSIX paths without ``..``: the same rule for every store."""
    p = PurePosixPath(key)
    if p.is_absolute() or ".." in p.parts or not key:
        raise ValueError(f"invalid blob key {key!r}")
    return p


def open_blob_store(settings: Settings) -> BlobStore:
    """The store the settings name: S3 for ``FRAMECAST_STORAGE_URL=s3://...``, else local files.

    Distributed mode refuses local files unless the operator asserted they are shared
    (``FRAMECAST_SHARED_STORAGE``): a worker's results must be readable by every API server.
    """
    settings.check_distributed()
    if settings.storage_url:
        from framecast.storage_s3 import S3BlobStore

        return S3BlobStore.from_settings(settings)
    return LocalBlobStore(settings.blob_dir)


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).parts)

    def put_bytes(self, key: str, data: bytes) -> None:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, dest)  # readers never see half a file

    def put_file(self, key: str, src: Path) -> None:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)

    def get_bytes(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def local_path(self, key: str) -> Path | None:
        p = self._path(key)
        return p if p.is_file() else None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete_prefix(self, prefix: str) -> None:
        target = self._path(prefix.rstrip("/"))
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        elif target.is_file():
            target.unlink(missing_ok=True)

    def list_dirs(self, prefix: str) -> list[tuple[str, float]]:
        base = self._path(prefix.rstrip("/"))
        if not base.is_dir():
            return []
        out = []
        for entry in os.scandir(base):
            try:
                if entry.is_dir(follow_symlinks=False):
                    out.append((entry.name, entry.stat(follow_symlinks=False).st_mtime))
            except FileNotFoundError:  # removed meanwhile
                continue
        return out


class UrlSigner:
    """HMAC-signed, expiring URLs for blobs served by the app under ``/files/``.

    A link's expiry is rounded up to the next ``step`` seconds (a minute at the default 24 h lifetime), so
    it is valid for at least ``ttl_seconds`` and at most ``step`` longer. Within one step a key's link is
    the same on every answer: a client or a cache in front of the service sees one URL per file, not one
    per poll, and a poll reuses the signature it computed instead of signing again.
    """

    _KEEP = 8192  # links remembered; more, and the memory starts over (two per task polled in a minute)

    def __init__(self, secret: bytes, ttl_seconds: int) -> None:
        self._secret = secret
        self.ttl_seconds = ttl_seconds
        self.step = max(1, min(60, ttl_seconds // 100))
        self._paths: dict[str, tuple[int, str]] = {}  # key -> (expires, path)

    def _sig(self, key: str, expires: int) -> str:
        mac = hmac.digest(self._secret, f"{key}\n{expires}".encode(), "sha256")  # OpenSSL's one-shot
        return base64.urlsafe_b64encode(mac[:24]).decode().rstrip("=")

    def expires(self, now: float | None = None) -> int:
        """The expiry a link made at ``now`` gets: ``ttl_seconds`` on, rounded up to the step."""
        end = int(now if now is not None else time.time()) + self.ttl_seconds
        return -(-end // self.step) * self.step

    def path(self, key: str, *, now: float | None = None) -> str:
        expires = self.expires(now)
        known = self._paths.get(key)
        if known is not None and known[0] == expires:
            return known[1]
        # both values are URL-safe as they are (digits; unpadded URL-safe base64): no urlencode, which
        # quoted each one and cost as much as the signature
        path = f"/files/{quote(key)}?expires={expires}&sig={self._sig(key, expires)}"
        if len(self._paths) >= self._KEEP:
            self._paths.clear()
        self._paths[key] = (expires, path)
        return path

    def url(self, key: str, base_url: str) -> str:
        return base_url.rstrip("/") + self.path(key)

    def verify(self, key: str, expires: int, sig: str, *, now: float | None = None) -> bool:
        if expires < (now if now is not None else time.time()):
            return False
        return hmac.compare_digest(self._sig(key, expires), sig)
