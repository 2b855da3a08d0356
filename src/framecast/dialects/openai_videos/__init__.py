"""OpenAI Videos API (``/v1/videos``, Sora 2): see reference/api-dialects.md section 4."""

from framecast.dialects.dialect import Dialect
from framecast.dialects.openai_videos import translate
from framecast.dialects.openai_videos.errors import openai_error
from framecast.dialects.openai_videos.router import FILES_PREFIX, MODELS_PREFIX, PREFIX, router

DIALECT = Dialect(
    name="openai",
    prefixes=(PREFIX, FILES_PREFIX, MODELS_PREFIX),
    router=router,
    render_error=openai_error,
    accepts_callbacks=False,
    limits=translate.LIMITS,
)

__all__ = ["DIALECT"]
