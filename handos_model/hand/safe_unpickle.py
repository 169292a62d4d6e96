"""A restricted unpickler for the official MANO model files.

``MANO_RIGHT.pkl`` is a Python-2 pickle of a dict of numpy arrays, one
``scipy.sparse.csc_matrix`` (``J_regressor``) and one ``chumpy.ch.Ch`` object
(``shapedirs``). A plain ``pickle.load`` would import and call whatever the file
names, so we admit only the globals such a file contains:

* numpy array reconstruction: ``numpy[._]core.multiarray._reconstruct``,
  ``numpy.ndarray``, ``numpy.dtype``, ``numpy[._]core.multiarray.scalar`` and
  ``numpy[._]core.numeric._frombuffer`` (pickle protocol 5 arrays);
* ``scipy.sparse`` ``csc_matrix`` (old and new module paths), mapped to an inert
  placeholder that only records its state and is turned into a real
  ``csc_matrix`` afterwards;
* ``chumpy.ch.Ch``, mapped to an inert placeholder whose ``x`` becomes a plain
  numpy array (chumpy is not needed, and never imported);
* the builtins ``set`` / ``frozenset`` (inside chumpy state), ``object`` and
  ``copy_reg._reconstructor`` (how Python 2 pickles plain new-style objects: it only
  calls ``object.__new__`` on an already admitted class), and ``_codecs.encode``
  (how Python 3 stores bytes in protocol-2 pickles, e.g. a re-saved MANO file).

Anything else raises :class:`UnsafePickleError` naming the file and the global.
"""

from __future__ import annotations

import codecs
import copyreg
import pickle
from pathlib import Path
from typing import Any

import numpy as np


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle refers to a global that is not admitted."""


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


def _np_attr(mod: str, name: str) -> Any:
    import importlib

    for m in (mod, mod.replace("numpy.core", "numpy._core"), mod.replace("numpy._core", "numpy.core")):
        try:
            return getattr(importlib.import_module(m), name)
        except (ImportError, AttributeError):
            continue
    raise UnsafePickleError(f"numpy has no {mod}.{name}")


_NUMPY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}
_SPARSE_GLOBALS = {
    ("scipy.sparse.csc", "csc_matrix"),
    ("scipy.sparse._csc", "csc_matrix"),
    ("scipy.sparse", "csc_matrix"),
}
_CHUMPY_GLOBALS = {("chumpy.ch", "Ch"), ("chumpy", "Ch")}
_BUILTIN_GLOBALS = {
    ("__builtin__", "set"): set,
    ("builtins", "set"): set,
    ("__builtin__", "frozenset"): frozenset,
    ("builtins", "frozenset"): frozenset,
    ("__builtin__", "object"): object,
    ("builtins", "object"): object,
    ("copy_reg", "_reconstructor"): copyreg._reconstructor,
    ("copyreg", "_reconstructor"): copyreg._reconstructor,
    # Python 3 writes bytes as _codecs.encode(str, "latin1") in protocols < 3 (re-saved MANO files)
    ("_codecs", "encode"): codecs.encode,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that admits only the globals of an official MANO file."""

    def __init__(self, file, source: str, **kwargs: Any) -> None:
        super().__init__(file, **kwargs)
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        key = (module, name)
        if key in _NUMPY_GLOBALS:
            return _np_attr(module, name)
        if key in _SPARSE_GLOBALS:
            return PickledSparse
        if key in _CHUMPY_GLOBALS:
            return PickledChumpy
        if key in _BUILTIN_GLOBALS:
            return _BUILTIN_GLOBALS[key]
        raise UnsafePickleError(
            f"{self.source}: refusing to unpickle global '{module}.{name}': not one of the classes an "
            "official MANO file contains (numpy arrays, scipy csc_matrix, chumpy Ch)"
        )

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
