"""HandOS for ROS 2: the node, its tools, and the messages colcon generates (``handos_ros.msg``).

Run from the root of a source checkout (``python -m handos_ros.synthetic_camera``), ``import
handos_ros`` finds this source folder first, and it has no generated ``msg``: colcon builds that
into the install space. ``pkgutil.extend_path`` appends every other ``handos_ros`` folder on
``sys.path`` (the sourced install's among them) to the package's search path, so ``handos_ros.msg``
and its type support libraries are found there, and the modules are the same files either way
(``--symlink-install``).
"""

from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
