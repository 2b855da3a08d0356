"""Tiny randomly initialised diffusers pipelines, built offline and saved with ``save_pretrained``.

diffusers' own test habit (tiny seeded components, ``torch.manual_seed(0)`` before each), with the
tokenizer trained here from a few sentences instead of fetched from the hub. Each family is a few
hundred KB and runs 2 steps at 32-64 px in well under a second on a CPU.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

FAMILIES = ("wan_flf2v", "wan_vace", "wan22_ti2v", "wan22_a14b_i2v", "ltx")


def _tokenizer() -> Any:
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from tokenizers.processors import TemplateProcessing
    from transformers import T5Tokenizer

    tk = Tokenizer(models.Unigram())
    tk.normalizer = normalizers.NFKC()
    tk.pre_tokenizer = pre_tokenizers.Metaspace()
    tk.decoder = decoders.Metaspace()
    corpus = [
        "a cat walking on the beach at sunset",
        "the camera follows a red car through a city at night",
        "slow motion waves crashing on rocks",
        "negative blurry low quality",
    ] * 50
    tk.train_from_iterator(
        corpus,
        trainers.UnigramTrainer(vocab_size=256, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>"),
    )
    eos = tk.token_to_id("</s>")
    tk.post_processor = TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", eos)]
    )
    return T5Tokenizer(
        tokenizer_object=tk, eos_token="</s>", unk_token="<unk>", pad_token="<pad>", extra_ids=0
    )


def _t5(umt5: bool) -> Any:
    import torch
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    kw: dict[str, Any] = dict(
        vocab_size=256,
        d_model=32,
        d_kv=8,
        d_ff=37,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        dropout_rate=0.0,
    )
    torch.manual_seed(0)
    return (UMT5EncoderModel(UMT5Config(**kw)) if umt5 else T5EncoderModel(T5Config(**kw))).eval()


def _wan_vae() -> Any:
    import torch
    from diffusers import AutoencoderKLWan

    torch.manual_seed(0)
    return AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )


def _wan_transformer(in_channels: int, cls_name: str = "WanTransformer3DModel", **kw: Any) -> Any:
    import diffusers
    import torch

    torch.manual_seed(0)
    return getattr(diffusers, cls_name)(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=in_channels,
        out_channels=16,
        text_dim=32,
        freq_dim=256,
        ffn_dim=32,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
        **kw,
    )


def build(family: str) -> Any:
    import diffusers
    import torch

    tok = _tokenizer()
    if family == "wan_flf2v":  # Wan2.1 FLF2V: a CLIP image encoder, 36 input channels (latents + mask + cond)
        from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

        torch.manual_seed(0)
        encoder = CLIPVisionModel(
            CLIPVisionConfig(
                hidden_size=4,
                projection_dim=4,
                num_hidden_layers=2,
                num_attention_heads=2,
                image_size=4,
                intermediate_size=16,
                patch_size=1,
            )
        )
        return diffusers.WanImageToVideoPipeline(
            tokenizer=tok,
            text_encoder=_t5(True),
            vae=_wan_vae(),
            scheduler=diffusers.FlowMatchEulerDiscreteScheduler(shift=7.0),
            image_processor=CLIPImageProcessor(crop_size=4, size=4),
            image_encoder=encoder,
            transformer=_wan_transformer(36, image_dim=4, pos_embed_seq_len=2 * (4 * 4 + 1), num_layers=2),
        )
    if family == "wan22_a14b_i2v":  # two experts split at boundary_ratio, no image encoder
        return diffusers.WanImageToVideoPipeline(
            tokenizer=tok,
            text_encoder=_t5(True),
            vae=_wan_vae(),
            scheduler=diffusers.UniPCMultistepScheduler(
                prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0
            ),
            image_processor=None,
            image_encoder=None,
            transformer=_wan_transformer(36, num_layers=2),
            transformer_2=_wan_transformer(36, num_layers=2),
            boundary_ratio=0.875,
        )
    if family == "wan22_ti2v":  # Wan2.2 TI2V-5B's layout: one text-to-video model, expand_timesteps
        return diffusers.WanPipeline(
            tokenizer=tok,
            text_encoder=_t5(True),
            vae=_wan_vae(),
            scheduler=diffusers.UniPCMultistepScheduler(
                prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=5.0
            ),
            transformer=_wan_transformer(16, num_layers=2),
            expand_timesteps=True,
        )
    if family == "wan_vace":
        return diffusers.WanVACEPipeline(
            tokenizer=tok,
            text_encoder=_t5(True),
            vae=_wan_vae(),
            scheduler=diffusers.FlowMatchEulerDiscreteScheduler(shift=7.0),
            transformer=_wan_transformer(
                16,
                cls_name="WanVACETransformer3DModel",
                num_layers=3,
                vace_layers=[0, 2],
                vace_in_channels=96,
            ),
        )
    if family == "ltx":
        torch.manual_seed(0)
        transformer = diffusers.LTXVideoTransformer3DModel(
            in_channels=8,
            out_channels=8,
            patch_size=1,
            patch_size_t=1,
            num_attention_heads=4,
            attention_head_dim=8,
            cross_attention_dim=32,
            num_layers=1,
            caption_channels=32,
        )
        torch.manual_seed(0)
        vae = diffusers.AutoencoderKLLTXVideo(
            in_channels=3,
            out_channels=3,
            latent_channels=8,
            block_out_channels=(8, 8, 8, 8),
            decoder_block_out_channels=(8, 8, 8, 8),
            layers_per_block=(1, 1, 1, 1, 1),
            decoder_layers_per_block=(1, 1, 1, 1, 1),
            spatio_temporal_scaling=(True, True, False, False),
            decoder_spatio_temporal_scaling=(True, True, False, False),
            decoder_inject_noise=(False, False, False, False, False),
            upsample_residual=(False, False, False, False),
            upsample_factor=(1, 1, 1, 1),
            timestep_conditioning=False,
            patch_size=1,
            patch_size_t=1,
            encoder_causal=True,
            decoder_causal=False,
        )
        vae.use_framewise_encoding = False
        vae.use_framewise_decoding = False
        return diffusers.LTXConditionPipeline(
            tokenizer=tok,
            text_encoder=_t5(False),
            vae=vae,
            scheduler=diffusers.FlowMatchEulerDiscreteScheduler(),
            transformer=transformer,
        )
    raise KeyError(family)


def save(family: str, folder: Path) -> Path:
    import torch

    torch.set_num_threads(min(2, torch.get_num_threads()))
    build(family).save_pretrained(folder)
    return folder


# engine and the options tests run each family with: 2 steps, a small render, a low native fps
ENGINES = {"wan_flf2v": "wan", "wan_vace": "wan", "wan22_ti2v": "wan", "wan22_a14b_i2v": "wan", "ltx": "ltx"}


def options(family: str, folder: Path, **extra: Any) -> dict[str, Any]:
    return {
        "weights": str(folder),
        "dtype": "float32",
        "device": "cpu",
        "steps": 2,
        "native_fps": 4,
        "render_short_side": 32,
        "max_sequence_length": 16,
        **extra,
    }
