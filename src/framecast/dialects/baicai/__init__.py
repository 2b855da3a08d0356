"""Baicai infer (``/v1/videos/generations``, ``/v1/resources``, ``/v1/comfyui``): reference section 5."""

from framecast.dialects.baicai.router import attach

# the name tasks created here carry (Task.dialect), and whether create bodies take a callback URL
NAME = "baicai"
ACCEPTS_CALLBACKS = False

__all__ = ["ACCEPTS_CALLBACKS", "NAME", "attach"]
