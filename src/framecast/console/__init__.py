"""The web console: static HTML, CSS and JavaScript modules, served at ``/``.

The console is one more API client. It calls the same HTTP routes as any other
client, with the API key the person signs in with: the Vidu ``/ent/v2`` routes to
create, list, query and cancel, ``GET /v1/models`` for the model list and
``GET /v1/tasks/{id}/events`` for live progress. There is no build step and nothing
is fetched from elsewhere, so it works offline.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
ASSETS_PREFIX = "/console"

# Scripts, styles and API calls come only from this server; previews are data: URLs read from the picked
# files; results may be redirects to an S3 store, so media and images may come from any http(s) origin.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data: blob: http: https:; media-src 'self' http: https:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"
)


def attach(app: FastAPI) -> None:
    """Serve ``index.html`` at ``/`` and the rest under :data:`ASSETS_PREFIX`."""

    @app.get("/", include_in_schema=False)
    def console_index() -> FileResponse:
        # no-cache: an upgraded server's console is picked up on the next load (revalidated by ETag)
        headers = {"cache-control": "no-cache", "content-security-policy": CSP}
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=headers)

    app.mount(ASSETS_PREFIX, StaticFiles(directory=STATIC_DIR), name="console")
