"""Generated sound: a diffusers text-to-audio pipeline (Stable Audio Open) from a local folder.

A model in the catalog names one with ``audio_model = { weights = "<folder>" }`` (see docs/audio.md);
the folder is checked at submit like a video engine's weights, and loaded once per worker process on
first use (:class:`AudioModels` keeps it). Weights come only from that folder or the local Hugging Face
cache: nothing is downloaded at run time.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from framecast.engines.diffusers_common import read_model_index

F32 = npt.NDArray[np.float32]

PIPELINES = ("StableAudioPipeline",)


@dataclass(frozen=True)
class AudioModelOptions:
    weights: str
    steps: int = 100  # Stable Audio Open's own default
    guidance_scale: float = 7.0
    device: str = ""  # "" -> cuda when available, else cpu

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> AudioModelOptions:
        unknown = set(options) - {"weights", "steps", "guidance_scale", "device"}
        if unknown:
            raise ValueError(f"unknown audio_model options: {', '.join(sorted(unknown))}")
        if not options.get("weights"):
            raise ValueError("audio_model needs weights = <a local folder with a StableAudioPipeline>")
        return cls(**options)


def check(options: Mapping[str, Any]) -> str | None:
    """Why the configured audio model cannot be used (a message for the operator), or None."""
    try:
        opts = AudioModelOptions.parse(options)
        read_model_index({"weights": opts.weights}, PIPELINES)
    except Exception as exc:  # any failure here is a configuration problem to report, not a crash
        return str(exc)
    return None


class AudioModel:
    """One loaded pipeline; calls are serialised (a pipeline is not safe to call from two threads)."""

    def __init__(self, options: AudioModelOptions) -> None:
        import torch
        from diffusers import StableAudioPipeline

        folder, _ = read_model_index({"weights": options.weights}, PIPELINES)
        self.options = options
        self.device = options.device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = torch.float16 if self.device.startswith("cuda") else torch.float32
        self.pipe = StableAudioPipeline.from_pretrained(str(folder), dtype=dtype).to(self.device)
        self.pipe.set_progress_bar_config(disable=True)
        self._lock = threading.Lock()

    @property
    def sample_rate(self) -> int:
        return int(self.pipe.vae.config.sampling_rate)

    @property
    def max_seconds(self) -> float:
        return float(self.pipe.transformer.config.sample_size * self.pipe.vae.hop_length / self.sample_rate)

    def generate(self, prompt: str, negative_prompt: str, seconds: float, seed: int) -> tuple[F32, int]:
        """Stereo float32 (frames, 2) at the model's rate; at most :attr:`max_seconds` long (the caller
        loops it to the video's length)."""
        import torch

        length = min(seconds, self.max_seconds)
        with self._lock, torch.no_grad():
            generator = torch.Generator(device="cpu").manual_seed(seed % 2**63)
            out = self.pipe(
                prompt=prompt,
                negative_prompt=negative_prompt or None,
                audio_end_in_s=length,
                num_inference_steps=self.options.steps,
                guidance_scale=self.options.guidance_scale,
                generator=generator,
            ).audios[0]
        samples = out.float().cpu().numpy().T  # (channels, frames) -> (frames, channels)
        if samples.shape[1] == 1:
            samples = np.repeat(samples, 2, axis=1)
        return np.ascontiguousarray(samples[:, :2], dtype=np.float32), self.sample_rate


class AudioModels:
    """The audio models this worker has loaded, by options; each is loaded once, on first use."""

    def __init__(self) -> None:
        self._loaded: dict[AudioModelOptions, AudioModel] = {}
        self._lock = threading.Lock()

    def get(self, options: Mapping[str, Any]) -> AudioModel:
        opts = AudioModelOptions.parse(options)
        with self._lock:
            if opts not in self._loaded:
                self._loaded[opts] = AudioModel(opts)
            return self._loaded[opts]


def resample(samples: F32, rate: int, target: int) -> F32:
    """``samples`` (frames, channels) from ``rate`` to ``target`` Hz (polyphase, scipy)."""
    if rate == target:
        return samples
    from scipy.signal import resample_poly

    g = math.gcd(rate, target)
    return np.asarray(resample_poly(samples, target // g, rate // g, axis=0), dtype=np.float32)
