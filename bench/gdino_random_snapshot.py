"""Save a RANDOM-weight Grounding DINO Swin-T snapshot (the paper's detector architecture) for timing.

No download is possible here, so latency of the paper setting (``handos_gdino_t.yaml``, 800 px)
is measured on the real architecture with random weights: transformers' ``GroundingDinoConfig``
defaults are Grounding-DINO-T (Swin-T backbone, d = 256, 900 queries, 6+6 layers, BERT-base text
encoder). The tokenizer is a small BERT vocabulary keeping bert-base-uncased's special ids plus
"hand". Timing does not depend on the weights; accuracy obviously does.

    python bench/gdino_random_snapshot.py OUT_DIR      # then model.detector.weights: OUT_DIR
"""

from __future__ import annotations

import argparse
from pathlib import Path


def save_snapshot(directory: Path) -> Path:
    import torch
    from transformers import BertTokenizer, GroundingDinoConfig, GroundingDinoForObjectDetection

    from handos_model.models.detector_gdino import placeholder_vocab

    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = GroundingDinoForObjectDetection(GroundingDinoConfig()).eval()
    model.save_pretrained(directory)
    BertTokenizer(vocab=placeholder_vocab(), do_lower_case=True).save_pretrained(directory)
    return directory


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    print(save_snapshot(p.parse_args().out))


if __name__ == "__main__":
    main()
