"""The expander interface: what it is given and what it returns."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from framecast.frames import Frame

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class ExpandRequest:
    prompt: str  # the client's words ("" when it asked for a recommendation)
    language: str  # "en" or "zh": the language the result is written in
    first: Frame | None = None  # the keyframes, when the request has them
    last: Frame | None = None


class Expander(Protocol):
    name: str

    def expand(self, req: ExpandRequest) -> str:
        """The prompt to generate with. Never raises for a bad upstream: falls back instead."""
        ...


def language_of(text: str) -> str:
    """ "zh" when the text has any Chinese characters, else "en"."""
    return "zh" if _CJK.search(text) else "en"
