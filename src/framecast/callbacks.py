"""Callbacks: signing (Vidu HMAC, Standard Webhooks) and delivery from the durable outbox.

Outbox rows are written by the store in the transaction that changes a task's
state (store/outbox.py). ``CallbackSender`` claims due rows with a lease, renders
the body in the task's own dialect *as of the event* (a ``processing`` callback
delivered late still says processing), signs it, POSTs it through the same
vetted, pinned client as image fetches, records every attempt, and retries with
exponential backoff: terminal events up to ``callback_attempts`` times, the
``processing`` event twice (Vidu promises retries for success/failed only).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from framecast.config import Settings
from framecast.dialects.common import CallbackRenderer, Links
from framecast.domain import Task, TaskState
from framecast.errors import ClientError
from framecast.media.fetch import FetchPolicy, Resolver, post
from framecast.secretbox import SecretBox
from framecast.storage import UrlSigner
from framecast.store import keys as key_store
from framecast.store import outbox
from framecast.store import tasks as task_store
from framecast.store.db import Database
from framecast.store.time import utcnow

log = logging.getLogger(__name__)

VIDU_SIGNED_HEADERS = "Date;x-request-nonce"
PROCESSING_ATTEMPTS = 2
# a callback older than this is given up whatever its attempt count: receivers that are down for a day
# are better served by polling than by a burst of stale events
MAX_AGE = timedelta(hours=24)


def vidu_signing_string(*, method: str, url: str, date: str, nonce: str) -> str:
    """The string Vidu signs (reference section 1.5): every piece ends with a newline."""
    parts = urlsplit(url)
    pieces = [
        method.upper(),
        parts.path or "/",
        parts.query,
        "vidu",
        date,
        f"Date:{date}",
        f"x-request-nonce:{nonce}",
    ]
    return "".join(p + "\n" for p in pieces)


def vidu_headers(
    *, url: str, token: str, now: datetime | None = None, nonce: str | None = None
) -> dict[str, str]:
    date = format_datetime((now or datetime.now(UTC)).astimezone(UTC), usegmt=True)
    nonce = nonce or secrets.token_hex(16)
    message = vidu_signing_string(method="POST", url=url, date=date, nonce=nonce)
    signature = base64.b64encode(hmac.new(token.encode(), message.encode(), hashlib.sha256).digest()).decode()
    return {
        "Date": date,
        "x-request-nonce": nonce,
        "X-HMAC-SIGNED-HEADERS": VIDU_SIGNED_HEADERS,
        "X-HMAC-ALGORITHM": "hmac-sha256",
        "X-HMAC-ACCESS-KEY": "vidu",
        "X-HMAC-SIGNATURE": signature,
    }


def standard_webhook_headers(
    *, msg_id: str, body: bytes, secret: str, timestamp: int | None = None
) -> dict[str, str]:
    """Standard Webhooks: HMAC-SHA256 over ``id.timestamp.body`` keyed with the secret's bytes."""
    ts = int(time.time()) if timestamp is None else timestamp
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{ts}.".encode() + body
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": f"v1,{signature}"}


def as_of(task: Task, event: str) -> Task:
    """The task as it was when it entered ``event``: a processing callback carries no results."""
    state = TaskState(event)
    update: dict[str, Any] = {"state": state}
    if state is not TaskState.SUCCEEDED:
        update["creations"] = []
    if state is TaskState.RUNNING:
        update["error"] = None
    return task.model_copy(update=update)


class CallbackSender:
    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        signer: UrlSigner,
        secrets_box: SecretBox,
        renderers: Mapping[str, CallbackRenderer],
        transport: httpx.BaseTransport | None = None,
        resolver: Resolver | None = None,
        on_outcome: Callable[[str], None] | None = None,
        poll_seconds: float = 0.5,
    ) -> None:
        self.db = db
        self.settings = settings
        self.links = Links(
            signer=signer, base_url=settings.public_url or f"http://{settings.host}:{settings.port}"
        )
        self.secrets = secrets_box
        # dialect name -> body renderer, from the app's DialectTable
        self.renderers = renderers
        self.transport = transport
        self.resolver = resolver
        self.on_outcome = on_outcome
        self.poll_seconds = poll_seconds
        self.policy = FetchPolicy(
            allow_private=settings.allow_private_urls, timeout=settings.callback_timeout
        )
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="framecast-callbacks", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                sent = self.run_once()
            except Exception:
                log.exception("callback pass failed")
                sent = 0
            if not sent:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()

    def run_once(self) -> int:
        with self.db.session() as s:
            due = outbox.claim_due(s, limit=20, lease_seconds=self.settings.callback_timeout * 3)
        for item in due:
            self._deliver(item)
        return len(due)

    def _deliver(self, item: outbox.Due) -> None:
        with self.db.session() as s:
            row = task_store.get_row(s, task_id=item.task_id)
            task = (
                task_store.to_domain(row, task_store.creations_of(s, task_ids=[row.id])[row.id])
                if row
                else None
            )
            key = key_store.get_key(s, key_id=row.key_id) if row else None
            sealed = row.callback_key if row else None
        started = time.monotonic()
        status: int | None = None
        error = ""
        try:
            if task is None:
                raise _Skip("task no longer exists")
            view = as_of(task, item.event)
            renderer = self.renderers.get(task.dialect)
            if renderer is None:
                raise _Skip(f"dialect {task.dialect!r} renders no callback body")
            body_obj = renderer(view, self.links)
            body = json.dumps(body_obj, ensure_ascii=False, separators=(",", ":")).encode()
            if task.dialect == "vidu":
                token = self.secrets.open(sealed) if sealed else None
                if token is None:
                    raise _Skip("the key that created the task is not available to sign with")
                headers = vidu_headers(url=item.url, token=token)
            else:
                secret = key.webhook_secret if key is not None else ""
                if not secret:
                    raise _Skip("the key that created the task has no webhook secret")
                headers = standard_webhook_headers(
                    msg_id=f"msg_{item.id}_{item.task_id}", body=body, secret=secret
                )
            status = post(
                item.url, body, headers, self.policy, transport=self.transport, resolver=self.resolver
            )
            if not 200 <= status < 300:
                error = f"receiver answered HTTP {status}"
        except _Skip as exc:
            error = str(exc)
            self._finish(item, status, started, error, delivered=False, give_up=True)
            return
        except ClientError as exc:
            error = exc.message
        except Exception as exc:  # a bug must not wedge the outbox: record it and retry later
            log.exception("callback %s for task %s failed", item.id, item.task_id)
            error = f"internal error: {type(exc).__name__}"
        self._finish(item, status, started, error, delivered=not error, give_up=False)

    def _finish(
        self,
        item: outbox.Due,
        status: int | None,
        started: float,
        error: str,
        *,
        delivered: bool,
        give_up: bool,
    ) -> None:
        latency_ms = int((time.monotonic() - started) * 1000)
        attempts = item.attempts + 1
        limit = (
            PROCESSING_ATTEMPTS if item.event == TaskState.RUNNING.value else self.settings.callback_attempts
        )
        next_at: datetime | None = None
        if not delivered and not give_up and attempts < limit and utcnow() - item.created_at < MAX_AGE:
            next_at = utcnow() + timedelta(
                seconds=self.settings.callback_backoff_seconds * 2 ** (attempts - 1)
            )
        with self.db.session() as s:
            outbox.log_attempt(
                s,
                outbox_id=item.id,
                status_code=status,
                latency_ms=latency_ms,
                error=error,
                delivered=delivered,
                next_attempt_at=next_at,
            )
        outcome = "delivered" if delivered else "retry" if next_at else "dead"
        if self.on_outcome is not None:
            self.on_outcome(outcome)
        log.log(
            logging.INFO if delivered else logging.WARNING,
            "callback %s (%s, task %s) %s after %d ms%s",
            item.id,
            item.event,
            item.task_id,
            outcome,
            latency_ms,
            f": {error}" if error else "",
        )


class _Skip(Exception):
    """This callback can never be delivered; stop retrying it."""
