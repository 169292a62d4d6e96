"""Which environment variables make Fast DDS read an XML profile (the package's loopback one).

Fast DDS 3 (ROS 2 Kilted and later) reads ``FASTDDS_DEFAULT_PROFILES_FILE`` and warns that
``FASTRTPS_DEFAULT_PROFILES_FILE`` is deprecated; Fast DDS 2.x (Humble, Jazzy) reads only
``FASTRTPS_DEFAULT_PROFILES_FILE``: given just the first name, a Jazzy node silently ignores the
profile and talks on every interface. The tests (test/ros_isolation.py) and the demo set the
names returned by :func:`profile_variables`. Standard library only.
"""

from __future__ import annotations

import importlib.metadata
import os

FASTDDS_3 = "FASTDDS_DEFAULT_PROFILES_FILE"
FASTDDS_2 = "FASTRTPS_DEFAULT_PROFILES_FILE"
# Distributions whose Fast DDS is 2.x.
FASTDDS_2_DISTROS = ("humble", "iron", "jazzy")


def fastdds_major() -> int:
    """2 or 3: from ``ROS_DISTRO`` on a sourced apt install, else from the installed wheels."""
    distro = os.environ.get("ROS_DISTRO", "")
    if distro:
        return 2 if distro in FASTDDS_2_DISTROS else 3
    try:
        importlib.metadata.version("ros-fastrtps")  # the PyPI wheel of Fast DDS 2.x (Jazzy)
    except importlib.metadata.PackageNotFoundError:
        return 3
    return 2


def profile_variables() -> tuple[str, ...]:
    """The variables to set to a profile's path for this machine's Fast DDS."""
    return (FASTDDS_3, FASTDDS_2) if fastdds_major() == 2 else (FASTDDS_3,)
