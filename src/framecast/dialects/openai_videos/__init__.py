"""OpenAI Videos API (``/v1/videos``, Sora 2): see reference/api-dialects.md section 4."""

from framecast.dialects.openai_videos.router import attach

# the name tasks created here carry (Task.dialect), and whether create bodies take a callback URL
NAME = "openai"
ACCEPTS_CALLBACKS = False

__all__ = ["ACCEPTS_CALLBACKS", "NAME", "attach"]
