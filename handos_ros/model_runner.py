"""Loading HandOS for the node: device choice, weights resolution, GPU memory release.

- ``device``: ``auto`` picks ``cuda:0`` when ``torch.cuda.is_available()`` else ``cpu``;
  ``cuda``/``cuda:N`` without such a GPU raises :class:`ModelLoadError` (the node's
  configure transition then fails with that message).
- ``weights``: empty = the embedded default (``handos_model.DEFAULT_WEIGHTS``).
  If THAT file is missing, an UNTRAINED model is built from ``model_config`` so the
  plumbing still runs, and :attr:`LoadedModel.untrained` is set: the node logs it as an
  error and reports it on /diagnostics and in HandMeshInfo.weights. An explicitly given
  weights path that does not exist is an error.
- ``backend``: ``torch``, ``onnxruntime`` (CPU), or ``auto`` (the default): ONNX Runtime where
  it can serve the model (CPU device, the model's own input size, onnxruntime installed, the
  export succeeds), else PyTorch; :attr:`LoadedModel.backend_choice` says which and why.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


class ModelLoadError(RuntimeError):
    """The model cannot be loaded as configured (message says what to change)."""


def default_weights_path() -> Path:
    from handos_model import DEFAULT_WEIGHTS

    return DEFAULT_WEIGHTS


def default_config_path() -> Path:
    from handos_model import DEFAULT_CONFIG

    return DEFAULT_CONFIG


def resolve_device(requested: str) -> str:
    """``auto`` | ``cpu`` | ``cuda`` | ``cuda:N`` -> a torch device string that exists here."""
    import torch

    req = requested.strip().lower()
    if req == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if req == "cpu":
        return "cpu"
    if req.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ModelLoadError(
                f"device={requested!r} but CUDA is not available on this machine "
                f"(torch {torch.__version__}, built with CUDA {torch.version.cuda}): use device:=auto or device:=cpu"
            )
        index = int(req.split(":", 1)[1]) if ":" in req else 0
        if index >= torch.cuda.device_count():
            raise ModelLoadError(f"device={requested!r} but only {torch.cuda.device_count()} CUDA device(s) exist")
        return f"cuda:{index}"
    raise ModelLoadError(f"device must be auto, cpu, cuda or cuda:N, got {requested!r}")


@dataclass
class LoadedModel:
    """A HandOS ready for ``predict`` plus what the node reports about it.

    Attributes:
        model: the HandOS module (eval mode) on ``device``; with the onnxruntime backend an
            ``OnnxHandPredictor`` (``handos_model.export``), which predicts by itself.
        device: torch device string it runs on ("cpu", "cuda:0").
        weights_id: identifier for HandMeshInfo.weights / diagnostics (file + config name).
        untrained: True when the default weights file was missing (random weights).
        load_s: wall time of the load, seconds.
        backend: "torch" or "onnxruntime" (what runs; never "auto").
        backend_choice: with ``backend: auto``, what was picked and why (for the log); else "".
    """

    model: Any
    device: str
    weights_id: str
    untrained: bool
    load_s: float
    backend: str = "torch"
    backend_choice: str = ""

    @property
    def topology(self) -> Any:
        return self.model.topology

    @property
    def input_size(self) -> int:
        return int(self.model.input_size)


BACKENDS = ("auto", "torch", "onnxruntime")  # the one list: the node's backend parameter offers these


def load(weights: str, model_config: str, device: str, input_size: int = 0, num_threads: int = 0,
         backend: str = "torch") -> LoadedModel:
    """Load (or, for a missing default, build untrained) HandOS on ``device`` with ``backend``.

    Raises:
        ModelLoadError: unusable device or backend, missing explicit weights file, invalid
            checkpoint, export or config.
    """
    import torch

    if backend not in BACKENDS:
        raise ModelLoadError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        return _load_auto(weights, model_config, device, input_size, num_threads)
    if backend == "onnxruntime":
        return _load_onnx(weights, device, input_size, num_threads)
    t0 = time.monotonic()
    dev = resolve_device(device)
    if num_threads > 0:
        torch.set_num_threads(num_threads)
    untrained = False
    if weights:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise ModelLoadError(f"weights file {str(path)!r} does not exist (weights:='' uses the embedded default model)")
    else:
        path = default_weights_path()
        untrained = not path.is_file()
    try:
        if untrained:
            from handos_model.models.build import build_model

            cfg_path = Path(model_config).expanduser() if model_config else default_config_path()
            if not cfg_path.is_file():
                raise ModelLoadError(f"model_config {str(cfg_path)!r} does not exist")
            torch.manual_seed(0)  # deterministic untrained plumbing runs
            model = build_model(str(cfg_path)).to(dev).eval()
            weights_id = f"UNTRAINED random weights ({cfg_path.name}; default weights {path.name} missing)"
        else:
            from handos_model.checkpoint import load_model

            model = load_model(path, dev)
            cfg_name = _config_name(path)
            weights_id = f"{path.name} ({cfg_name})" if cfg_name else path.name
    except ModelLoadError:
        raise
    except Exception as exc:  # CheckpointError, YAML errors, torch errors: all mean "cannot load"
        raise ModelLoadError(f"cannot load HandOS from {path}: {exc}") from exc
    if input_size:
        model.input_size = int(input_size)
    return LoadedModel(model=model, device=dev, weights_id=weights_id, untrained=untrained, load_s=time.monotonic() - t0)


def _load_auto(weights: str, model_config: str, device: str, input_size: int, num_threads: int) -> LoadedModel:
    """``backend: auto``: ONNX Runtime when it can serve this model here, else PyTorch (never fails
    where ``backend: torch`` would succeed). An ONNX export given as ``weights`` (its folder or
    ``handos_onnx.json``) only ONNX Runtime can run: its errors are the load's."""
    given = Path(weights).expanduser() if weights else None
    if given is not None and (given.is_dir() or given.suffix == ".json"):
        lm = _load_onnx(weights, device, input_size, num_threads)
        lm.backend_choice = "backend auto -> onnxruntime (CPU): weights is an ONNX export"
        return lm
    reason = ""
    if resolve_device(device) != "cpu":
        reason = "the model runs on CUDA"
    elif input_size:
        reason = f"input_size {input_size} is set (the ONNX graphs have the trained size)"
    elif not weights and not default_weights_path().is_file():
        reason = "no trained weights (untrained plumbing model)"
    if not reason:
        try:
            lm = _load_onnx(weights, device, input_size, num_threads)
        except ModelLoadError as exc:
            reason = f"ONNX Runtime cannot serve it ({exc})"
        else:
            lm.backend_choice = "backend auto -> onnxruntime (CPU)"
            return lm
    lm = load(weights, model_config, device, input_size, num_threads, backend="torch")
    lm.backend_choice = f"backend auto -> torch: {reason}"
    return lm


def onnx_cache_dir(weights_path: Path) -> Path:
    """Where the node keeps its ONNX export of a weights file:
    ``$ROS_HOME/handos_onnx/<name>-<sha>-v<export format version>`` (``~/.ros`` when ROS_HOME is
    unset); the hash of the weights file and the export format name it, so a new file or a newer
    exporter gets a new export."""
    import hashlib
    import os

    from handos_model.export.onnx_export import FORMAT_VERSION

    digest = hashlib.sha256(weights_path.read_bytes()).hexdigest()[:16]
    home = Path(os.environ.get("ROS_HOME") or Path.home() / ".ros")
    return home / "handos_onnx" / f"{weights_path.stem}-{digest}-v{FORMAT_VERSION}"


def _load_onnx(weights: str, device: str, input_size: int, num_threads: int) -> LoadedModel:
    """The onnxruntime backend: ``weights`` is a ``handos-export --onnx`` folder (or its
    ``handos_onnx.json``), or a HandOS ``.safetensors`` / empty (the embedded default), which is
    exported once into :func:`onnx_cache_dir` at configure."""
    t0 = time.monotonic()
    if device not in ("auto", "cpu"):
        raise ModelLoadError(f"backend onnxruntime runs on the CPU here (device auto or cpu), got device={device!r}")
    try:
        from handos_model.export.onnx_export import export_onnx
        from handos_model.export.onnx_runtime import load_onnx_model
    except ImportError as exc:
        raise ModelLoadError(f"backend onnxruntime needs onnx and onnxruntime (requirements.txt): {exc}") from exc
    path = Path(weights).expanduser() if weights else default_weights_path()
    if not path.exists():
        raise ModelLoadError(f"weights {str(path)!r} does not exist (weights:='' uses the embedded default model)")
    try:
        if path.is_dir() or path.suffix == ".json":
            export_dir, source = path, path.name
        else:
            from handos_model.checkpoint import load_model

            export_dir, source = onnx_cache_dir(path), path.name
            if not (export_dir / "handos_onnx.json").is_file():
                _export_once(export_dir, lambda out: export_onnx(load_model(path, "cpu"), out, source=path.name))
        # the node's process owns ONNX Runtime: both graphs on one shared thread pool (ort_threads.py)
        model = load_onnx_model(export_dir, device="cpu", num_threads=num_threads, shared_pool=True)
        if input_size:
            model.input_size = int(input_size)  # raises unless it is the exported size
    except ModelLoadError:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure here means "cannot load"
        raise ModelLoadError(f"cannot load the ONNX model from {path}: {exc}") from exc
    return LoadedModel(model=model, device="cpu", weights_id=f"{source} (onnxruntime)", untrained=False,
                       load_s=time.monotonic() - t0, backend="onnxruntime")


def _export_once(export_dir: Path, export: Callable[[Path], None]) -> None:
    """Run ``export(folder)`` into a fresh folder beside ``export_dir`` and rename it into place, so
    that a node killed mid-export leaves nothing half-written and two nodes exporting the same file
    at once both end with a complete export (the second rename loses; both are the same)."""
    import shutil
    import tempfile

    export_dir.parent.mkdir(parents=True, exist_ok=True)
    if export_dir.exists():  # a folder without handos_onnx.json: an interrupted export of an old version
        shutil.rmtree(export_dir, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{export_dir.name}.", dir=export_dir.parent))
    try:
        export(tmp)
        try:
            tmp.rename(export_dir)
        except OSError:
            if not (export_dir / "handos_onnx.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def predictor(lm: LoadedModel) -> Any:
    """What predicts for ``lm``: a ``HandPredictor`` around the torch model, or the ONNX predictor itself."""
    if lm.backend == "onnxruntime":
        return lm.model
    from handos_model.predictor import HandPredictor

    return HandPredictor(lm.model)


def _config_name(weights_path: Path) -> str:
    import json

    try:
        info = json.loads(weights_path.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    extra = info.get("extra") or {}
    return str(extra.get("config_name") or extra.get("config") or info.get("config", {}).get("name", "") or "")


def warm_up(lm: LoadedModel, height: int = 480, width: int = 640) -> float:
    """One forward pass on a grey image (first-call allocations), seconds; never raises."""
    t0 = time.monotonic()
    try:
        image = np.full((height, width, 3), 114, dtype=np.uint8)
        K = np.array([[width, 0, width / 2], [0, width, height / 2], [0, 0, 1]], dtype=np.float32)
        predictor(lm).predict_timed(image, K, fixed_count=1)
    except Exception:  # noqa: BLE001 - a warm-up failure shows up on the first real frame instead
        pass
    return time.monotonic() - t0


class ModelParked(RuntimeError):
    """predict() was called while the node is inactive (model moved off its device)."""


class ModelGuard:
    """Serialises inference and device moves (deactivate frees GPU memory mid-stream safely)."""

    def __init__(self, lm: LoadedModel) -> None:
        self.lm = lm
        self.lock = threading.Lock()
        self._on_device = True

    def predict(self, image: np.ndarray, K: np.ndarray, score: float, nms: float, max_hands: int) -> tuple[list, Any]:
        with self.lock:
            if not self._on_device or self.lm.model is None:
                raise ModelParked("model is parked (node inactive)")
            return predictor(self.lm).predict_timed(
                image, K, score_threshold=score, nms_threshold=nms, max_hands=max_hands
            )

    def park(self) -> None:
        """Move the weights off the GPU and release cached GPU memory (deactivate)."""
        import torch

        with self.lock:
            if self.lm.device.startswith("cuda") and self._on_device:
                self.lm.model.to("cpu")
                torch.cuda.empty_cache()
            self._on_device = False

    def unpark(self) -> None:
        """Move the weights back to the configured device (activate)."""
        with self.lock:
            if self.lm.device.startswith("cuda") and not self._on_device:
                self.lm.model.to(self.lm.device)
            self._on_device = True

    def release(self) -> None:
        """Drop the model (cleanup) and release GPU memory."""
        import torch

        with self.lock:
            self._on_device = False
            self.lm.model = None
            if self.lm.device.startswith("cuda"):
                torch.cuda.empty_cache()
