"""Vidu enterprise API (``/ent/v2``): see reference/api-dialects.md section 1."""

from framecast.dialects.vidu.router import attach

__all__ = ["attach"]
