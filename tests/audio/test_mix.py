"""Fitting, loudness and muxing: the soundtrack is as long as the video, at -16 LUFS, AAC and in sync."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from framecast.audio import mix, soundtrack, synth
from framecast.audio.generate import AudioModels
from framecast.domain import GenerationRequest, TaskKind
from framecast.media.encode import H264Writer
from framecast.media.labels import read_label

W, H = 160, 96
RATE = synth.SAMPLE_RATE


def silent_video(path: Path, frames: int, fps: int, label: str = "") -> Path:
    with H264Writer(path, width=W, height=H, fps=fps, label=label) as w:
        for i in range(frames):
            frame = np.full((H, W, 3), (i * 7) % 255, np.uint8)
            w.write(frame, keyframe=i == 0)
    return path


def streams(path: Path) -> tuple[float, float, str]:
    """(video seconds, audio seconds, audio codec) as a player reads the file."""
    with av.open(str(path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert v.duration is not None and v.time_base is not None
        assert a.duration is not None and a.time_base is not None
        return float(v.duration * v.time_base), float(a.duration * a.time_base), a.codec_context.name


def decoded_audio(path: Path) -> np.ndarray:
    samples, rate = mix.decode(path)
    assert rate == RATE
    return samples


@pytest.mark.parametrize("seconds", [0.3, 2.0, 7.5, 30.0])
def test_fit_loops_or_trims_to_length_with_fades(seconds: float) -> None:
    loop = synth.render("upbeat")  # 8 s: 30 s loops it, 2 s trims it
    out = mix.fit(loop, RATE, seconds)
    assert out.shape == (round(seconds * RATE), 2)
    assert out[0].max() == 0.0 and out[-1].max() == 0.0  # starts and ends at silence: no click
    if seconds > len(loop) / RATE:
        middle = len(loop) + RATE  # inside the second pass: the loop repeats sample for sample
        assert np.array_equal(out[middle], loop[RATE])


@pytest.mark.parametrize("name", ["calm", "energetic", "cinematic"])
def test_normalised_to_about_minus_16_lufs_with_headroom(name: str) -> None:
    out = mix.normalise(mix.fit(synth.render(name), RATE, 6.0), RATE)
    assert mix.loudness(out, RATE) == pytest.approx(mix.TARGET_LUFS, abs=1.0)
    assert float(np.abs(out).max()) <= mix.PEAK_CEILING


def test_too_short_to_measure_takes_the_whole_tracks_gain() -> None:
    loop = synth.render("calm")
    short = mix.normalise(mix.fit(loop, RATE, 0.25), RATE, reference=loop)
    whole = mix.normalise(loop, RATE)
    # same gain as the whole track got: the quarter second is as loud as the same stretch of the whole
    ratio = float(np.abs(short[RATE // 10]).max() / max(1e-9, float(np.abs(loop[RATE // 10]).max())))
    assert ratio == pytest.approx(float(np.abs(whole).max() / np.abs(loop).max()), rel=0.3)


@pytest.mark.parametrize(("frames", "fps"), [(48, 24), (125, 25), (61, 30)])
def test_bgm_is_aac_in_sync_and_keeps_the_label(tmp_path: Path, frames: int, fps: int) -> None:
    video = silent_video(tmp_path / "v.mp4", frames, fps, label='{"Label": "1"}')
    with av.open(str(video)) as c:
        before = [bytes(p) for p in c.demux(video=0) if p.dts is not None]
    req = GenerationRequest(kind=TaskKind.FIRST_LAST, model="m", bgm=True)
    sound = soundtrack.plan(req, prompt="a calm lake", seed=1)
    assert sound is not None and sound.track == "calm"
    soundtrack.apply(sound, [video], frames=frames, fps=fps, seed=1, models=AudioModels())

    v_seconds, a_seconds, codec = streams(video)
    assert codec == "aac"
    assert v_seconds == pytest.approx(frames / fps, abs=1e-3)
    assert abs(a_seconds - v_seconds) <= 1 / fps  # within one frame
    with av.open(str(video)) as c:
        after = [bytes(p) for p in c.demux(video=0) if p.dts is not None]
    assert after == before  # the video stream is copied, not encoded again
    assert read_label(video) == '{"Label": "1"}'
    heard = decoded_audio(video)
    assert mix.loudness(heard, RATE) == pytest.approx(mix.TARGET_LUFS, abs=1.0)
    assert not list(tmp_path.glob("*.sound.*"))  # the scratch file is gone


def test_same_seed_and_prompt_same_track_and_same_sound(tmp_path: Path) -> None:
    req = GenerationRequest(kind=TaskKind.FIRST_LAST, model="m", bgm=True)
    picks = [soundtrack.plan(req, prompt="a box on a table", seed=11) for _ in range(2)]
    assert picks[0] == picks[1] and picks[0] is not None
    files = [silent_video(tmp_path / f"{i}.mp4", 24, 24) for i in range(2)]
    for f in files:
        soundtrack.apply(picks[0], [f], frames=24, fps=24, seed=11, models=AudioModels())
    assert np.array_equal(decoded_audio(files[0]), decoded_audio(files[1]))
    assert soundtrack.plan(req.model_copy(update={"bgm": False}), prompt="x", seed=1) is None


def aac_clip(path: Path, seconds: float, codec: str = "aac") -> Path:
    """A short MP4 (or MKV for other codecs) with a 440 Hz tone, as a reference video would carry."""
    fmt = "mp4" if codec == "aac" else "matroska"
    with av.open(str(path), mode="w", format=fmt) as c:
        s = c.add_stream(codec, rate=RATE, layout="stereo")
        t = np.arange(round(seconds * RATE)) / RATE
        tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        planar = np.ascontiguousarray(np.stack([tone, tone]))
        fmt_name = "fltp" if codec == "aac" else "s16"
        for start in range(0, planar.shape[1], 1024):
            chunk = planar[:, start : start + 1024]
            if fmt_name == "s16":
                chunk = (chunk * 32767).astype(np.int16).T.reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format=fmt_name, layout="stereo")
            frame.sample_rate, frame.pts, frame.time_base = RATE, start, Fraction(1, RATE)
            c.mux(s.encode(frame))
        c.mux(s.encode(None))
    return path


@pytest.mark.parametrize("source_seconds", [1.0, 5.0])
def test_original_aac_sound_is_copied_looped_or_cut(tmp_path: Path, source_seconds: float) -> None:
    src = aac_clip(tmp_path / "ref.mp4", source_seconds)
    video = silent_video(tmp_path / "v.mp4", 72, 24)  # 3 s
    assert mix.carry(video, src, tmp_path / "out.mp4")
    v_seconds, a_seconds, codec = streams(tmp_path / "out.mp4")
    assert codec == "aac"
    assert abs(a_seconds - v_seconds) <= 1024 / RATE + 1 / 24  # cut at a packet edge
    with av.open(str(src)) as c:
        source_packets = {bytes(p) for p in c.demux(audio=0) if p.dts is not None}
    with av.open(str(tmp_path / "out.mp4")) as c:
        carried = [bytes(p) for p in c.demux(audio=0) if p.dts is not None]
    assert carried and set(carried) <= source_packets  # packets copied: no re-encode


def test_original_sound_in_another_codec_is_encoded_to_aac(tmp_path: Path) -> None:
    src = aac_clip(tmp_path / "ref.mkv", 1.0, codec="pcm_s16le")
    video = silent_video(tmp_path / "v.mp4", 48, 24)
    assert mix.carry(video, src, tmp_path / "out.mp4")
    v_seconds, a_seconds, codec = streams(tmp_path / "out.mp4")
    assert codec == "aac" and abs(a_seconds - v_seconds) <= 1 / 24


def test_a_source_without_sound_writes_nothing(tmp_path: Path) -> None:
    src = silent_video(tmp_path / "ref.mp4", 24, 24)
    assert not mix.carry(silent_video(tmp_path / "v.mp4", 24, 24), src, tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()
