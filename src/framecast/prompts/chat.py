"""An expander that asks an OpenAI-compatible chat endpoint (a local vLLM or Ollama, say).

The built-in expander's measured description goes into the request, so the model writes from what
the keyframes really show rather than guessing. Anything that goes wrong upstream (refused
connection, timeout, an error status, a body without a message) is logged and the built-in
expander's answer is used instead: a task never fails because the prompt writer is down.
"""

from __future__ import annotations

import logging
import time

import httpx

from framecast.prompts.base import ExpandRequest
from framecast.prompts.motion import MotionExpander, join

log = logging.getLogger(__name__)

MAX_PROMPT_CHARS = 2000  # a reply longer than this is cut: the engines' prompt limits are near it

_SYSTEM = {
    "en": (
        "You write prompts for a video generator. Reply with one concise English paragraph (at most "
        "60 words) describing the shot: subject, action, camera movement, light. No preamble."
    ),
    "zh": (
        "你为视频生成模型写提示词。只用一段简洁的中文（不超过100字）描述镜头：主体、动作、运镜、光线。"
        "不要任何前言。"
    ),
}


class ChatExpander:
    name = "chat"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str = "",
        timeout: float = 10.0,
        fallback: MotionExpander | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout = timeout
        self.fallback = fallback or MotionExpander()
        self.transport = transport

    def expand(self, req: ExpandRequest) -> str:
        measured = self.fallback.describe(req)
        began = time.monotonic()
        try:
            written = self._ask(req, measured)
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            log.warning(
                "prompt endpoint %s failed after %.1f s (%s); using the built-in description",
                self.url,
                time.monotonic() - began,
                type(exc).__name__,
            )
            return join(req.prompt, measured, req.language)
        return written[:MAX_PROMPT_CHARS]

    def _ask(self, req: ExpandRequest, measured: str) -> str:
        if req.language == "zh":
            user = f"用户的描述：{req.prompt or '（无）'}\n从关键帧测得的运动：{measured}"
        else:
            user = (
                f"The user's description: {req.prompt or '(none)'}\n"
                f"Motion measured from the keyframes: {measured}"
            )
        body = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": _SYSTEM.get(req.language, _SYSTEM["en"])},
                {"role": "user", "content": user},
            ],
            "temperature": 0,
            "max_tokens": 300,
        }
        with httpx.Client(timeout=self.timeout, transport=self.transport) as client:
            resp = client.post(self.url, json=body, headers=self.headers)
            resp.raise_for_status()
            text = str(resp.json()["choices"][0]["message"]["content"]).strip()
        if not text:
            raise ValueError("the endpoint answered with an empty message")
        return text
