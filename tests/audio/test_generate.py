"""Generated sound through a tiny random StableAudioPipeline, saved and loaded like real weights."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from framecast.audio import generate, synth
from tests.conftest import Api, _api, make_settings
from tests.test_end_to_end import fetch

SAMPLE_RATE = 441  # the tiny VAE's rate: resampled by 100 to the mix's 44.1 kHz


def tiny_stable_audio() -> Any:
    """diffusers' own tiny StableAudio test components (tests/pipelines/stable_audio), offline: the
    tokenizer and T5 come from tests/engines/tiny.py, the scheduler is one without torchsde."""
    import diffusers
    import torch

    from tests.engines.tiny import _t5, _tokenizer

    torch.manual_seed(0)
    transformer = diffusers.StableAudioDiTModel(
        sample_size=512,  # latent frames: 512 x hop 2 / 441 Hz = 2.3 s at most
        in_channels=3,
        num_layers=2,
        attention_head_dim=4,
        num_key_value_attention_heads=2,
        out_channels=3,
        cross_attention_dim=4,
        time_proj_dim=8,
        global_states_input_dim=8,
        cross_attention_input_dim=4,
    )
    torch.manual_seed(0)
    vae = diffusers.AutoencoderOobleck(
        encoder_hidden_size=6,
        downsampling_ratios=[1, 2],
        decoder_channels=3,
        decoder_input_channels=3,
        audio_channels=2,
        channel_multiples=[2, 4],
        sampling_rate=SAMPLE_RATE,
    )
    text_encoder = _t5(False)
    torch.manual_seed(0)
    projection = diffusers.StableAudioProjectionModel(
        text_encoder_dim=text_encoder.config.d_model, conditioning_dim=4, min_value=0, max_value=32
    )
    tokenizer = _tokenizer()
    tokenizer.model_max_length = 25  # the pipeline pads prompts to this length
    return diffusers.StableAudioPipeline(
        vae=vae,
        text_encoder=text_encoder,
        projection_model=projection,
        tokenizer=tokenizer,
        transformer=transformer,
        scheduler=diffusers.EDMDPMSolverMultistepScheduler(
            solver_order=2, prediction_type="v_prediction", sigma_data=1.0
        ),
    )


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("stable-audio-tiny")
    tiny_stable_audio().save_pretrained(folder)
    return folder


def test_generates_deterministic_stereo_for_the_asked_length(weights: Path) -> None:
    model = generate.AudioModels().get({"weights": str(weights), "steps": 2})
    assert model.sample_rate == SAMPLE_RATE and model.max_seconds == pytest.approx(512 * 2 / SAMPLE_RATE)
    a, rate = model.generate("rain on a tin roof", "", 1.5, seed=3)
    b, _ = model.generate("rain on a tin roof", "", 1.5, seed=3)
    c, _ = model.generate("rain on a tin roof", "", 1.5, seed=4)
    assert rate == SAMPLE_RATE and a.shape == (int(1.5 * SAMPLE_RATE), 2) and a.dtype == np.float32
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    longer, _ = model.generate("rain", "", 10.0, seed=3)
    assert len(longer) <= model.max_seconds * SAMPLE_RATE + 1  # the caller loops it to the video
    up = generate.resample(a, SAMPLE_RATE, synth.SAMPLE_RATE)
    assert up.shape == (len(a) * 100, 2)


def test_a_folder_that_is_not_an_audio_pipeline_is_reported(tmp_path: Path, weights: Path) -> None:
    assert generate.check({"weights": str(weights)}) is None
    assert "does not exist" in str(generate.check({"weights": str(tmp_path / "nope")}))
    assert "unknown audio_model options: speed" in str(generate.check({"weights": str(weights), "speed": 2}))


@pytest.fixture
def sound_api(tmp_path: Path, weights: Path) -> Any:
    catalog = tmp_path / "catalog.toml"
    entry = f'audio_model = {{ weights = "{weights}", steps = 2 }}'
    catalog.write_text(f'[models."viduq3-pro"]\n{entry}\n[models."viduq2-pro"]\n{entry}\n', encoding="utf-8")
    yield from _api(make_settings(tmp_path, workers=1, catalog_file=catalog))


def audio_and_video_seconds(data: bytes) -> tuple[float, float]:
    with av.open(io.BytesIO(data)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert a.codec_context.name == "aac"
        assert v.duration is not None and v.time_base is not None
        assert a.duration is not None and a.time_base is not None
        return float(a.duration * a.time_base), float(v.duration * v.time_base)


def test_audio_true_generates_sound_and_the_q3_default_uses_it(
    sound_api: Api, pair: list[str], weights: Path
) -> None:
    api = sound_api
    asked = api.post(
        "/ent/v2/start-end2video",
        {
            "model": "viduq2-pro",
            "images": pair,
            "duration": 2,
            "resolution": "540p",
            "audio": True,
            "bgm": True,
            "prompt": "calm rain",
        },
    )
    assert asked.status_code == 200, asked.text
    default = api.post(
        "/ent/v2/start-end2video",
        {"model": "viduq3-pro", "images": pair, "duration": 2, "resolution": "540p"},
    ).json()
    for task_id in (asked.json()["task_id"], default["task_id"]):
        body = api.wait(task_id)
        assert body["state"] == "success", body
        heard, seen = audio_and_video_seconds(fetch(api, body["creations"][0]["url"]).content)
        assert abs(heard - seen) <= 1 / 24
    record = api.get(f"/v1/tasks/{asked.json()['task_id']}", scheme="Bearer").json()["soundtrack"]
    # a tie of mood words goes to the one named first
    assert record == f"audio generated by {weights.name} from the prompt; bgm calm (mood words: calm)"
    record = api.get(f"/v1/tasks/{default['task_id']}", scheme="Bearer").json()["soundtrack"]
    assert record.startswith("audio generated by")


def test_a_broken_audio_model_is_refused_naming_it(tmp_path: Path, make_api: Any, pair: list[str]) -> None:
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(
        f'[models."viduq2-pro"]\naudio_model = {{ weights = "{tmp_path / "gone"}" }}\n', encoding="utf-8"
    )
    api = make_api(catalog_file=catalog)
    resp = api.post("/ent/v2/start-end2video", {"model": "viduq2-pro", "images": pair, "audio": True})
    assert resp.status_code == 400
    assert "its audio model cannot be used" in resp.json()["message"]
    assert "does not exist" in resp.json()["message"]
    assert json.loads(resp.text)["reason"] == "FieldInvalid"
