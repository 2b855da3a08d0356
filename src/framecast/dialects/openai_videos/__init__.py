"""OpenAI Videos API (``/v1/videos``, Sora 2): see reference/api-dialects.md section 4."""

from framecast.dialects.openai_videos.router import attach

__all__ = ["attach"]
