"""HandOS: one-stage 3D hand reconstruction (PyTorch; never imports ROS)."""

from pathlib import Path

__version__ = "0.1.0"

PACKAGE_DIR = Path(__file__).resolve().parent
ASSETS_DIR = PACKAGE_DIR / "assets"
CONFIGS_DIR = PACKAGE_DIR / "configs"
WEIGHTS_DIR = PACKAGE_DIR / "weights"

# The embedded default model: the one the node, `make demo`, `handos-export` and the benchmarks
# load when given no weights (WEIGHTS_DIR/<name>.safetensors + .json; its architecture is
# CONFIGS_DIR/<name>.yaml). The one place that names it.
DEFAULT_MODEL = "handos_lite"
DEFAULT_WEIGHTS = WEIGHTS_DIR / f"{DEFAULT_MODEL}.safetensors"
DEFAULT_CONFIG = CONFIGS_DIR / f"{DEFAULT_MODEL}.yaml"
