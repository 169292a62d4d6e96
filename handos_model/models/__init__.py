"""HandOS model: one file per box of the paper (Fig. 2).

==========================  =========================================================
paper box                   file
==========================  =========================================================
frozen detector (3.1)       ``detector.py`` (interface), ``detector_tiny.py``, ``detector_gdino.py``
side tuning (3.2)           ``side_tuning.py``
query filtering (eq. 5)     ``query_filtering.py``
query expansion (eqs. 6-7)  ``query_expansion.py``
query lifting (eq. 8)       ``query_lifting.py``
hierarchical attention      ``hierarchical_attention.py``
deformable attention        ``deformable_attention.py``
2D / interactive layers     ``decoder_layers.py``; the whole decoder + heads: ``decoder.py``
J^3D, Pi_K, t               ``camera.py``
losses (3.4)                ``losses.py``
post-processing (3.5)       ``postprocess.py``
the model                   ``handos.py``; assembled by ``build.py``
==========================  =========================================================
"""

from .build import build_criterion, build_model, load_config
from .criterion import HandOSCriterion
from .detector import Detector, DetectorOutput
from .handos import HandOS

__all__ = ["Detector", "DetectorOutput", "HandOS", "HandOSCriterion", "build_criterion", "build_model", "load_config"]
