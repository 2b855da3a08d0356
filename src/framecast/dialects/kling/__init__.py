"""Kling official API (``/v1/videos/image2video``, ``omni-video``, ``text2video``): reference section 6."""

from framecast.dialects.dialect import Dialect, fixed
from framecast.dialects.kling import translate
from framecast.dialects.kling.errors import kling_error
from framecast.dialects.kling.router import ENDPOINTS, PREFIX, router

DIALECT = Dialect(
    name="kling",
    prefixes=tuple(f"{PREFIX}/{endpoint}" for endpoint in ENDPOINTS),
    router=router,
    render_error=kling_error,
    render_callback=fixed(translate.render_task),
    accepts_callbacks=True,
    limits=translate.LIMITS,
)

__all__ = ["DIALECT"]
