"""Kling official API (``/v1/videos/image2video``, ``omni-video``, ``text2video``): reference section 6."""

from framecast.dialects.kling.router import attach

# the name tasks created here carry (Task.dialect), and whether create bodies take a callback URL
NAME = "kling"
ACCEPTS_CALLBACKS = True

__all__ = ["ACCEPTS_CALLBACKS", "NAME", "attach"]
