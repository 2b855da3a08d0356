"""Recognise framecast's own upload URLs so an uploaded file is used without an HTTP fetch.

``/v1/resources/upload`` answers ``fullPath = <base>/v1/resources/<file id>``.
When that URL (or just its path, or the bare id) comes back as an input image,
it maps to the stored blob; any other URL is fetched as usual.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

RESOURCE_PATH = "/v1/resources/"
_ID = re.compile(r"^file_[0-9a-f]{24}$")


def full_path(base_url: str, upload_id: str) -> str:
    return base_url.rstrip("/") + RESOURCE_PATH + upload_id


def upload_id_of(source: str, own_hosts: set[str]) -> str | None:
    """The upload id ``source`` names, or None when it is someone else's URL (or not a URL)."""
    src = source.strip()
    if _ID.match(src):
        return src
    parts = urlsplit(src)
    if parts.scheme in ("http", "https"):
        if parts.netloc.lower() not in own_hosts:
            return None
    elif parts.scheme or parts.netloc:
        return None
    if not parts.path.startswith(RESOURCE_PATH):
        return None
    candidate = parts.path[len(RESOURCE_PATH) :]
    return candidate if _ID.match(candidate) else None
