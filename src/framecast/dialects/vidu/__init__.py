"""Vidu enterprise API (``/ent/v2``): see reference/api-dialects.md section 1."""

from framecast.dialects.vidu.router import attach

# the name tasks created here carry (Task.dialect), and whether create bodies take a callback URL
NAME = "vidu"
ACCEPTS_CALLBACKS = True

__all__ = ["ACCEPTS_CALLBACKS", "NAME", "attach"]
