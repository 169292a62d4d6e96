"""The restricted unpickler admits numpy arrays and plain data, and refuses everything else."""

from __future__ import annotations

import builtins
import io
import os
import pickle
import subprocess
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from handos_model.data.safe_pickle import UnsafePickleError, safe_load, safe_load_npz, safe_loads


class _Call:
    """Pickles as ``fn(*args)``."""

    def __init__(self, fn, *args) -> None:
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_numpy_and_builtin_data_roundtrip(protocol: int) -> None:
    data = {
        "a": np.arange(12, dtype=np.float32).reshape(3, 4),
        "b": np.array([1, 2], dtype=np.int64),
        "s": np.float64(2.5),
        "t": (1, "x", None, True),
        "set": {1, 2},
        "od": OrderedDict(k=[1.0, 2.0]),
        "bytes": b"\x00\x01",
    }
    out = safe_loads(pickle.dumps(data, protocol=protocol))
    np.testing.assert_array_equal(out["a"], data["a"])
    assert out["a"].dtype == np.float32
    np.testing.assert_array_equal(out["b"], data["b"])
    assert out["s"] == 2.5 and out["t"] == data["t"] and out["set"] == {1, 2}
    assert out["od"] == data["od"] and out["bytes"] == b"\x00\x01"


@pytest.mark.parametrize("fn,args", [(os.system, ("true",)), (builtins.eval, ("1+1",)),
                                     (subprocess.call, (["true"],)), (getattr, ("x", "upper"))])
def test_code_execution_globals_are_refused(fn, args, tmp_path: Path) -> None:
    payload = pickle.dumps({"x": _Call(fn, *args)}, protocol=2)
    with pytest.raises(UnsafePickleError, match="refusing"):
        safe_loads(payload)
    (tmp_path / "m.pkl").write_bytes(payload)
    with pytest.raises(pickle.UnpicklingError):
        safe_load(tmp_path / "m.pkl")


def test_side_effect_does_not_happen(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    payload = pickle.dumps([_Call(os.system, f"touch {marker}")])
    with pytest.raises(UnsafePickleError):
        safe_loads(payload)
    assert not marker.exists()
    pickle.loads(payload)  # the same bytes with plain pickle do run the command: the test is meaningful
    assert marker.exists()


def test_npz_object_arrays_use_the_restricted_unpickler(tmp_path: Path) -> None:
    good = tmp_path / "good.npz"
    np.savez(good, x=np.arange(6.0).reshape(2, 3), names=np.array([b"a.jpg", {"k": 1}], dtype=object),
             f=np.asfortranarray(np.arange(6).reshape(2, 3)))
    arrays = safe_load_npz(good)
    np.testing.assert_array_equal(arrays["x"], np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(arrays["f"], np.arange(6).reshape(2, 3))
    assert arrays["names"][0] == b"a.jpg" and arrays["names"][1] == {"k": 1}
    # an object array whose pickle calls os.system
    bad = tmp_path / "bad.npz"
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.array([_Call(os.system, "true")], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("names.npy", buf.getvalue())
    with pytest.raises(UnsafePickleError):
        safe_load_npz(bad)
    with pytest.raises(KeyError):
        safe_load_npz(good, keys=["missing"])
