"""Baidu Qianfan video (``/beta/video/generations/qianfan-video``): reference section 2."""

from framecast.dialects.qianfan.router import attach

__all__ = ["attach"]
