"""Which preset track fits a prompt: mood words in English and Chinese, or the seed when there are none.

The mood with the most words in the prompt wins; a tie goes to the mood named first. English words
match whole words with common endings (``smile`` matches ``smiles`` and ``smiling`` is listed as its
own word), so ``cat`` never matches ``category``. Chinese has no spaces, so its words match as
substrings. With no mood word at all, the seed picks, so the same request always gets the same track.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from framecast.audio.synth import TRACKS

ENGLISH: dict[str, tuple[str, ...]] = {
    "calm": (
        "calm",
        "peaceful",
        "quiet",
        "serene",
        "relax",
        "relaxing",
        "relaxed",
        "gentle",
        "tranquil",
        "meditation",
        "still",
        "slow",
        "lake",
        "breeze",
        "cozy",
    ),
    "upbeat": (
        "happy",
        "upbeat",
        "cheerful",
        "bright",
        "sunny",
        "joy",
        "joyful",
        "celebration",
        "celebrate",
        "party",
        "smile",
        "smiling",
        "summer",
        "festival",
    ),
    "cinematic": (
        "cinematic",
        "epic",
        "grand",
        "majestic",
        "vast",
        "heroic",
        "mountain",
        "landscape",
        "aerial",
        "drone",
        "sky",
        "ocean",
        "galaxy",
        "space",
    ),
    "playful": (
        "playful",
        "cute",
        "funny",
        "cartoon",
        "kid",
        "child",
        "children",
        "puppy",
        "kitten",
        "cat",
        "dog",
        "bunny",
        "rabbit",
        "toy",
        "silly",
        "bounce",
        "bouncing",
    ),
    "tense": (
        "tense",
        "suspense",
        "dark",
        "horror",
        "scary",
        "mystery",
        "mysterious",
        "danger",
        "dangerous",
        "thriller",
        "creepy",
        "storm",
        "fear",
        "shadow",
        "ghost",
    ),
    "sad": (
        "sad",
        "melancholy",
        "lonely",
        "alone",
        "rain",
        "rainy",
        "tear",
        "tears",
        "cry",
        "crying",
        "nostalgic",
        "memory",
        "memories",
        "farewell",
        "grief",
        "autumn",
    ),
    "romantic": (
        "romantic",
        "romance",
        "love",
        "wedding",
        "kiss",
        "couple",
        "sunset",
        "tender",
        "heart",
        "valentine",
        "bride",
        "dating",
    ),
    "energetic": (
        "energetic",
        "action",
        "sport",
        "sports",
        "fast",
        "run",
        "running",
        "race",
        "racing",
        "dance",
        "dancing",
        "power",
        "powerful",
        "explosion",
        "fight",
        "speed",
        "workout",
    ),
}

CHINESE: dict[str, tuple[str, ...]] = {
    "calm": ("平静", "安静", "宁静", "放松", "舒缓", "悠闲", "恬静", "湖面", "微风"),
    "upbeat": ("快乐", "欢快", "开心", "阳光", "愉快", "庆祝", "喜悦", "欢乐", "夏日", "笑"),
    "cinematic": ("电影", "史诗", "壮丽", "宏伟", "大气", "磅礴", "山脉", "航拍", "星空", "宇宙"),
    "playful": ("可爱", "俏皮", "有趣", "卡通", "孩子", "小猫", "小狗", "萌", "兔子", "玩具"),
    "tense": ("紧张", "悬疑", "恐怖", "黑暗", "危险", "神秘", "惊悚", "暴风", "阴影"),
    "sad": ("悲伤", "忧伤", "孤独", "下雨", "雨天", "眼泪", "回忆", "怀旧", "离别", "哭"),
    "romantic": ("浪漫", "爱情", "婚礼", "情侣", "亲吻", "温柔", "夕阳", "约会", "心动"),
    "energetic": ("激烈", "运动", "奔跑", "赛车", "动感", "跳舞", "力量", "爆炸", "活力", "速度"),
}

MOODS: tuple[str, ...] = tuple(TRACKS)
_ENDINGS = r"(?:s|es|ed|d|ing|ly)?"
_PATTERNS = {
    mood: re.compile(r"\b(" + "|".join(map(re.escape, words)) + r")" + _ENDINGS + r"\b")
    for mood, words in ENGLISH.items()
}


@dataclass(frozen=True)
class MoodChoice:
    mood: str  # a key of synth.TRACKS
    reason: str  # for the task record: the words that chose it, or the seed


def choose(prompt: str, seed: int) -> MoodChoice:
    """The preset track for ``prompt``; ``seed`` decides when the prompt names no mood."""
    text = prompt.lower()
    best: tuple[int, int, str] | None = None  # (-hits, first position, mood)
    found: dict[str, list[str]] = {}
    for mood in MOODS:
        hits: list[tuple[int, str]] = [(m.start(), m.group(0)) for m in _PATTERNS[mood].finditer(text)]
        for word in CHINESE[mood]:
            hits += [(m.start(), word) for m in re.finditer(re.escape(word), text)]
        if not hits:
            continue
        hits.sort()
        found[mood] = [w for _, w in hits]
        key = (-len(hits), hits[0][0], mood)
        if best is None or key < best:
            best = key
    if best is None:
        mood = MOODS[seed % len(MOODS)]
        return MoodChoice(mood, f"no mood word in the prompt; chosen by seed {seed}")
    mood = best[2]
    words = ", ".join(dict.fromkeys(found[mood]))
    return MoodChoice(mood, f"mood words: {words}")
