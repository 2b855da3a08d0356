"""Baidu Qianfan video (``/beta/video/generations/qianfan-video``): reference section 2."""

from framecast.dialects.qianfan.router import attach

# the name tasks created here carry (Task.dialect), and whether create bodies take a callback URL
NAME = "qianfan"
ACCEPTS_CALLBACKS = True  # Kling-family model_parameters.callback_url

__all__ = ["ACCEPTS_CALLBACKS", "NAME", "attach"]
