"""framecast: self-hosted video generation behind the commercial video APIs' wire formats."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["AsyncClient", "Client", "__version__"]

if TYPE_CHECKING:
    from framecast.client import AsyncClient, Client


def __getattr__(name: str) -> Any:
    # PEP 562: `import framecast` (the server, the CLI) must not pay for the client's imports
    if name in ("Client", "AsyncClient"):
        from framecast import client

        return getattr(client, name)
    raise AttributeError(f"module 'framecast' has no attribute {name!r}")
