"""The expander the operator configured: the chat endpoint when one is set, else the built-in one."""

from __future__ import annotations

from framecast.config import Settings
from framecast.prompts.base import Expander
from framecast.prompts.chat import ChatExpander
from framecast.prompts.motion import MotionExpander


def expander_for(settings: Settings) -> Expander:
    if settings.prompt_llm_url:
        return ChatExpander(
            base_url=settings.prompt_llm_url,
            model=settings.prompt_llm_model,
            api_key=settings.prompt_llm_api_key,
            timeout=settings.prompt_llm_timeout,
        )
    return MotionExpander()
