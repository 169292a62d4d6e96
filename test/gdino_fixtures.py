"""A tiny random Grounding DINO saved to disk with save_pretrained (no download), for the adapter tests."""

from __future__ import annotations

from pathlib import Path

from handos_model.models.detector_gdino import placeholder_vocab


def save_tiny_grounding_dino(directory: Path) -> Path:
    """Random tiny GroundingDinoForObjectDetection + BertTokenizer, saved to ``directory``."""
    import torch
    from transformers import (
        BertConfig,
        BertTokenizer,
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        SwinConfig,
    )

    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    swin = SwinConfig(
        embed_dim=32,
        depths=[1, 1, 1, 1],
        num_heads=[1, 2, 2, 4],
        window_size=7,
        out_features=["stage2", "stage3", "stage4"],
    )
    text = BertConfig(
        vocab_size=1100,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    cfg = GroundingDinoConfig(
        backbone_config=swin,
        text_config=text,
        d_model=64,
        encoder_layers=1,
        decoder_layers=2,
        encoder_ffn_dim=128,
        decoder_ffn_dim=128,
        num_queries=20,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        max_text_len=32,
    )
    model = GroundingDinoForObjectDetection(cfg).eval()
    model.save_pretrained(directory)
    # BertTokenizer(vocab=dict): transformers v5 ignores a bare vocab_file in some constructors
    BertTokenizer(vocab=placeholder_vocab(), do_lower_case=True).save_pretrained(directory)
    return directory
