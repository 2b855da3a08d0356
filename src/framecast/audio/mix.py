"""Fit a soundtrack to a video and put it in the MP4 as AAC, the video stream copied untouched.

- :func:`fit` loops or trims samples to the video's length and fades them in and out, so a track
  never starts or stops with a click;
- :func:`normalise` brings the result to :data:`TARGET_LUFS` integrated loudness (ITU-R BS.1770 as
  pyloudnorm measures it), a common target for phones and the web, with a soft limit
  keeping peaks under -1 dBFS so the AAC encoder has headroom;
- :func:`mux` writes a new MP4 from the video's packets (no re-encode: the keyframes keep their
  quality) and the AAC-encoded samples; the container's metadata (the AIGC label) is carried over;
- :func:`carry` does the same with the audio of another file (a reference video whose sound is
  kept): AAC packets are copied as they are, looped or cut at a packet edge; any other codec is
  decoded and goes through :func:`fit` and :func:`mux`.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pyloudnorm

F32 = npt.NDArray[np.float32]

TARGET_LUFS = -16.0
PEAK_CEILING = 10 ** (-1.0 / 20)  # -1 dBFS
FADE_IN_S = 0.5
FADE_OUT_S = 1.5
AAC_BITRATE = 160_000
_MIN_MEASURE_S = 0.4  # BS.1770 gates in 400 ms blocks: anything shorter has no integrated loudness


def fit(samples: F32, sample_rate: int, seconds: float) -> F32:
    """``samples`` (frames, channels) looped or cut to ``seconds``, faded in and out."""
    n = max(1, round(seconds * sample_rate))
    reps = -(-n // len(samples))
    out = np.tile(samples, (reps, 1))[:n].astype(np.float32)
    # short videos get shorter fades: never more than a quarter of the length each
    fade_in = min(round(FADE_IN_S * sample_rate), n // 4)
    fade_out = min(round(FADE_OUT_S * sample_rate), n // 4)
    if fade_in:
        out[:fade_in] *= np.linspace(0.0, 1.0, fade_in, dtype=np.float32)[:, None]
    if fade_out:
        out[n - fade_out :] *= np.linspace(1.0, 0.0, fade_out, dtype=np.float32)[:, None]
    return out


def loudness(samples: F32, sample_rate: int) -> float:
    """Integrated loudness in LUFS (-inf for silence)."""
    return float(pyloudnorm.Meter(sample_rate).integrated_loudness(samples.astype(np.float64)))


def normalise(
    samples: F32, sample_rate: int, target: float = TARGET_LUFS, reference: F32 | None = None
) -> F32:
    """``samples`` at ``target`` LUFS with peaks softly held under -1 dBFS.

    ``reference`` is measured instead when ``samples`` is too short for BS.1770 (under 400 ms): the
    gain that brings the whole track to the target is the right one for a piece of it.
    """
    measured = samples if len(samples) >= _MIN_MEASURE_S * sample_rate else reference
    if measured is None or len(measured) < _MIN_MEASURE_S * sample_rate:
        return limit(samples)
    out = samples
    # the limiter takes a little loudness off the loudest parts: measure again and make up for it once
    for _ in range(2):
        level = loudness(out if measured is samples else measured, sample_rate)
        if not np.isfinite(level):
            return samples
        gain = 10 ** ((target - level) / 20)
        out = limit(out * gain)
        if measured is not samples:
            return out
    return out


def limit(samples: F32) -> F32:
    """A soft knee from 3/4 of the ceiling (-3.5 dBFS) up instead of a hard clip: nothing reaches -1 dBFS."""
    knee = PEAK_CEILING * 0.75
    mag = np.abs(samples)
    over = mag > knee
    if not over.any():
        return samples.astype(np.float32)
    out = samples.copy()
    room = PEAK_CEILING - knee
    out[over] = np.sign(samples[over]) * (knee + room * np.tanh((mag[over] - knee) / room))
    return out.astype(np.float32)


def mux(video: Path, samples: F32, sample_rate: int, out: Path) -> None:
    """Write ``out``: ``video``'s streams copied, plus ``samples`` (frames, 2) encoded as AAC."""
    with av.open(str(video)) as src, _open_out(out, src) as dst:
        v_in = src.streams.video[0]
        v_out = dst.add_stream_from_template(v_in)
        a_out = dst.add_stream("aac", rate=sample_rate, layout="stereo")
        a_out.bit_rate = AAC_BITRATE
        a_out.time_base = Fraction(1, sample_rate)
        for packet in src.demux(v_in):
            if packet.dts is None:
                continue  # the demuxer's end-of-stream marker
            packet.stream = v_out
            dst.mux(packet)
        planar = np.ascontiguousarray(samples.T.astype(np.float32))
        step = 1024  # one AAC frame
        for start in range(0, planar.shape[1], step):
            frame = av.AudioFrame.from_ndarray(
                planar[:, start : start + step], format="fltp", layout="stereo"
            )
            frame.sample_rate = sample_rate
            frame.pts = start
            frame.time_base = Fraction(1, sample_rate)
            dst.mux(a_out.encode(frame))
        dst.mux(a_out.encode(None))


def carry(video: Path, source: Path, out: Path) -> bool:
    """Write ``out``: ``video`` with the first audio track of ``source`` looped or cut to its length.

    AAC is copied packet by packet (no re-encode, no loss); other codecs are decoded and encoded
    again. Returns False, writing nothing, when ``source`` has no audio.
    """
    with av.open(str(source)) as probe:
        if not probe.streams.audio:
            return False
        codec = probe.streams.audio[0].codec_context.name
    seconds = video_seconds(video)
    if codec != "aac":
        samples, rate = decode(source)
        mux(video, fit(samples, rate, seconds), rate, out)
        return True
    with av.open(str(video)) as vsrc, av.open(str(source)) as asrc, _open_out(out, vsrc) as dst:
        v_in, a_in = vsrc.streams.video[0], asrc.streams.audio[0]
        v_out = dst.add_stream_from_template(v_in)
        a_out = dst.add_stream_from_template(a_in)
        for packet in vsrc.demux(v_in):
            if packet.dts is not None:
                packet.stream = v_out
                dst.mux(packet)
        # (pts, duration, bytes) of each packet, in the source's time base
        packets = [
            (p.pts, p.duration or 0, bytes(p))
            for p in asrc.demux(a_in)
            if p.dts is not None and p.pts is not None
        ]
        if not packets:
            return True
        tb = a_in.time_base
        assert tb is not None
        first = packets[0][0]
        period = packets[-1][0] + packets[-1][1] - first  # one pass of the source
        end = int(seconds / tb)
        offset = 0
        while offset < end and period > 0:
            for pts, duration, data in packets:
                at = pts - first + offset
                if at >= end:
                    break
                copy = av.Packet(data)
                copy.pts = copy.dts = at
                copy.duration = duration
                copy.time_base = tb
                copy.stream = a_out
                dst.mux(copy)
            offset += period
    return True


def decode(path: Path) -> tuple[F32, int]:
    """The first audio track of ``path`` as float32 (frames, 2) and its sample rate."""
    with av.open(str(path)) as src:
        stream = src.streams.audio[0]
        rate = stream.codec_context.sample_rate
        resampler = av.AudioResampler(format="flt", layout="stereo", rate=rate)
        chunks = [r.to_ndarray().reshape(-1, 2) for f in src.decode(stream) for r in resampler.resample(f)]
    return (np.concatenate(chunks) if chunks else np.zeros((1, 2), np.float32)), rate


def video_seconds(path: Path) -> float:
    """How long the video stream plays: frames over frame rate, as the player counts it."""
    with av.open(str(path)) as src:
        v = src.streams.video[0]
        frames = v.frames or sum(1 for _ in src.demux(v) if _.dts is not None)
        rate = v.average_rate or v.guessed_rate
        assert rate is not None
        return float(frames / rate)


def _open_out(out: Path, src: av.container.InputContainer) -> av.container.OutputContainer:
    dst = av.open(str(out), mode="w", format="mp4", options={"movflags": "+faststart+use_metadata_tags"})
    for key, value in src.metadata.items():
        if key not in ("major_brand", "minor_version", "compatible_brands", "encoder"):
            dst.metadata[key] = value
    return dst
