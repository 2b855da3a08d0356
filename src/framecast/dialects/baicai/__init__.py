"""Baicai infer (``/v1/videos/generations``, ``/v1/resources``, ``/v1/comfyui``): reference section 5."""

from framecast.dialects.baicai.router import attach

__all__ = ["attach"]
