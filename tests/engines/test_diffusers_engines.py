"""The Wan and LTX engines on tiny random pipelines saved with save_pretrained and loaded back through the
registry (the path a worker takes): the engine contract, what reaches the pipeline, cancel inside the
denoising loop, the weights checks and the catalog switches."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("diffusers")

from framecast.domain import ErrorCode, TaskKind, VideoRole
from framecast.engines.base import Engine, EngineCancelled, GenerationJob
from framecast.engines.diffusers_common import frame_count, render_size, retime
from framecast.engines.registry import EngineRegistry
from framecast.errors import ClientError
from tests.engines import tiny
from tests.engines.contract import EngineContract, Recorder, run

RED, BLUE, GREEN = (220, 30, 30), (30, 30, 220), (30, 200, 30)


def solid(color: tuple[int, int, int], w: int = 64, h: int = 48) -> Any:
    img = np.zeros((h, w, 3), np.uint8)
    img[...] = color
    img[h // 4 : h // 2, w // 4 : w // 2] = 255  # a little structure for the flow in-betweener
    return img


def job_for(kind: TaskKind, **overrides: Any) -> GenerationJob:
    values: dict[str, Any] = dict(
        kind=kind,
        width=64,
        height=48,
        num_frames=6,
        fps=8,
        seed=3,
        prompt="a cat walking on the beach",
    )
    if kind in (TaskKind.IMAGE, TaskKind.FIRST_LAST):
        values["first"] = solid(RED)
    if kind is TaskKind.FIRST_LAST:
        values["last"] = solid(BLUE)
    if kind is TaskKind.REFERENCE:
        values["references"] = [solid(GREEN), solid(BLUE)]
    values.update(overrides)
    return GenerationJob(**values)


def load(weights: Callable[[str], Path], family: str, **extra: Any) -> Engine:
    return EngineRegistry().get(tiny.ENGINES[family], tiny.options(family, weights(family), **extra))


# --- the contract, per family ---------------------------------------------------------------------


class _Contract(EngineContract):
    family = ""
    kind = TaskKind.FIRST_LAST

    def make_engine(self, request: pytest.FixtureRequest) -> Engine:
        return load(request.getfixturevalue("tiny_weights"), self.family)

    def make_job(self, **overrides: Any) -> GenerationJob:
        return job_for(self.kind, **overrides)


class TestWanFlf2vContract(_Contract):
    family = "wan_flf2v"


class TestWanVaceContract(_Contract):
    family = "wan_vace"
    kind = TaskKind.REFERENCE


class TestWan22Ti2vContract(_Contract):
    family = "wan22_ti2v"
    kind = TaskKind.TEXT


class TestLtxContract(_Contract):
    family = "ltx"


# --- what reaches the pipeline ----------------------------------------------------------------------


def mean_rgb(image: Any) -> tuple[int, ...]:
    arr = np.asarray(image.convert("RGB"), dtype=np.float64)
    # the border, away from the white square
    return tuple(int(v) for v in np.median(arr.reshape(-1, 3), axis=0))


def near(a: tuple[int, ...], b: tuple[int, int, int]) -> bool:
    return all(abs(x - y) <= 30 for x, y in zip(a, b, strict=True))


def test_wan_flf2v_gets_first_as_image_and_last_as_last_image(tiny_weights: Any, calls: list[Any]) -> None:
    engine = load(tiny_weights, "wan_flf2v")
    frames = run(engine, job_for(TaskKind.FIRST_LAST, num_frames=9, fps=8))
    ((cls, kw),) = calls
    assert cls == "WanImageToVideoPipeline"
    assert near(mean_rgb(kw["image"]), RED) and near(mean_rgb(kw["last_image"]), BLUE)
    # the render size: the job's aspect, short side capped at 32, sides on multiples of 16
    assert (kw["width"], kw["height"]) == (48, 32) and kw["image"].size == (48, 32)
    assert (kw["num_frames"] - 1) % 4 == 0 and kw["num_inference_steps"] == 2
    assert len(frames) == 9 and frames[0].shape == (48, 64, 3)
    # the image encoder and the VAE stay fp32 whatever the dtype (diffusers' advice for Wan i2v)
    pipe: Any = engine.pipe
    import torch

    assert pipe.vae.dtype == torch.float32 and pipe.image_encoder.dtype == torch.float32


def test_wan_vace_first_last_through_masks_and_references(tiny_weights: Any, calls: list[Any]) -> None:
    engine = load(tiny_weights, "wan_vace")
    run(engine, job_for(TaskKind.FIRST_LAST))
    run(engine, job_for(TaskKind.REFERENCE))
    (_, fl), (_, ref) = calls
    video, mask = fl["video"], fl["mask"]
    assert len(video) == len(mask) == fl["num_frames"]
    assert near(mean_rgb(video[0]), RED) and near(mean_rgb(video[-1]), BLUE)
    kept = [int(np.asarray(m).max()) for m in mask]
    assert kept[0] == 0 and kept[-1] == 0 and set(kept[1:-1]) == {255}
    assert [near(mean_rgb(r), c) for r, c in zip(ref["reference_images"], (GREEN, BLUE), strict=True)] == [
        True,
        True,
    ]


def moving_square(count: int, w: int = 64, h: int = 48, speed: int = 4) -> list[Any]:
    """A white square crossing a dark frame left to right, ``speed`` px a frame."""
    frames = []
    for i in range(count):
        f = np.full((h, w, 3), 40, np.uint8)
        x = 4 + speed * i
        f[16:32, x : x + 16] = 255
        frames.append(f)
    return frames


def test_wan_vace_edits_a_base_video_frame_by_frame(tiny_weights: Any, calls: list[Any]) -> None:
    engine = load(tiny_weights, "wan_vace")
    assert TaskKind.VIDEO in engine.capabilities().kinds
    video = [np.full((48, 64, 3), 10 + 40 * i, np.uint8) for i in range(6)]  # grey level = frame index
    frames = run(engine, job_for(TaskKind.VIDEO, video=video, video_role=VideoRole.BASE))
    run(engine, job_for(TaskKind.VIDEO, video=video, video_role=VideoRole.BASE, first=solid(RED)))
    (_, kw), (_, with_first) = calls
    # 6 frames at 8 fps are 0.625 s: 5 frames (4k+1) at the native 4 fps, each the input frame on screen
    # at that instant (0, 0.25, 0.5 s ... = input frames 0, 2, 4, then the last one held)
    assert kw["num_frames"] == len(kw["video"]) == len(kw["mask"]) == 5
    assert {v.size for v in kw["video"]} == {(48, 32)}
    assert [mean_rgb(v)[0] for v in kw["video"]] == [10, 90, 170, 210, 210]
    assert {int(np.asarray(m).min()) for m in kw["mask"]} == {255}  # every pixel regenerated
    assert len(frames) == 6 and frames[0].shape == (48, 64, 3)
    # a first frame given with the video is kept as given
    assert near(mean_rgb(with_first["video"][0]), RED) and int(np.asarray(with_first["mask"][0]).max()) == 0
    assert [mean_rgb(v)[0] for v in with_first["video"][1:]] == [90, 170, 210, 210]


def test_wan_vace_follows_a_feature_video_for_its_motion_only(tiny_weights: Any, calls: list[Any]) -> None:
    engine = load(tiny_weights, "wan_vace")
    run(engine, job_for(TaskKind.VIDEO, video=moving_square(6), video_role=VideoRole.FEATURE))
    ((_, kw),) = calls
    pictures = [np.asarray(v.convert("RGB")) for v in kw["video"]]
    assert len(pictures) == kw["num_frames"] == 5
    for p in pictures[:3]:  # the square moves in these (the last two hold the last input frame)
        # stillness is white, the move is colour; rightward motion is hue 0 (red); the input's own colours
        # (a white square on dark grey) do not pass
        saturation = p.max(axis=2).astype(int) - p.min(axis=2).astype(int)
        still = p.reshape(-1, 3)[saturation.argmin()]
        moving = p.reshape(-1, 3)[saturation.argmax()]
        assert min(still) >= 230 and saturation.max() > 150
        assert moving[0] == 255 and max(moving[1:]) < 100
    assert {int(np.asarray(m).min()) for m in kw["mask"]} == {255}


def test_wan22_ti2v_text_and_image_share_one_model(tiny_weights: Any, calls: list[Any]) -> None:
    engine = load(tiny_weights, "wan22_ti2v")
    assert engine.capabilities().kinds == {TaskKind.TEXT, TaskKind.IMAGE}
    run(engine, job_for(TaskKind.TEXT))
    run(engine, job_for(TaskKind.IMAGE))
    (t_cls, t_kw), (i_cls, i_kw) = calls
    assert (t_cls, i_cls) == ("WanPipeline", "WanImageToVideoPipeline")
    assert "image" not in t_kw and near(mean_rgb(i_kw["image"]), RED)
    pipe: Any = engine.pipe
    variant = engine.pipeline_for(job_for(TaskKind.IMAGE))  # type: ignore[attr-defined]
    assert variant.transformer is pipe.transformer and variant.config.expand_timesteps


def test_wan22_a14b_two_experts_first_last(tiny_weights: Any, calls: list[Any]) -> None:
    engine = load(tiny_weights, "wan22_a14b_i2v", guidance_2=2.0)
    pipe: Any = engine.pipe
    assert pipe.transformer_2 is not None and pipe.config.boundary_ratio == 0.875
    frames = run(engine, job_for(TaskKind.FIRST_LAST))
    ((_, kw),) = calls
    assert near(mean_rgb(kw["last_image"]), BLUE) and kw["guidance_scale_2"] == 2.0
    assert len(frames) == 6


def test_ltx_conditions_at_frame_zero_and_the_last_frame(tiny_weights: Any, calls: list[Any]) -> None:
    engine = load(tiny_weights, "ltx", native_fps=8)
    run(engine, job_for(TaskKind.FIRST_LAST, num_frames=9, fps=8))
    run(engine, job_for(TaskKind.TEXT))
    (_, fl), (_, text) = calls
    first, last = fl["conditions"]
    assert (first.frame_index, last.frame_index) == (0, fl["num_frames"] - 1)
    assert near(mean_rgb(first.image), RED) and near(mean_rgb(last.image), BLUE)
    assert fl["frame_rate"] == 8 and "conditions" not in text


def test_negative_prompt_from_the_request_else_the_catalog(tiny_weights: Any, calls: list[Any]) -> None:
    engine = load(tiny_weights, "wan22_ti2v", negative_prompt="blurry")
    run(engine, job_for(TaskKind.TEXT))
    run(engine, job_for(TaskKind.TEXT, negative_prompt="low quality"))
    assert [kw["negative_prompt"] for _, kw in calls] == ["blurry", "low quality"]


def test_a_kind_the_weights_cannot_make_is_refused(tiny_weights: Any) -> None:
    engine = load(tiny_weights, "wan_flf2v")
    with pytest.raises(ValueError, match="cannot do text"):
        run(engine, job_for(TaskKind.TEXT))


# --- cancel inside the denoising loop -------------------------------------------------------------


def test_cancel_mid_denoise_stops_within_one_step_and_skips_decoding(
    tiny_weights: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = load(tiny_weights, "wan_flf2v", steps=4)
    pipe: Any = engine.pipe
    forward, decode = pipe.transformer.forward, pipe.vae.decode
    counts = {"forward": 0, "decode": 0}

    def counting_forward(*a: Any, **k: Any) -> Any:
        counts["forward"] += 1
        return forward(*a, **k)

    def counting_decode(*a: Any, **k: Any) -> Any:
        counts["decode"] += 1
        return decode(*a, **k)

    monkeypatch.setattr(pipe.transformer, "forward", counting_forward)
    monkeypatch.setattr(pipe.vae, "decode", counting_decode)
    run(engine, job_for(TaskKind.FIRST_LAST))
    per_step = counts["forward"] // 4
    assert per_step >= 1 and counts["decode"] == 1
    counts.update(forward=0, decode=0)
    # cancelled() turns true after two progress reports: the start and the end of step 1
    rec = Recorder(cancel_after=2)
    with pytest.raises(EngineCancelled):
        run(engine, job_for(TaskKind.FIRST_LAST), rec)
    assert counts["forward"] == 2 * per_step and counts["decode"] == 0
    assert pipe.interrupt
    # the engine is still usable afterwards
    assert len(run(engine, job_for(TaskKind.FIRST_LAST))) == 6


# --- weights ----------------------------------------------------------------------------------------


def test_missing_folder_is_unavailable_naming_it(tmp_path: Path) -> None:
    registry = EngineRegistry()
    gone = tmp_path / "no-such-weights"
    reason = registry.unavailable("wan", {"weights": str(gone)})
    assert reason is not None and str(gone) in reason and "does not exist" in reason
    not_a_pipeline = tmp_path / "empty"
    not_a_pipeline.mkdir()
    reason = registry.unavailable("ltx", {"weights": str(not_a_pipeline)})
    assert reason is not None and str(not_a_pipeline) in reason and "model_index.json" in reason


def test_wrong_family_and_missing_component_are_named(tiny_weights: Any, tmp_path: Path) -> None:
    import shutil

    registry = EngineRegistry()
    reason = registry.unavailable("wan", {"weights": str(tiny_weights("ltx"))})
    assert reason is not None and "LTXConditionPipeline" in reason and str(tiny_weights("ltx")) in reason
    partial = tmp_path / "partial"
    shutil.copytree(tiny_weights("wan_vace"), partial)
    shutil.rmtree(partial / "transformer")
    reason = registry.unavailable("wan", {"weights": str(partial)})
    assert reason is not None and "transformer/" in reason and str(partial) in reason


def test_broken_weights_fail_the_load_and_mark_the_model_unavailable(
    tiny_weights: Any, tmp_path: Path
) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_weights("wan_vace"), broken)
    (broken / "transformer" / "diffusion_pytorch_model.safetensors").write_bytes(b"not safetensors")
    registry = EngineRegistry()
    options = tiny.options("wan_vace", broken)
    assert registry.unavailable("wan", options) is None  # the filesystem check cannot tell
    with pytest.raises(ClientError) as err:
        registry.get("wan", options)
    assert err.value.code is ErrorCode.MODEL_UNAVAILABLE and str(broken) in err.value.message
    reason = registry.unavailable("wan", options)
    assert reason is not None and str(broken) in reason


def test_unknown_option_is_a_clear_load_failure(tiny_weights: Any) -> None:
    with pytest.raises(ClientError, match=r"unknown option.*stepz"):
        EngineRegistry().get("wan", {"weights": str(tiny_weights("wan_vace")), "stepz": 4})


def test_hub_id_resolves_in_the_local_cache(
    tiny_weights: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    snap = tmp_path / "hub" / "models--Wan-AI--Tiny-Diffusers" / "snapshots" / "abc123"
    shutil.copytree(tiny_weights("wan_vace"), snap)
    (snap.parents[1] / "refs").mkdir()
    (snap.parents[1] / "refs" / "main").write_text("abc123")
    assert EngineRegistry().unavailable("wan", {"weights": "Wan-AI/Tiny-Diffusers"}) is None
    assert "does not exist" in str(EngineRegistry().unavailable("wan", {"weights": "Wan-AI/Other"}))


# --- catalog switches that work on a CPU ------------------------------------------------------------


def block_calls(pipe: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often the transformer's first and last blocks really run (a step cache answers for the later
    ones from its own hook, so their feed-forward layer is what is counted)."""
    counts = {"first": 0, "last": 0}
    for key, block in (("first", pipe.transformer.blocks[0].ffn), ("last", pipe.transformer.blocks[-1].ffn)):
        forward = block.forward

        def counting(*a: Any, _key: str = key, _forward: Any = forward, **k: Any) -> Any:
            counts[_key] += 1
            return _forward(*a, **k)

        monkeypatch.setattr(block, "forward", counting)
    return counts


def test_vae_switches_attention_backend_and_flow_shift_are_applied(tiny_weights: Any) -> None:
    from diffusers.models.attention_dispatch import AttentionBackendName

    engine = load(
        tiny_weights,
        "wan_vace",
        vae_tiling=True,
        vae_slicing=True,
        attention_backend="native",
        flow_shift=3.0,
        interpolate="blend",
    )
    pipe: Any = engine.pipe
    assert pipe.vae.use_tiling and pipe.vae.use_slicing
    assert pipe.scheduler.config.shift == 3.0
    processor = pipe.transformer.blocks[0].attn1.processor
    assert processor._attention_backend == AttentionBackendName.NATIVE
    assert len(run(engine, job_for(TaskKind.TEXT))) == 6


def test_first_block_cache_skips_the_later_blocks_once_steps_settle(
    tiny_weights: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = load(tiny_weights, "wan22_ti2v", steps=4)
    counts = block_calls(plain.pipe, monkeypatch)
    run(plain, job_for(TaskKind.TEXT))
    assert counts["first"] == counts["last"] == 8  # 4 steps, each with and without the prompt
    # a threshold no change between steps reaches: every step after the first reuses the cached residual
    cached = load(tiny_weights, "wan22_ti2v", steps=4, step_cache="first_block", step_cache_threshold=1e9)
    pipe: Any = cached.pipe
    assert pipe.transformer.is_cache_enabled
    counts = block_calls(pipe, monkeypatch)
    assert len(run(cached, job_for(TaskKind.TEXT))) == 6
    assert counts["first"] == 8 and counts["last"] == 2


def test_mag_cache_runs_with_the_models_ratios(tiny_weights: Any) -> None:
    engine = load(tiny_weights, "wan22_ti2v", steps=4, step_cache="mag", step_cache_ratios=[1.0, 1.0, 1.0])
    pipe: Any = engine.pipe
    assert pipe.transformer.is_cache_enabled
    assert len(run(engine, job_for(TaskKind.TEXT))) == 6


def test_regional_compile_wraps_the_repeated_blocks(tiny_weights: Any) -> None:
    # compile_repeated_blocks compiles each transformer block on its first call; on a CPU that first
    # call takes a C++ toolchain and minutes, so the test checks the wiring and leaves the run to a GPU
    engine = load(tiny_weights, "wan22_ti2v", compile=True)
    pipe: Any = engine.pipe
    assert all(b._compiled_call_impl is not None for b in pipe.transformer.blocks)


def tiny_lora(weights: Path, out: Path) -> Path:
    """A LoRA for the tiny Wan transformer, saved as diffusers saves one; its up-projections are random
    (peft would start them at zero, a LoRA that changes nothing)."""
    import diffusers
    import torch
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    transformer = diffusers.WanTransformer3DModel.from_pretrained(weights, subfolder="transformer")
    torch.manual_seed(0)
    config = LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v"], init_lora_weights=False)
    transformer.add_adapter(config)
    diffusers.WanPipeline.save_lora_weights(
        out, transformer_lora_layers=get_peft_model_state_dict(transformer)
    )
    return out / "pytorch_lora_weights.safetensors"


def test_a_lora_file_is_loaded_with_its_weight_and_changes_the_video(
    tiny_weights: Any, tmp_path: Path
) -> None:
    lora = tiny_lora(tiny_weights("wan22_ti2v"), tmp_path / "lora")
    plain = run(load(tiny_weights, "wan22_ti2v"), job_for(TaskKind.TEXT))
    engine = load(tiny_weights, "wan22_ti2v", lora=str(lora), lora_weight=0.5)
    pipe: Any = engine.pipe
    assert pipe.get_active_adapters() == ["framecast"]
    assert pipe.transformer.blocks[0].attn1.to_q.scaling["framecast"] == 0.5  # alpha / r, times the weight
    with_lora = run(engine, job_for(TaskKind.TEXT))
    assert len(with_lora) == len(plain) and any(
        not np.array_equal(a, b) for a, b in zip(plain, with_lora, strict=True)
    )
    again = run(load(tiny_weights, "wan22_ti2v"), job_for(TaskKind.TEXT))
    assert all(np.array_equal(a, b) for a, b in zip(plain, again, strict=True))  # the seed alone decides


def test_a_missing_lora_file_makes_the_model_unavailable_naming_it(tiny_weights: Any, tmp_path: Path) -> None:
    gone = tmp_path / "loras" / "wan-4step.safetensors"
    options = tiny.options("wan22_ti2v", tiny_weights("wan22_ti2v"), lora=str(gone))
    reason = EngineRegistry().unavailable("wan", options)
    assert reason is not None and str(gone) in reason and "does not exist" in reason


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"attention_backend": "flashy"}, "option attention_backend = 'flashy' is not one of 'flash'"),
        ({"dtype": "float99"}, "option dtype = 'float99' is not one of 'bfloat16', 'float16', 'float32'"),
        ({"vae_tiling": "yes"}, "option vae_tiling = 'yes' should be true or false"),
        ({"steps": 2.5}, "option steps = 2.5 should be a whole number"),
        ({"step_cache": "teacache"}, "option step_cache = 'teacache' is not one of 'first_block', 'mag'"),
        ({"step_cache": "mag", "steps": 8}, "step_cache = 'mag' needs steps and step_cache_ratios"),
        ({"offload": "disk"}, "option offload = 'disk' is not one of 'model', 'sequential', 'group'"),
        ({"steps": -1}, "option steps must be 0 (the default) or more"),
        ({"step_cache_ratios": ["a"]}, "should be a list of numbers"),
    ],
)
def test_invalid_switches_are_refused_with_the_option_named(options: dict[str, Any], words: str) -> None:
    from framecast.engines.wan import WanEngine

    reason = WanEngine.check_options({"weights": "/models/wan", **options})
    assert reason is not None and words in reason


def test_offload_without_a_gpu_is_a_clear_load_failure(tiny_weights: Any) -> None:
    with pytest.raises(ClientError, match="offload = 'model' needs a GPU"):
        load(tiny_weights, "wan_vace", offload="model")


# --- frame counts, sizes and retiming (no pipeline) --------------------------------------------------


def test_native_frame_counts_cover_the_requested_time() -> None:
    # 5 s at 24 fps (120 frames) is 4.96 s: Wan at 16 fps makes 81 frames (4k+1), LTX at 24 fps 121 (8k+1)
    assert frame_count(120, 24, 16, 4) == 81
    assert frame_count(120, 24, 24, 8) == 121
    assert frame_count(1, 24, 16, 4) == 5  # the shortest a VAE takes
    assert render_size(1280, 720, 720, 16) == (1280, 720)
    assert render_size(1920, 1080, 720, 16) == (1280, 720)
    assert render_size(720, 1280, 480, 32) == (480, 864)


def test_retime_keeps_native_frames_and_fills_between() -> None:
    native = [np.full((8, 8, 3), v, np.uint8) for v in (0, 100, 200)]
    out = list(retime(native, 5, "blend"))
    assert [int(f[0, 0, 0]) for f in out] == [0, 50, 100, 150, 200]
    out = list(retime(native, 5, "nearest"))
    assert [int(f[0, 0, 0]) for f in out] == [0, 100, 100, 200, 200]
    assert [int(f[0, 0, 0]) for f in retime(native, 3, "flow")] == [0, 100, 200]
    # at the fps ratio (native 16 fps lifted to 32): every other frame is a model frame
    assert [int(f[0, 0, 0]) for f in retime(native, 4, "blend", step=0.5)] == [0, 50, 100, 150]


def test_the_lift_on_several_threads_draws_the_same_frames() -> None:
    rng = np.random.default_rng(0)
    import cv2

    base = cv2.GaussianBlur((rng.random((48, 64, 3)) * 255).astype(np.uint8), (9, 9), 3)
    native = [np.ascontiguousarray(np.roll(base, 2 * i, axis=1)) for i in range(9)]
    one = list(retime(native, 12, "flow", workers=1))
    three = list(retime(native, 12, "flow", workers=3))
    assert len(one) == len(three) == 12
    assert all(np.array_equal(a, b) for a, b in zip(one, three, strict=True))
    # drawn frames, not copies: the in-betweens differ from both neighbours
    assert not np.array_equal(one[1], native[0]) and not np.array_equal(one[1], native[1])
    # a consumer that stops early (a cancel) leaves no thread behind
    frames = retime(native, 12, "flow", workers=3)
    next(frames), next(frames)
    frames.close()  # type: ignore[attr-defined]
    import threading

    assert not [t for t in threading.enumerate() if t.name.startswith("framecast-lift")]
