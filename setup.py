"""pip-installable part of the project: ``handos_model`` (PyTorch, no ROS).

``pip install -e .`` on a GPU training machine gives the model, the data engine,
the dataset loaders and the ``handos-synth`` / ``handos-train`` / ``handos-eval``
commands. The ROS package (``handos_ros`` + messages) is built by colcon from
CMakeLists.txt / package.xml instead.
"""

from setuptools import setup

setup(
    name="handos-model",
    version="0.1.0",
    description="HandOS one-stage 3D hand reconstruction (PyTorch model, data engine, training)",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=[
        "handos_model",
        "handos_model.hand",
        "handos_model.synth",
        "handos_model.data",
        "handos_model.models",
        "handos_model.engine",
        "handos_model.export",
    ],
    package_data={
        "handos_model": ["assets/*.npz", "assets/*.png", "configs/*.yaml", "weights/*.safetensors", "weights/*.json"],
    },
    install_requires=[
        "torch>=2.3",
        "numpy>=1.24",
        "scipy>=1.10",
        "opencv-python-headless>=4.8",
        "pillow>=10",
        "safetensors>=0.4",
        "trimesh>=4",
        "PyYAML>=6",
        "tqdm>=4.60",
    ],
    extras_require={
        "gdino": ["transformers>=4.40"],
        "train": ["tensorboard>=2.14"],
        "onnx": ["onnx>=1.16", "onnxruntime>=1.18", "onnxscript>=0.3"],
        "bench": ["mediapipe==0.10.14", "psutil>=5.9"],
    },
    entry_points={
        "console_scripts": [
            "handos-synth=handos_model.synth.cli:main",
            "handos-train=handos_model.engine.train:main",
            "handos-eval=handos_model.engine.evaluate:main",
            "handos-export=handos_model.export.cli:main",
        ],
    },
)
