"""The preset background-music library, synthesised from the presets in tracks.toml.

Every track is made here, from a chord progression, a tempo and a few additive-synthesis instruments,
so its licence is the project's own and no audio file ships in the package. A track is rendered on
first use and kept in memory for the life of the process: nothing is written to disk, so nothing can
go stale between the code and a cached copy.

Each track is one seamless loop of whole bars: the tails of notes that ring past the loop's end are
wrapped round onto its start, so looping it has no click and no gap. The noise in the drums comes from
a generator seeded by the track's name, so the same name always gives the same samples.
"""

from __future__ import annotations

import functools
import tomllib
import zlib
from dataclasses import dataclass
from importlib import resources

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

SAMPLE_RATE = 44_100
BEATS_PER_BAR = 4

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)


@dataclass(frozen=True)
class Track:
    """One preset: a 4-bar chord loop (scale degrees, 0 = tonic) and the instruments that play it."""

    name: str
    bpm: float
    root: int  # MIDI note of the tonic
    scale: tuple[int, ...]
    progression: tuple[int, int, int, int]
    pad: float = 0.0  # level of the sustained chord
    arp: float = 0.0  # level of the plucked arpeggio
    arp_steps: int = 4  # arpeggio notes per beat
    arp_decay: float = 6.0  # per second: higher is shorter, more staccato
    bass: float = 0.0
    bass_steps: int = 1  # bass notes per beat
    kick: float = 0.0
    kick_beats: tuple[int, ...] = (0, 1, 2, 3)
    snare: float = 0.0
    hat: float = 0.0
    hat_offbeat: bool = True  # hats between the beats (upbeat feel) or on every sixteenth
    tremolo: float = 0.0  # electric-piano wobble on the pad, in Hz (0 = none)
    dissonance: bool = False  # a minor second on top of each chord

    @property
    def beat_seconds(self) -> float:
        return 60.0 / self.bpm

    @property
    def loop_seconds(self) -> float:
        return len(self.progression) * BEATS_PER_BAR * self.beat_seconds


SCALES = {"major": MAJOR, "minor": MINOR}


def _load_tracks() -> dict[str, Track]:
    """The presets of tracks.toml (data, so the table reads as one); a wrong field fails at import."""
    table = tomllib.loads(resources.files("framecast.audio").joinpath("tracks.toml").read_text("utf-8"))
    tracks = {}
    for name, fields in table.items():
        fields = dict(fields, scale=SCALES[fields["scale"]])
        for key in ("progression", "kick_beats"):
            if key in fields:
                fields[key] = tuple(fields[key])
        tracks[name] = Track(name=name, **fields)
    return tracks


# At least eight moods a prompt can ask for (moods.py maps words to them)
TRACKS: dict[str, Track] = _load_tracks()


def _hz(midi: float) -> float:
    return float(440.0 * 2.0 ** ((midi - 69) / 12))


def _chord(track: Track, degree: int) -> list[int]:
    """The triad on ``degree`` of the track's scale, as MIDI notes (plus the clash in a tense track)."""
    scale = track.scale
    notes = []
    for step in (0, 2, 4):
        i = degree + step
        notes.append(track.root + scale[i % 7] + 12 * (i // 7))
    if track.dissonance:
        notes.append(notes[0] + 13)
    return notes


@functools.cache
def _tone(freq: float, seconds: float, harmonics: tuple[float, ...], decay: float, attack: float) -> F64:
    """Additive tone: partial k at ``harmonics[k-1]`` level, an attack ramp and an exponential decay.

    Cached: a loop plays the same few notes over and over. Callers must not change the array."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    wave = np.zeros_like(t)
    for k, level in enumerate(harmonics, start=1):
        if freq * k < SAMPLE_RATE / 2:
            wave += level * np.sin(2 * np.pi * freq * k * t)
    env = np.exp(-decay * t) * np.minimum(1.0, t / attack)
    return np.asarray(wave * env, np.float64)


class _Score:
    """A mono buffer one loop long plus room for ringing tails, folded back onto the start at the end."""

    def __init__(self, track: Track) -> None:
        self.track = track
        self.n = round(track.loop_seconds * SAMPLE_RATE)
        self.buf = np.zeros(self.n + 4 * SAMPLE_RATE)

    def add(self, at_beat: float, sound: F64, level: float) -> None:
        start = round(at_beat * self.track.beat_seconds * SAMPLE_RATE)
        sound = sound[: len(self.buf) - start]
        self.buf[start : start + len(sound)] += level * sound

    def loop(self) -> F64:
        out = self.buf[: self.n].copy()
        tail = self.buf[self.n :]
        for i in range(0, len(tail), self.n):  # wrap the tails round: the loop joins without a click
            piece = tail[i : i + self.n]
            out[: len(piece)] += piece
        return out


def _noise(track: Track, seconds: float) -> F64:
    rng = np.random.default_rng(zlib.crc32(track.name.encode()))
    white = rng.standard_normal(int(seconds * SAMPLE_RATE))
    return np.diff(white, prepend=0.0)  # first difference: a crude high-pass, brighter like a cymbal


def _kick() -> F64:
    t = np.arange(int(0.35 * SAMPLE_RATE)) / SAMPLE_RATE
    freq = 45 + 75 * np.exp(-t * 30)  # the pitch drop that makes a thump
    phase = 2 * np.pi * np.cumsum(freq) / SAMPLE_RATE
    return np.sin(phase) * np.exp(-t * 9)


def _play(track: Track) -> tuple[F64, F64]:
    """The track's loop as (left, right): the pad wide, the arpeggio panned by pitch, drums centred."""
    beat = track.beat_seconds
    centre, left, right = _Score(track), _Score(track), _Score(track)
    hat_noise = _noise(track, 0.08)
    snare_noise = _noise(track, 0.2) * np.exp(-np.arange(int(0.2 * SAMPLE_RATE)) / SAMPLE_RATE * 18)
    hat = hat_noise * np.exp(-np.arange(len(hat_noise)) / SAMPLE_RATE * 60)
    kick = _kick()
    for bar, degree in enumerate(track.progression):
        b0 = bar * BEATS_PER_BAR
        notes = _chord(track, degree)
        if track.pad:
            for j, note in enumerate(notes):
                tone = _tone(_hz(note), BEATS_PER_BAR * beat + 1.0, (1.0, 0.3, 0.12), 0.6, 0.4)
                if track.tremolo:
                    t = np.arange(len(tone)) / SAMPLE_RATE
                    tone = tone * (1.0 - 0.35 * (0.5 + 0.5 * np.sin(2 * np.pi * track.tremolo * t)))
                (left if j % 2 == 0 else right).add(b0, tone, track.pad / len(notes))
                centre.add(b0, tone, 0.5 * track.pad / len(notes))
        if track.arp:
            pattern = [*notes[:3], notes[1] + 12 if len(notes) > 1 else notes[0]]
            steps = BEATS_PER_BAR * track.arp_steps
            for s in range(steps):
                note = pattern[s % len(pattern)] + 12
                tone = _tone(_hz(note), 1.5, (1.0, 0.5, 0.25, 0.12), track.arp_decay, 0.004)
                side = left if s % 2 == 0 else right
                side.add(b0 + s / track.arp_steps, tone, track.arp * 0.6)
                centre.add(b0 + s / track.arp_steps, tone, track.arp * 0.4)
        if track.bass:
            for s in range(BEATS_PER_BAR * track.bass_steps):
                tone = _tone(_hz(notes[0] - 24), beat / track.bass_steps, (1.0, 0.4, 0.1), 3.0, 0.01)
                centre.add(b0 + s / track.bass_steps, tone, track.bass)
        for q in range(BEATS_PER_BAR):
            if track.kick and q in track.kick_beats:
                centre.add(b0 + q, kick, track.kick)
            if track.snare and q % 2 == 1:
                centre.add(b0 + q, snare_noise, track.snare * 0.5)
            if track.hat:
                offsets = (0.5,) if track.hat_offbeat else (0.0, 0.25, 0.5, 0.75)
                for o in offsets:
                    centre.add(b0 + q + o, hat, track.hat)
    mid = centre.loop()
    return mid + left.loop(), mid + right.loop()


@functools.cache
def _render_cached(name: str) -> bytes:
    left, right = _play(TRACKS[name])
    stereo = np.stack([left, right], axis=1)
    stereo /= max(1e-9, float(np.abs(stereo).max()))  # peak at full scale; mix.py sets the loudness
    return stereo.astype(np.float32).tobytes()


def render(name: str) -> F32:
    """The named preset as float32 samples, shape (frames, 2), at :data:`SAMPLE_RATE`, one loop long."""
    if name not in TRACKS:
        raise KeyError(f"no preset track named {name!r}; one of: {', '.join(TRACKS)}")
    # cached as bytes so no caller can change the shared copy through the array it gets
    return np.frombuffer(_render_cached(name), dtype=np.float32).reshape(-1, 2).copy()
