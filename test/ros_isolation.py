"""Keep every test's DDS traffic on loopback and away from other test runs.

- Fast DDS profile ``config/fastdds_localhost.xml``: UDPv4 on 127.0.0.1 only, named by the
  variable(s) this Fast DDS reads (``handos_ros.dds_profile``: Jazzy's 2.x ignores Kilted's name).
- A ROS_DOMAIN_ID owned by this run: an exclusive ``fcntl`` lock on a per-domain
  file, so two runs on one machine (parallel CI jobs, a developer's shell) never
  share a domain while both are alive.
- ROS_HOME / ROS_LOG_DIR in a temporary directory.

Imported by ``conftest.py`` before anything initialises rclpy; subprocesses
inherit the environment.
"""

from __future__ import annotations

import fcntl
import os
import random
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PROFILE = REPO_ROOT / "config" / "fastdds_localhost.xml"
# Domain ids 1..100 keep Fast DDS's port numbers well inside the valid range.
_DOMAIN_RANGE = range(1, 101)
try:
    from handos_ros.dds_profile import profile_variables
except ImportError:  # handos_ros not built / not sourced: then there is no DDS to keep in either
    def profile_variables() -> tuple[str, ...]:
        return ("FASTDDS_DEFAULT_PROFILES_FILE",)
PROFILE_VARIABLES = profile_variables()
_lock_handle = None


def _claim_domain() -> int:
    """Lock and return a free domain id for the lifetime of this process."""
    global _lock_handle
    lock_dir = Path(tempfile.gettempdir()) / "handos_ros_test_domains"
    lock_dir.mkdir(exist_ok=True)
    candidates = list(_DOMAIN_RANGE)
    random.Random(os.getpid()).shuffle(candidates)
    for domain in candidates:
        handle = open(lock_dir / f"domain_{domain}.lock", "w")  # noqa: SIM115 - held until exit
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        _lock_handle = handle
        return domain
    raise RuntimeError("no free ROS_DOMAIN_ID in 1..100 for this test run")


def isolate_ros_environment() -> dict[str, str]:
    """Set the isolation variables in ``os.environ`` (once) and return them."""
    if os.environ.get("HANDOS_TEST_ISOLATED") == str(os.getpid()):
        return {k: os.environ[k] for k in ("ROS_DOMAIN_ID", "ROS_HOME", "ROS_LOG_DIR", *PROFILE_VARIABLES)}
    home = tempfile.mkdtemp(prefix="handos_ros_home_")
    values = {
        "ROS_DOMAIN_ID": str(_claim_domain()),
        "ROS_HOME": home,
        "ROS_LOG_DIR": os.path.join(home, "log"),
        **{var: str(PROFILE) for var in PROFILE_VARIABLES},
        "RMW_IMPLEMENTATION": "rmw_fastrtps_cpp",
    }
    # Never let the shared-memory "localhost only" mode or a user's discovery setup leak in.
    for key in ("ROS_AUTOMATIC_DISCOVERY_RANGE", "ROS_STATIC_PEERS", "ROS_LOCALHOST_ONLY", "ROS_DISCOVERY_SERVER"):
        os.environ.pop(key, None)
    os.environ.update(values)
    os.environ["HANDOS_TEST_ISOLATED"] = str(os.getpid())
    return values
