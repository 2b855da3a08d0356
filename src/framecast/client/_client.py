"""``Client`` and ``AsyncClient``: the logic lives once, only the I/O differs.

``_Base`` and the helpers next to it hold the settings and build every request (method,
path, body, headers) and parse every answer into a :class:`Task`, a :class:`TaskEvent` or a
typed exception; every ``create_*`` takes the same :class:`GenerationOptions`. ``_Wait`` is
``wait()``'s state machine (also which failed polls are retried) and ``_Pages`` is
``list()``'s paging. The two client classes only open their httpx client, send what those
build, blocking or awaited, sleep and read streams.

Tasks are created, read, listed and cancelled over the Vidu ``/ent/v2`` routes (the
reference dialect, so the client also reads tasks made by Vidu clients). ``wait()``
follows framecast's own event stream, ``/v1/tasks/{id}/events``, and falls back to
polling when the stream cannot be used (a proxy that buffers, a server without it).
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Generic, Self, TypedDict, TypeVar, Unpack

import anyio
import httpx

from framecast import __version__
from framecast.client._exceptions import (
    APIConnectionError,
    FramecastError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TaskFailed,
    TimeoutError,
    error_from_response,
    map_transport_errors,
)
from framecast.client._models import VIDU_FILTER, Task, TaskEvent, TaskState, Variant

__all__ = ["AsyncClient", "Client", "GenerationOptions", "ImageInput", "ProgressCallback"]

ImageInput = str | os.PathLike[str] | bytes
ProgressCallback = Callable[[TaskEvent], None]

DEFAULT_MODEL = "viduq3-pro"
DEFAULT_TIMEOUT = 60.0
DEFAULT_WAIT = 600.0
# the server sends a keep-alive every 15 s; this much silence means the stream is dead
STREAM_SILENCE = 45.0
_RETRYABLE = (APIConnectionError, ServerError, RateLimitError)
# the event stream is given up for polling when it breaks or carries something unreadable
_STREAM_BROKEN = (APIConnectionError, json.JSONDecodeError)

T = TypeVar("T")
_TransportT = TypeVar("_TransportT", httpx.BaseTransport, httpx.AsyncBaseTransport)


def image_to_wire(image: ImageInput) -> str:
    """http(s) and data URLs pass through; local files and bytes become data URIs."""
    if isinstance(image, str) and image.startswith(("http://", "https://", "data:")):
        return image
    data = image if isinstance(image, bytes) else Path(image).expanduser().read_bytes()
    return f"data:{_sniff_mime(data)};base64,{base64.b64encode(data).decode()}"


def _sniff_mime(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    # the server sniffs the bytes itself and answers ImageFormatInvalid if this guess is wrong
    return "application/octet-stream"


def _json(response: httpx.Response) -> dict[str, Any]:
    """The JSON object of a read answer, or the typed exception for an error status."""
    if response.is_error:
        raise error_from_response(response)
    if not response.content:
        return {}
    try:
        body = response.json()
    except ValueError as exc:
        raise ServerError(
            "the server answered with something that is not JSON",
            status_code=response.status_code,
            trace_id=response.headers.get("x-request-id", ""),
        ) from exc
    return body if isinstance(body, dict) else {"data": body}


def _nothing(body: dict[str, Any]) -> None:
    return None


@dataclass(frozen=True)
class _Call(Generic[T]):
    """A request ready to send, and how to read its answer."""

    request: httpx.Request
    parse: Callable[[dict[str, Any]], T]

    def answer(self, response: httpx.Response) -> T:
        return self.parse(_json(response))


class GenerationOptions(TypedDict, total=False):
    """The options every ``create_*`` method takes, as keyword arguments.

    Those not given (or given as None) are not sent, so the server's model defaults apply;
    ``model`` defaults to ``viduq3-pro``. ``extra`` adds any other Vidu field
    (``aspect_ratio``, ``payload``, ``wm_position``, ...). Also a type for callers that
    build the options up front: ``opts: GenerationOptions = {"duration": 2}``.
    """

    model: str
    duration: int | None
    resolution: str | None
    seed: int | None
    movement_amplitude: str | None
    watermark: bool | None
    callback_url: str | None
    extra: Mapping[str, Any] | None


class WaitOptions(TypedDict, total=False):
    """The options ``wait()`` takes, as keyword arguments.

    ``timeout`` (seconds, default 600): then :class:`TimeoutError` is raised and the task keeps
    running. ``on_progress``: called with each change of state or progress. ``poll_interval``
    (seconds, default 1): between queries when the server's event stream cannot be used.
    """

    timeout: float
    on_progress: ProgressCallback | None
    poll_interval: float


# the options that go into the body under their own name when given
_SENT_AS_IS = ("duration", "resolution", "seed", "movement_amplitude", "watermark", "callback_url")
# what each create_<kind> method posts to
_ENDPOINTS = {
    "first_last": "start-end2video",
    "image": "img2video",
    "text": "text2video",
    "reference": "reference2video",
}


@dataclass(frozen=True)
class _Download:
    """Where a result file comes from (a signed link: sent without the key) and goes to."""

    request: httpx.Request
    target: Path

    @contextmanager
    def writer(self, response: httpx.Response) -> Iterator[IO[bytes]]:
        """The file to write ``response`` to, once it is known not to be an error."""
        part = self.target.with_name(self.target.name + ".part")
        try:
            if response.is_error:
                raise error_from_response(response)
            # written aside and renamed, so a broken download never looks like a finished file
            with part.open("wb") as fh:
                yield fh
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        part.replace(self.target)


class _SSEParser:
    """The part of the event-stream format framecast uses: ``event:``, ``data:``, comments."""

    def __init__(self) -> None:
        self.event = ""
        self.data: list[str] = []

    def feed(self, line: str) -> tuple[str, str] | None:
        if not line:
            if not self.data:
                self.event = ""
                return None
            out = (self.event or "message", "\n".join(self.data))
            self.event, self.data = "", []
            return out
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self.event = value
        elif name == "data":
            self.data.append(value)
        return None


class _Base(Generic[_TransportT]):
    """What both clients share: the key, the settings and the building of every request.

    ``_TransportT`` is the httpx transport type a subclass takes, so ``Client(transport=...)``
    is typed for a sync transport and ``AsyncClient(transport=...)`` for an async one.
    """

    _http: httpx.Client | httpx.AsyncClient

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: _TransportT | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("api_key is empty")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        # per request, not client-wide: downloads go to signed links that must not see the key
        self._auth = {"Authorization": f"Token {api_key}"}
        user_agent = {"User-Agent": f"framecast-client/{__version__}"}
        self._http = self._open(transport, base_url=self.base_url, timeout=timeout, headers=user_agent)

    def _open(self, transport: _TransportT | None, **settings: Any) -> httpx.Client | httpx.AsyncClient:
        """The httpx client that does the I/O."""
        raise NotImplementedError

    def _build(
        self, method: str, path: str, headers: Mapping[str, str] | None = None, **kw: Any
    ) -> httpx.Request:
        """A request to the service, with the key."""
        return self._http.build_request(method, path, headers={**self._auth, **(headers or {})}, **kw)

    def _create_call(
        self, kind: str, images: Sequence[ImageInput], prompt: str | None, options: GenerationOptions
    ) -> _Call[Task]:
        """``create_<kind>()``'s request: the Vidu body, with only the options that were given."""
        if unknown := sorted(options.keys() - GenerationOptions.__optional_keys__):
            # what Python says for a keyword the signature lacks: `**options` alone would not catch it
            raise TypeError(f"create_{kind}() got an unexpected keyword argument {unknown[0]!r}")
        given: Mapping[str, Any] = options
        body: dict[str, Any] = {"model": given.get("model", DEFAULT_MODEL)}
        if images:
            body["images"] = [image_to_wire(i) for i in images]
        fields = {"prompt": prompt, **{name: given.get(name) for name in _SENT_AS_IS}}
        body.update({k: v for k, v in fields.items() if v is not None})
        body.update(given.get("extra") or {})
        return _Call(self._build("POST", f"/ent/v2/{_ENDPOINTS[kind]}", json=body), Task.from_vidu)

    def _get_call(self, task_id: str) -> _Call[Task]:
        return _Call(self._build("GET", f"/ent/v2/tasks/{task_id}/creations"), Task.from_vidu)

    def _inspect_call(self, task_id: str) -> _Call[Task]:
        return _Call(self._build("GET", f"/v1/tasks/{task_id}"), Task.from_native)

    def _cancel_call(self, task_id: str) -> _Call[None]:
        return _Call(self._build("POST", f"/ent/v2/tasks/{task_id}/cancel", json={"id": task_id}), _nothing)

    def _download_of(
        self, task: Task, path: str | os.PathLike[str], variant: Variant, index: int
    ) -> _Download:
        if task.state is not TaskState.SUCCEEDED or len(task.creations) <= index:
            raise ValueError(f"task {task.id} has no result {index} to download (state {task.state.value})")
        url = task.creations[index].url_for(variant)
        if not url:
            raise ValueError(f"task {task.id} has no {variant} file")
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        return _Download(self._http.build_request("GET", url), target)


class _Wait:
    """One ``wait()``, without the I/O: the deadline, the progress reports and how it ends.

    The event stream comes first; when it is unusable the caller polls instead, framecast's
    ``/v1/tasks/{id}`` until the server turns out not to have it, then the Vidu route.
    """

    def __init__(
        self,
        client: _Base[Any],
        task_id: str,
        *,
        timeout: float = DEFAULT_WAIT,
        on_progress: ProgressCallback | None = None,
        poll_interval: float = 1.0,
    ) -> None:
        self._client = client
        self.task_id = task_id
        self.deadline = time.monotonic() + timeout
        self.interval = poll_interval
        self._on_progress = on_progress
        self._parser = _SSEParser()
        self._native = True
        self._polled: TaskEvent | None = None

    def _report(self, event: TaskEvent) -> None:
        if self._on_progress is not None:
            self._on_progress(event)

    def _timed_out(self) -> TimeoutError:
        return TimeoutError(f"task {self.task_id} did not finish in time", task_id=self.task_id)

    # --- the event stream

    def events_request(self) -> httpx.Request:
        remaining = max(self.deadline - time.monotonic(), 0.1)
        return self._client._build(
            "GET",
            f"/v1/tasks/{self.task_id}/events",
            headers={"Accept": "text/event-stream"},
            timeout=httpx.Timeout(self._client.timeout, read=min(remaining, STREAM_SILENCE)),
        )

    def stream_usable(self, response: httpx.Response) -> bool:
        """Raises for a refused key; False when the answer is no event stream (then poll)."""
        if response.status_code in (401, 403):
            raise error_from_response(response)
        content_type = str(response.headers.get("content-type", ""))
        return not response.is_error and content_type.startswith("text/event-stream")

    def feed(self, line: str) -> TaskEvent | None:
        """One line of the stream; the terminal event once it has come."""
        if time.monotonic() > self.deadline:
            raise self._timed_out()
        item = self._parser.feed(line)
        if item is None:
            return None
        name, data = item
        if name == "error":
            body = json.loads(data)
            raise NotFoundError(
                str(body.get("message") or f"task {self.task_id} not found"),
                status_code=404,
                code=str(body.get("code") or "not_found"),
            )
        if name != "state":
            return None
        event = TaskEvent.from_native(json.loads(data))
        self._report(event)
        return event if event.state.terminal else None

    # --- polling

    def snapshot_call(self) -> _Call[TaskEvent]:
        if self._native:
            return _Call(self._client._build("GET", f"/v1/tasks/{self.task_id}"), TaskEvent.from_native)
        get = self._client._get_call(self.task_id)
        return _Call(get.request, lambda body: TaskEvent.from_task(get.parse(body)))

    def polled(self, outcome: TaskEvent | FramecastError) -> TaskEvent | float:
        """One poll's outcome, its event or the error it raised: the terminal event once there
        is one, else the seconds to sleep before the next poll.

        Reads are safe to repeat: connection errors, 5xx and 429 are ridden out (restarts, brief
        overloads) until another poll would be too late, which raises :class:`TimeoutError`.
        A 404 from ``/v1`` means a server without framecast's native routes: the next poll goes
        at once to the Vidu route, whose 404 (the task itself is missing) is raised like any
        other error.
        """
        if isinstance(outcome, NotFoundError) and self._native:
            self._native = False
            return 0.0
        if isinstance(outcome, FramecastError) and not isinstance(outcome, _RETRYABLE):
            raise outcome
        if isinstance(outcome, TaskEvent) and outcome != self._polled:
            self._polled = outcome
            self._report(outcome)
        if self._polled is not None and self._polled.state.terminal:
            return self._polled
        if time.monotonic() + self.interval > self.deadline:
            raise self._timed_out()
        return self.interval

    # --- the end

    @staticmethod
    def finish(task: Task, last: TaskEvent) -> Task:
        if task.state in (TaskState.FAILED, TaskState.CANCELLED):
            raise TaskFailed(task, last.error_message)
        return task


class _Pages:
    """``list()``'s paging: the filter, the page token, and which tasks of a page to keep."""

    def __init__(self, client: _Base[Any], states: Iterable[str] | None, page_size: int) -> None:
        if not 1 <= page_size <= 100:
            raise ValueError("page_size must be between 1 and 100")
        self._client = client
        self._wanted = {TaskState(s) for s in states or ()}
        self._params: dict[str, Any] = {"pager.pagesz": page_size}
        if self._wanted:
            self._params["states"] = ",".join(sorted({VIDU_FILTER[s] for s in self._wanted}))
        self._more = True

    def next_call(self) -> _Call[list[Task]] | None:
        """The call for the next page, or None after the last."""
        if not self._more:
            return None
        return _Call(self._client._build("GET", "/ent/v2/tasks", params=self._params), self._page)

    def _page(self, body: dict[str, Any]) -> list[Task]:
        token = body.get("next_page_token") or ""
        self._more = bool(token)
        if token:
            self._params["pager.page_token"] = token
        tasks = (Task.from_vidu(item) for item in body.get("tasks") or ())
        return [t for t in tasks if not self._wanted or t.state in self._wanted]


class Client(_Base[httpx.BaseTransport]):
    """A blocking client. Use it as a context manager, or call :meth:`close`."""

    _http: httpx.Client

    def _open(self, transport: httpx.BaseTransport | None, **settings: Any) -> httpx.Client:
        return httpx.Client(transport=transport, **settings)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _call(self, call: _Call[T]) -> T:
        with map_transport_errors():
            response = self._http.send(call.request)
        return call.answer(response)

    @contextmanager
    def _stream(self, request: httpx.Request) -> Iterator[httpx.Response]:
        """The answer, for reading as it comes; an error answer is read whole, for its message."""
        with map_transport_errors():
            response = self._http.send(request, stream=True)
            try:
                if response.is_error:
                    response.read()
                yield response
            finally:
                response.close()

    # --- create: the options are GenerationOptions, keyword arguments -----------------------------

    def create_first_last(
        self,
        first: ImageInput,
        last: ImageInput,
        *,
        prompt: str | None = None,
        **options: Unpack[GenerationOptions],
    ) -> Task:
        """A video from its first and last frame (``/ent/v2/start-end2video``)."""
        return self._call(self._create_call("first_last", [first, last], prompt, options))

    def create_image(
        self, image: ImageInput, *, prompt: str | None = None, **options: Unpack[GenerationOptions]
    ) -> Task:
        """A video that starts from one image (``/ent/v2/img2video``)."""
        return self._call(self._create_call("image", [image], prompt, options))

    def create_text(self, prompt: str, **options: Unpack[GenerationOptions]) -> Task:
        """A video from a prompt alone (``/ent/v2/text2video``); needs a generative engine."""
        return self._call(self._create_call("text", [], prompt, options))

    def create_reference(
        self, images: Sequence[ImageInput], prompt: str, **options: Unpack[GenerationOptions]
    ) -> Task:
        """A video with the subjects of 1-7 reference images (``/ent/v2/reference2video``)."""
        return self._call(self._create_call("reference", list(images), prompt, options))

    # --- read, wait, cancel, download ---------------------------------------------------------

    def get(self, task_id: str) -> Task:
        return self._call(self._get_call(task_id))

    def inspect(self, task_id: str) -> Task:
        """The task as framecast itself sees it: also its phase, attempts, lost workers and error text."""
        return self._call(self._inspect_call(task_id))

    def cancel(self, task_id: str) -> None:
        """Queued tasks end at once, running ones at their next frame; finished ones raise."""
        self._call(self._cancel_call(task_id))

    def wait(self, task_id: str, **options: Unpack[WaitOptions]) -> Task:
        """Block until the task ends; return it with its results, or raise :class:`TaskFailed`.

        Raises :class:`TimeoutError` after ``timeout`` seconds (the task keeps running).
        """
        wait = _Wait(self, task_id, **options)
        last = self._follow_events(wait) or self._follow_polling(wait)
        return wait.finish(self.get(task_id), last)

    def _follow_events(self, wait: _Wait) -> TaskEvent | None:
        """The terminal event from the stream, or None when the stream is unusable."""
        try:
            with self._stream(wait.events_request()) as response:
                if wait.stream_usable(response):
                    for line in response.iter_lines():
                        if (event := wait.feed(line)) is not None:
                            return event
        except _STREAM_BROKEN:
            pass
        # the stream broke or ended early: polling picks up from the database's current state
        return None

    def _follow_polling(self, wait: _Wait) -> TaskEvent:
        while True:
            try:
                outcome: TaskEvent | FramecastError = self._call(wait.snapshot_call())
            except FramecastError as exc:
                outcome = exc  # wait.polled() decides: poll again, or raise it
            if isinstance(step := wait.polled(outcome), TaskEvent):
                return step
            time.sleep(step)

    def download(
        self, task: str | Task, path: str | os.PathLike[str], *, variant: Variant = "video", index: int = 0
    ) -> Path:
        """Save a result file (``video``, ``cover`` or ``watermarked``) to ``path``; returns the path."""
        if isinstance(task, str):
            task = self.get(task)
        download = self._download_of(task, path, variant, index)
        with self._stream(download.request) as response, download.writer(response) as fh:
            for chunk in response.iter_bytes():
                fh.write(chunk)
        return download.target

    # --- list (last: the method name shadows the builtin inside the class body) ---------------

    def list(self, *, states: Iterable[str] | None = None, page_size: int = 20) -> Iterator[Task]:
        """Every task of this key's tenant, newest first, fetched a page at a time."""
        pages = _Pages(self, states, page_size)
        while (call := pages.next_call()) is not None:
            yield from self._call(call)


class AsyncClient(_Base[httpx.AsyncBaseTransport]):
    """The same as :class:`Client`, with ``await`` (asyncio or trio)."""

    _http: httpx.AsyncClient

    def _open(self, transport: httpx.AsyncBaseTransport | None, **settings: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=transport, **settings)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _call(self, call: _Call[T]) -> T:
        with map_transport_errors():
            response = await self._http.send(call.request)
        return call.answer(response)

    @asynccontextmanager
    async def _stream(self, request: httpx.Request) -> AsyncIterator[httpx.Response]:
        with map_transport_errors():
            response = await self._http.send(request, stream=True)
            try:
                if response.is_error:
                    await response.aread()
                yield response
            finally:
                await response.aclose()

    # local image files are read without a thread hop: they are small and on local disk

    async def create_first_last(
        self,
        first: ImageInput,
        last: ImageInput,
        *,
        prompt: str | None = None,
        **options: Unpack[GenerationOptions],
    ) -> Task:
        return await self._call(self._create_call("first_last", [first, last], prompt, options))

    async def create_image(
        self, image: ImageInput, *, prompt: str | None = None, **options: Unpack[GenerationOptions]
    ) -> Task:
        return await self._call(self._create_call("image", [image], prompt, options))

    async def create_text(self, prompt: str, **options: Unpack[GenerationOptions]) -> Task:
        return await self._call(self._create_call("text", [], prompt, options))

    async def create_reference(
        self, images: Sequence[ImageInput], prompt: str, **options: Unpack[GenerationOptions]
    ) -> Task:
        return await self._call(self._create_call("reference", list(images), prompt, options))

    async def get(self, task_id: str) -> Task:
        return await self._call(self._get_call(task_id))

    async def inspect(self, task_id: str) -> Task:
        """The task as framecast itself sees it: also its phase, attempts, lost workers and error text."""
        return await self._call(self._inspect_call(task_id))

    async def cancel(self, task_id: str) -> None:
        await self._call(self._cancel_call(task_id))

    async def wait(self, task_id: str, **options: Unpack[WaitOptions]) -> Task:
        wait = _Wait(self, task_id, **options)
        last = await self._follow_events(wait) or await self._follow_polling(wait)
        return wait.finish(await self.get(task_id), last)

    async def _follow_events(self, wait: _Wait) -> TaskEvent | None:
        try:
            async with self._stream(wait.events_request()) as response:
                if wait.stream_usable(response):
                    async for line in response.aiter_lines():
                        if (event := wait.feed(line)) is not None:
                            return event
        except _STREAM_BROKEN:
            pass
        return None

    async def _follow_polling(self, wait: _Wait) -> TaskEvent:
        while True:
            try:
                outcome: TaskEvent | FramecastError = await self._call(wait.snapshot_call())
            except FramecastError as exc:
                outcome = exc  # wait.polled() decides: poll again, or raise it
            if isinstance(step := wait.polled(outcome), TaskEvent):
                return step
            await anyio.sleep(step)

    async def download(
        self, task: str | Task, path: str | os.PathLike[str], *, variant: Variant = "video", index: int = 0
    ) -> Path:
        if isinstance(task, str):
            task = await self.get(task)
        download = self._download_of(task, path, variant, index)
        async with self._stream(download.request) as response:
            with download.writer(response) as fh:
                async for chunk in response.aiter_bytes():
                    fh.write(chunk)
        return download.target

    async def list(self, *, states: Iterable[str] | None = None, page_size: int = 20) -> AsyncIterator[Task]:
        pages = _Pages(self, states, page_size)
        while (call := pages.next_call()) is not None:
            for task in await self._call(call):
                yield task
