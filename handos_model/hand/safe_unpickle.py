"""A restricted unpickler for the official MANO model files.

``MANO_RIGHT.pkl`` is a Python-2 pickle of a dict of numpy arrays, one
``scipy.sparse.csc_matrix`` (``J_regressor``) and one ``chumpy.ch.Ch`` object
(``shapedirs``). A plain ``pickle.load`` would import and call whatever the file
names, so we admit only the globals such a file contains:

* the allow-list shared with the dataset loaders (``handos_model.data.safe_pickle``):
  numpy array / dtype / scalar reconstruction and a few inert builtins (``set``,
  ``frozenset``, ``_codecs.encode`` for bytes in protocol-2 pickles, ...);
* ``scipy.sparse`` ``csc_matrix`` (old and new module paths), mapped to an inert
  placeholder that only records its state and is turned into a real
  ``csc_matrix`` afterwards;
* ``chumpy.ch.Ch``, mapped to an inert placeholder whose ``x`` becomes a plain
  numpy array (chumpy is not needed, and never imported);
* ``object`` and ``copy_reg._reconstructor`` (how Python 2 pickles plain new-style
  objects: it only calls ``object.__new__`` on an already admitted class).

Anything else raises :class:`UnsafePickleError` naming the file and the global.
"""

from __future__ import annotations

import copyreg
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from ..data.safe_pickle import RestrictedUnpickler as BaseRestrictedUnpickler
from ..data.safe_pickle import UnsafePickleError

__all__ = ["PickledChumpy", "PickledSparse", "RestrictedUnpickler", "UnsafePickleError", "restricted_load"]


class PickledChumpy:
    """Inert stand-in for ``chumpy.ch.Ch``: keeps the pickled state only."""

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def to_numpy(self) -> np.ndarray:
        st = getattr(self, "state", None)
        if isinstance(st, dict) and "x" in st:
            return np.asarray(_convert(st["x"]))
        if isinstance(st, tuple) and len(st) == 2 and isinstance(st[1], dict) and "x" in st[1]:
            return np.asarray(_convert(st[1]["x"]))
        raise pickle.UnpicklingError("chumpy object without an 'x' array (only plain Ch arrays are supported)")


class PickledSparse:
    """Inert stand-in for a scipy sparse CSC matrix: keeps the pickled state only."""

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def to_scipy(self):
        import scipy.sparse as sp

        st = self.state if isinstance(self.state, dict) else {}
        shape = st.get("_shape", st.get("shape"))
        try:
            data, indices, indptr = (np.asarray(st[k]) for k in ("data", "indices", "indptr"))
        except KeyError as e:
            raise pickle.UnpicklingError(f"sparse matrix state lacks {e}") from None
        return sp.csc_matrix((data, indices, indptr), shape=tuple(int(s) for s in shape))


_SPARSE_GLOBALS = {
    ("scipy.sparse.csc", "csc_matrix"),
    ("scipy.sparse._csc", "csc_matrix"),
    ("scipy.sparse", "csc_matrix"),
}
_CHUMPY_GLOBALS = {("chumpy.ch", "Ch"), ("chumpy", "Ch")}
# what a MANO file needs beyond the shared numpy/builtins allow-list of data.safe_pickle:
# chumpy objects are pickled as copy_reg._reconstructor(Ch, object, None)
_OBJECT_GLOBALS = {
    ("__builtin__", "object"): object,
    ("builtins", "object"): object,
    ("copy_reg", "_reconstructor"): copyreg._reconstructor,
    ("copyreg", "_reconstructor"): copyreg._reconstructor,
}


class RestrictedUnpickler(BaseRestrictedUnpickler):
    """The shared numpy/builtins allow-list plus the classes of an official MANO file."""

    def __init__(self, file, source: str, **kwargs: Any) -> None:
        super().__init__(file, **kwargs)
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        key = (module, name)
        if key in _SPARSE_GLOBALS:
            return PickledSparse
        if key in _CHUMPY_GLOBALS:
            return PickledChumpy
        if key in _OBJECT_GLOBALS:
            return _OBJECT_GLOBALS[key]
        try:
            return super().find_class(module, name)
        except UnsafePickleError:
            raise UnsafePickleError(
                f"{self.source}: refusing to unpickle global '{module}.{name}': not one of the classes an "
                "official MANO file contains (numpy arrays, scipy csc_matrix, chumpy Ch)"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"{self.source}: persistent ids are not allowed")


def _convert(obj: Any) -> Any:
    """Replace placeholders by numpy arrays / scipy matrices, recursively in containers."""
    if isinstance(obj, PickledChumpy):
        return obj.to_numpy()
    if isinstance(obj, PickledSparse):
        return obj.to_scipy()
    if isinstance(obj, dict):
        return {(k.decode("latin1") if isinstance(k, bytes) else k): _convert(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_convert(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_convert(v) for v in obj)
    return obj


def restricted_load(path: str | Path) -> Any:
    """Load a MANO-style pickle (Python 2 or 3) with the restricted unpickler.

    Returns the unpickled object with chumpy objects as numpy arrays and sparse
    matrices as ``scipy.sparse.csc_matrix``. Raises UnsafePickleError on any other global.
    """
    path = Path(path)
    with open(path, "rb") as f:
        obj = RestrictedUnpickler(f, source=str(path), encoding="latin1").load()
    return _convert(obj)
