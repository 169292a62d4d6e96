"""ONNX Runtime session options and thread pools for HandOS's two graphs.

Each ONNX Runtime session has, by default, its own intra-op thread pool whose workers keep
spinning for a while after a run. HandOS runs two graphs per frame (detector, then decoder); with
a pool per graph, the one that just ran keeps its workers spinning while the other one needs the
cores (measured on 2 cores, H = 1: 56 ms per frame with two default pools, 36 ms when the
decoder's workers do not spin, 31 ms with one pool shared by both; docs/deployment.md).

* default: per-session pools, the decoder's not spinning (``spin=False``) -- no effect on any
  other ONNX Runtime session of the process;
* ``enable_shared_pool(n)``: ONNX Runtime's process-wide pool (``set_global_thread_pool_sizes``,
  the Python binding of its global-pool options in ``onnxruntime.capi``) for every later session.
  Once set, ONNX Runtime **refuses** any session of the process that asks for its own pool, so
  only a process that owns ONNX Runtime should ask for it (the ROS node does; a library user
  opts in with ``load_onnx_model(..., shared_pool=True)``). :func:`session_options` builds
  options that work in either state; every session HandOS creates goes through it.
"""

from __future__ import annotations

import warnings
from typing import Any

_POOL: dict[str, int | None] = {}


def enable_shared_pool(num_threads: int) -> int | None:
    """Put every later session of this process on one global pool of ``num_threads`` (0: ONNX
    Runtime's default); the first call decides the size. Returns it, or None when the binding is
    missing or refuses (sessions then keep pools of their own)."""
    if "threads" not in _POOL:
        try:
            from onnxruntime.capi import _pybind_state

            _pybind_state.set_global_thread_pool_sizes(int(num_threads), 1)
            _POOL["threads"] = int(num_threads)
        except (ImportError, AttributeError, RuntimeError):
            _POOL["threads"] = None
    elif _POOL["threads"] is not None and _POOL["threads"] != int(num_threads):
        warnings.warn(f"onnxruntime: this process's sessions share one thread pool of {_POOL['threads']} threads "
                      f"(set first); num_threads={num_threads} is not applied", stacklevel=2)
    return _POOL["threads"]


def shared_pool_size() -> int | None:
    """The global pool's size when :func:`enable_shared_pool` set one up, else None."""
    return _POOL.get("threads")


def session_options(num_threads: int = 0, spin: bool = True) -> Any:  # noqa: ANN401 - ort.SessionOptions
    """``onnxruntime.SessionOptions`` (all graph optimisations) on the global pool when one is set
    up, else with a pool of ``num_threads`` (0: default) whose workers spin between runs only
    with ``spin``."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if shared_pool_size() is not None:
        so.use_per_session_threads = False
        return so
    if num_threads > 0:
        so.intra_op_num_threads = int(num_threads)
        so.inter_op_num_threads = 1
    if not spin:
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return so
