"""Adding a router's routes to the app as they are, instead of through ``include_router``."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI


def add_routes(app: FastAPI, router: APIRouter) -> None:
    """The router's own route objects appended to the app's route list.

    FastAPI 0.16x keeps an included router whole and matches each request against its routes through
    per-route contexts, a cost paid for every route passed over on the way to the one that matches (a
    poll of an OpenAI video, mounted last, went past nearly all of them; bench/README.md, the API under
    load). The routers here carry their prefix, tags and responses on each route already
    (``APIRouter.add_api_route`` merges them), so the app can hold the routes directly; the OpenAPI
    document is the same (tests/dialects/test_openapi.py). A router with dependencies or callbacks of
    its own is refused: ``include_router`` would apply them at each request, a plain append would drop
    them.
    """
    if router.dependencies or router.callbacks:
        raise ValueError("add_routes takes a router without dependencies or callbacks")
    app.router.routes.extend(router.routes)
