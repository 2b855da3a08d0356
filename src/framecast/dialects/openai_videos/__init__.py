"""OpenAI Videos API (``/v1/videos``, Sora 2): see reference/api-dialects.md section 4."""

from framecast.dialects.dialect import Dialect
from framecast.dialects.openai_videos import translate
from framecast.dialects.openai_videos.errors import openai_error
from framecast.dialects.openai_videos.router import PREFIXES, router

# no callback URL in OpenAI's create body
DIALECT = Dialect("openai", router, openai_error, limits=translate.LIMITS, prefixes=PREFIXES)

__all__ = ["DIALECT"]
