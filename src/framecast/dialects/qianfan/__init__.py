"""Baidu Qianfan video (``/beta/video/generations/qianfan-video``): reference section 2."""

from framecast.dialects.dialect import Dialect
from framecast.dialects.qianfan.errors import http_level_error
from framecast.dialects.qianfan.router import PREFIX, callback_renderer, router

DIALECT = Dialect(
    name="qianfan",
    prefixes=(PREFIX,),
    router=router,
    # everything before the model family is known; the router answers family errors itself
    render_error=http_level_error,
    render_callback=callback_renderer,
    accepts_callbacks=True,  # Kling-family model_parameters.callback_url
    limits=None,  # per model family: Kling's or Qianfan's Vidu-family limits
)

__all__ = ["DIALECT"]
