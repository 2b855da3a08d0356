"""Prompt moderation: a hook every submit passes through before anything is stored.

The built-in ``BlocklistModerator`` matches a configurable list of terms (one per
line, ``#`` comments; Latin terms match whole words, CJK terms match anywhere).
A real classifier plugs in by implementing :class:`Moderator` and being passed to
``TaskService(moderator=...)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str = ""


class Moderator(Protocol):
    def check_prompt(self, text: str) -> Verdict: ...


class AllowAll:
    def check_prompt(self, text: str) -> Verdict:
        return Verdict(True)


class BlocklistModerator:
    def __init__(self, terms: list[str]) -> None:
        self.terms = [t.strip().lower() for t in terms if t.strip()]
        latin = [re.escape(t) for t in self.terms if t.isascii()]
        self._latin = re.compile(r"(?<!\w)(" + "|".join(latin) + r")(?!\w)", re.IGNORECASE) if latin else None
        self._other = [t for t in self.terms if not t.isascii()]

    @classmethod
    def from_file(cls, path: Path | None = None) -> BlocklistModerator:
        if path is None:
            text = resources.files("framecast").joinpath("assets/blocklist.txt").read_text(encoding="utf-8")
        else:
            text = path.read_text(encoding="utf-8")
        return cls([line.split("#", 1)[0] for line in text.splitlines()])

    def check_prompt(self, text: str) -> Verdict:
        if self._latin is not None:
            m = self._latin.search(text)
            if m:
                return Verdict(False, f"the prompt contains a blocked term ({m.group(0)!r})")
        lowered = text.lower()
        for term in self._other:
            if term in lowered:
                return Verdict(False, f"the prompt contains a blocked term ({term!r})")
        return Verdict(True)
