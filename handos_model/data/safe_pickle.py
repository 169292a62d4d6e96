"""A restricted unpickler for dataset annotation files (HO3D ``meta/*.pkl``).

``pickle.load`` on a downloaded file runs whatever the file asks for. This
unpickler resolves only the globals on an allow-list: numpy array / dtype /
scalar reconstruction and a few inert builtins. Anything else (``os.system``,
``builtins.eval``, ``subprocess.Popen``, a chumpy class, ...) raises
``UnsafePickleError`` before it is called.

Python-2 pickles (HO3D was written by Python 2) load with ``encoding="latin1"``,
the same way the official HO3D scripts read them.
"""

from __future__ import annotations

import _compat_pickle
import importlib
import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

# (module, name) pairs that may be resolved. numpy 1.x pickles name
# ``numpy.core.*``; numpy 2.x renamed the package to ``numpy._core`` — both allowed.
ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy._core.numeric", "_frombuffer"),
        # Python 3 pickles (protocol 2) store raw bytes via _codecs.encode(str, "latin1").
        ("_codecs", "encode"),
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "slice"),
        ("builtins", "complex"),
        ("builtins", "bytearray"),
        ("collections", "OrderedDict"),
    }
)


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle referenced a global outside ``ALLOWED_GLOBALS``."""


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` whose ``find_class`` only admits ``ALLOWED_GLOBALS``."""

    def find_class(self, module: str, name: str) -> Any:  # noqa: D102 - pickle API
        # Python 2 names (``__builtin__.set``, ...) as ``pickle`` maps them for protocols < 3.
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        if (module, name) not in ALLOWED_GLOBALS:
            raise UnsafePickleError(
                f"refusing to load global {module}.{name} from a pickle "
                "(only numpy arrays and plain builtins are allowed)"
            )
        if module.startswith("numpy.core."):
            # Avoid numpy 2's deprecated ``numpy.core`` shim when the new path exists.
            try:
                return getattr(importlib.import_module("numpy._core." + module[len("numpy.core.") :]), name)
            except (ImportError, AttributeError):
                pass
        return getattr(importlib.import_module(module), name)


def safe_loads(data: bytes, encoding: str = "latin1") -> Any:
    """Unpickle ``data`` with ``RestrictedUnpickler``; raises ``UnsafePickleError`` on a forbidden global."""
    return RestrictedUnpickler(io.BytesIO(data), encoding=encoding).load()


def safe_load(path: str | Path, encoding: str = "latin1") -> Any:
    """Read and unpickle the file at ``path`` with ``RestrictedUnpickler``."""
    with open(path, "rb") as f:
        return RestrictedUnpickler(f, encoding=encoding).load()


def safe_load_npz(path: str | Path, keys: list[str] | None = None) -> dict[str, np.ndarray]:
    """Read arrays of an ``.npz`` archive; object arrays go through ``RestrictedUnpickler``.

    ``np.load(..., allow_pickle=True)`` would run plain ``pickle.load`` on object
    arrays (e.g. the ``imgname``/``extra_info`` of HaMeR's evaluation files).

    Args:
        keys: members to read (without ``.npy``); default all.
    """
    out: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as zf:
        names = [n[:-4] for n in zf.namelist() if n.endswith(".npy")]
        for key in names if keys is None else keys:
            if key not in names:
                raise KeyError(f"{path} has no array {key!r}")
            with zf.open(key + ".npy") as f:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
                else:
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
                if dtype.hasobject:
                    arr = RestrictedUnpickler(f, encoding="latin1").load()
                    arr = np.asarray(arr, dtype=object).reshape(shape)
                else:
                    data = np.frombuffer(f.read(), dtype=dtype)
                    arr = data.reshape(shape[::-1]).T if fortran else data.reshape(shape)
            out[key] = arr
    return out
