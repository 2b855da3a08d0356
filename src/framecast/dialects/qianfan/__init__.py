"""Baidu Qianfan video (``/beta/video/generations/qianfan-video``): reference section 2."""

from framecast.dialects.dialect import Dialect
from framecast.dialects.qianfan.errors import http_level_error
from framecast.dialects.qianfan.router import callback_renderer, router

# errors before the model family is known; the router answers family errors itself. Callbacks: the
# Kling family's model_parameters.callback_url. Limits: per model family (Kling's or Vidu-family's).
DIALECT = Dialect("qianfan", router, http_level_error, callback_renderer)

__all__ = ["DIALECT"]
