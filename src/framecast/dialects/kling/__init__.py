"""Kling official API (``/v1/videos/image2video``, ``omni-video``, ``text2video``): reference section 6."""

from framecast.dialects.dialect import Dialect, fixed
from framecast.dialects.kling import translate
from framecast.dialects.kling.errors import kling_error
from framecast.dialects.kling.router import PREFIXES, router

# only its own endpoints: the rest of /v1/videos is OpenAI's
DIALECT = Dialect(
    "kling", router, kling_error, fixed(translate.render_task), limits=translate.LIMITS, prefixes=PREFIXES
)

__all__ = ["DIALECT"]
