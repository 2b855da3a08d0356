"""Kling official API (``/v1/videos/image2video``, ``omni-video``, ``text2video``): reference section 6."""

from framecast.dialects.kling.router import attach

__all__ = ["attach"]
