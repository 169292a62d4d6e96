"""CPU synthetic data engine (no dataset, no MANO file, no GPU needed).

* ``generate``: ``render_sample(seed, index, config)``, the whole engine for one image.
* ``config``: ``SynthConfig`` (what the scenes look like) and its easy variant.
* ``scene``: random scenes (``sample_scene``) of hands, forearms, occluders, lights, camera;
  ``placement``: image size, intrinsics, hand size, orientation and position.
* ``compose``: draws a scene and computes its exact ground truth (``render_scene``).
* ``render``: painter's-algorithm G-buffer rasteriser + per-pixel skin shading;
  ``body``: hand face attributes and forearm meshes; ``camera_fx``: camera effects.
* ``background`` / ``appearance`` / ``colors``: procedural backgrounds, materials and lights,
  colours and skin tones; ``geometry``: rotations and boxes.
* ``camera_stream``: ``SyntheticCamera``, a smooth video stream with ground truth.
* ``cli``: ``handos-synth`` writes datasets in the format of ``handos_model.data.synthetic``.
"""
