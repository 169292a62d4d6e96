"""Grounding DINO adapter (paper Sec. 3.1): transformers' ``GroundingDinoForObjectDetection``.

The model and its tokenizer are loaded from a LOCAL snapshot directory
(``save_pretrained`` layout: ``config.json``, weights, ``vocab.txt`` / tokenizer
files); nothing is downloaded. The text prompt is ``"hand."`` (paper: "Hand",
no left/right). The hand score of a query is the sigmoid of its logit on the
prompt's word tokens (max over them).

What the outputs do not hold is captured with hooks:

* a forward-pre-hook on the decoder: ``inputs_embeds`` (``Q_0``), ``reference_points``,
  ``vision_encoder_hidden_states`` (``F^e_6``), ``spatial_shapes``,
  ``level_start_index``, ``valid_ratios``;
* a forward hook on ``backbone.conv_encoder``: the Swin multi-scale maps for side tuning.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from .detector import Detector, DetectorOutput

# ids 101, 102, 1012, 1029 are hard-coded by the model ([CLS], [SEP], '.', '?' of bert-base-uncased)
BERT_SPECIAL_TOKENS = {0: "[PAD]", 100: "[UNK]", 101: "[CLS]", 102: "[SEP]", 103: "[MASK]", 1012: ".", 1029: "?"}


def placeholder_vocab(size: int = 1100) -> dict[str, int]:
    """A stand-in BERT vocabulary for snapshots made offline (random-weight timing runs, tests):
    bert-base-uncased's special ids where the model hard-codes them, ``"hand"`` at 1050, and
    ``[unusedN]`` elsewhere. Not for real checkpoints, which ship their own ``vocab.txt``."""
    if size <= 1050:
        raise ValueError(f"size must exceed 1050 (the id of 'hand'), got {size}")
    tokens = [BERT_SPECIAL_TOKENS.get(i, f"[unused{i}]") for i in range(size)]
    tokens[1050] = "hand"
    return {tok: i for i, tok in enumerate(tokens)}


def _load_tokenizer(snapshot: Path):  # noqa: ANN202
    """``vocab.txt`` -> BertTokenizer (the fast class ignores a bare vocab file in transformers v5)."""
    from transformers import AutoTokenizer, BertTokenizer

    if (snapshot / "vocab.txt").is_file():
        return BertTokenizer.from_pretrained(str(snapshot), local_files_only=True)
    return AutoTokenizer.from_pretrained(str(snapshot), local_files_only=True)


class GroundingDinoDetector(Detector):
    """Grounding DINO from a local snapshot, returning :class:`DetectorOutput`.

    Args:
        snapshot_dir: directory written by ``GroundingDinoForObjectDetection.save_pretrained``
            plus the tokenizer's ``save_pretrained`` (a user's copy of real weights works the same).
        prompt: text prompt, default ``"hand."``.
    """

    def __init__(self, snapshot_dir: str | Path, prompt: str = "hand."):
        super().__init__()
        from transformers import GroundingDinoForObjectDetection

        snapshot = Path(snapshot_dir)
        if not (snapshot / "config.json").is_file():
            raise FileNotFoundError(
                f"Grounding DINO snapshot {snapshot}: no config.json (expected a local save_pretrained directory; "
                "nothing is downloaded)"
            )
        self.model = GroundingDinoForObjectDetection.from_pretrained(str(snapshot), local_files_only=True)
        self.model.eval()
        tokenizer = _load_tokenizer(snapshot)
        enc = tokenizer([prompt], return_tensors="pt")
        ids = enc["input_ids"]
        special = {tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id}
        punct = set(tokenizer.convert_tokens_to_ids([".", "?"]))
        word = torch.tensor([int(t) not in special | punct for t in ids[0]], dtype=torch.bool)
        if not word.any():
            raise ValueError(f"prompt {prompt!r} has no word token in the snapshot's vocabulary")
        self.prompt = prompt
        self.register_buffer("input_ids", ids, persistent=False)
        self.register_buffer("text_attention_mask", enc["attention_mask"], persistent=False)
        self.register_buffer("token_type_ids", torch.zeros_like(ids), persistent=False)
        self.register_buffer("prompt_token_mask", word, persistent=False)
        cfg = self.model.config
        self.d_model = int(cfg.d_model)
        self.num_levels = int(cfg.num_feature_levels)
        self.backbone_channels = list(self.model.model.backbone.conv_encoder.intermediate_channel_sizes)
        self.capture_inputs(self.model.model.decoder, self.model.model.backbone.conv_encoder)

    def forward(self, images: Tensor) -> DetectorOutput:
        """images: (B, 3, S, S) in ``[0, 1]`` -> :class:`DetectorOutput`."""
        b = images.shape[0]
        self.clear_captured()
        out = self.model(
            pixel_values=self.normalize(images),
            input_ids=self.input_ids.expand(b, -1),
            attention_mask=self.text_attention_mask.expand(b, -1),
            token_type_ids=self.token_type_ids.expand(b, -1),
        )
        dk, maps = self.captured()
        n_tok = self.prompt_token_mask.shape[0]
        logits = out.logits[..., :n_tok][..., self.prompt_token_mask]
        return DetectorOutput(
            memory=dk["vision_encoder_hidden_states"],
            spatial_shapes=dk["spatial_shapes"],
            level_start_index=dk["level_start_index"],
            valid_ratios=dk["valid_ratios"],
            queries_init=dk["inputs_embeds"],
            queries_last=out.last_hidden_state,
            reference_boxes=dk["reference_points"],
            scores=logits.sigmoid().amax(-1),
            boxes=out.pred_boxes,
            backbone_maps=maps,
        )
