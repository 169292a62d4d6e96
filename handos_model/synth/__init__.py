"""CPU synthetic data engine (no dataset, no MANO file, no GPU needed).

* ``scene``: random multi-hand scenes and their exact ground truth (``render_sample``).
* ``render``: painter's-algorithm G-buffer rasteriser + per-pixel skin shading.
* ``background`` / ``appearance``: procedural backgrounds, skin tones, materials, lights.
* ``camera_stream``: ``SyntheticCamera``, a smooth video stream with ground truth.
* ``cli``: ``handos-synth`` writes datasets in the format of ``handos_model.data.synthetic``.
"""
