"""The framecast Python client (sync and async), also used by ``framecast submit``.

from framecast import Client

with Client("http://127.0.0.1:8000", api_key) as fc:
    task = fc.create_first_last("a.png", "b.png", prompt="slow push in", duration=2)
    task = fc.wait(task.id, on_progress=lambda e: print(e.state, e.progress))
    fc.download(task, "out.mp4")
"""

from __future__ import annotations

from framecast.client._client import (
    AsyncClient,
    Client,
    GenerationOptions,
    ImageInput,
    ProgressCallback,
    WaitOptions,
)
from framecast.client._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ConflictError,
    FramecastError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TaskFailed,
    TimeoutError,
)
from framecast.client._models import Creation, Task, TaskEvent, TaskState, Variant

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncClient",
    "AuthenticationError",
    "Client",
    "ConflictError",
    "Creation",
    "FramecastError",
    "GenerationOptions",
    "ImageInput",
    "InvalidRequestError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProgressCallback",
    "RateLimitError",
    "ServerError",
    "Task",
    "TaskEvent",
    "TaskFailed",
    "TaskState",
    "TimeoutError",
    "Variant",
    "WaitOptions",
]

# reprs and tracebacks show framecast.client.Task, not the private module (httpx does the same);
# TaskState is framecast.domain's and keeps its home
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) and _obj.__module__.startswith("framecast.client."):
        _obj.__module__ = "framecast.client"
del _name, _obj
