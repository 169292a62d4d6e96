#!/usr/bin/env bash
# Environment bootstrap for machines WITHOUT an apt ROS 2 install.
#
#   1. a venv with the lane's pins (scripts/lane.sh: ROS 2 Kilted wheels from PyPI by default,
#      HANDOS_ROS_LANE=jazzy for the Jazzy ones; colcon, torch CPU, numpy, OpenCV, ...);
#   2. rewrites the build host's paths inside the message wheels' CMake exports;
#   3. handos_model's console scripts (handos-synth, handos-train, handos-eval): an editable,
#      dependency-free `pip install -e .` into the venv;
#   4. builds a minimal tf2_msgs interface package, only if ROS lacks tf2_msgs;
#   5. where ../shared/ros2-cli exists (Kilted lane): the upstream launch / launch_ros /
#      launch_testing / ros2 command line wheels and their runtime deps, and the one message
#      package they need, composition_interfaces, built like this package's messages;
#   6. colcon-builds this package (messages + Python) into the lane's install/.
#
# Every step is skipped when its inputs did not change, so a re-run takes seconds.
# On a machine with ROS 2 from apt, do not use this: source /opt/ros/<distro>/setup.bash
# and run `colcon build` in your workspace (see README.md).
#
#   HANDOS_ROS_LANE=kilted|jazzy   which lane (default kilted)
#   HANDOS_ROS2_CLI=DIR|off        where the launch / ros2 wheels are (default ../shared/ros2-cli)
#   HANDOS_PYTHON=python3.X        the interpreter that creates the venv
set -eo pipefail

handos_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$handos_root"
# shellcheck source=scripts/lane.sh
source "$handos_root/scripts/lane.sh"
handos_scrub_env
venv=$handos_venv
python=${HANDOS_PYTHON:-python3}

say() { printf '[bootstrap %s] %s\n' "$handos_lane" "$*"; }

hash_of() { cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1; }

# --- 1. virtual environment -------------------------------------------------------
if [ ! -x "$venv/bin/python" ]; then
  "$python" - <<'EOF' || { echo "[bootstrap] Python >= 3.10 is required" >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 10) else 1)
EOF
  say "creating $venv"
  "$python" -m venv "$venv"
fi
mkdir -p "$handos_ws"
lane_requirements="$venv/handos-requirements.txt"
handos_lane_requirements > "$lane_requirements.new"
mv "$lane_requirements.new" "$lane_requirements"
req_hash=$(hash_of "$lane_requirements")
# CMake refuses include directories inside the source tree, and the venv lives in it:
# the message build reads numpy's C headers from a copy outside the repository.
np_inc_copy="${XDG_CACHE_HOME:-$HOME/.cache}/handos_ros/numpy-include-$handos_lane"
sync_numpy_headers() {
  local src
  src=$("$venv/bin/python" -c 'import numpy; print(numpy.get_include())')
  if ! diff -rq "$src" "$np_inc_copy" >/dev/null 2>&1; then
    rm -rf "$np_inc_copy" && mkdir -p "$(dirname "$np_inc_copy")" && cp -r "$src" "$np_inc_copy"
  fi
}
if [ "$(cat "$venv/.handos-requirements" 2>/dev/null)" != "$req_hash" ]; then
  say "installing pinned requirements (first run: about 2 minutes)"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$lane_requirements"
  # 2. The wheels were built in a manylinux container: their CMake exports name that
  #    container's Python include dir and numpy include dir. Point them at ours.
  py_inc=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
  sync_numpy_headers
  np_inc=$np_inc_copy
  say "rewriting wheel CMake paths -> $py_inc, $np_inc"
  { grep -rlE '/opt/python/cp3[0-9]+-cp3[0-9]+' "$venv/share" --include='*.cmake' 2>/dev/null || true; } | while read -r f; do
    sed -i -E \
      -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/lib/python3\.[0-9]+/site-packages/numpy/_core/include#${np_inc}#g" \
      -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/include/python3\.[0-9]+#${py_inc}#g" "$f"
  done
  rm -rf "$handos_build" "$handos_install"  # the message build depends on the venv it was made with
  rm -f "$venv/.handos-editable" "$venv/.handos-ros2cli"
  echo "$req_hash" > "$venv/.handos-requirements"
else
  say "requirements unchanged"
fi

# --- 3. console scripts of handos_model ---------------------------------------------
editable_hash=$(hash_of setup.py pyproject.toml)
if [ "$(cat "$venv/.handos-editable" 2>/dev/null)" != "$editable_hash" ] || [ ! -x "$venv/bin/handos-synth" ]; then
  say "pip install -e . (handos-synth, handos-train, handos-eval)"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e .
  echo "$editable_hash" > "$venv/.handos-editable"
fi

sync_numpy_headers
# shellcheck disable=SC1091
source "$venv/bin/activate"
export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
colcon=(colcon --log-base "$handos_log")
colcon_args=(--build-base "$handos_build" --install-base "$handos_install"
             --symlink-install --event-handlers console_cohesion+
             --cmake-args -DPython3_EXECUTABLE="$VIRTUAL_ENV/bin/python"
             -DPython3_NumPy_INCLUDE_DIR="$np_inc_copy" -DBUILD_TESTING=OFF)

# --- 4. tf2_msgs, only where ROS does not provide it -------------------------------
if "$venv/bin/python" -c 'import tf2_msgs.msg' 2>/dev/null; then
  :
else
  tf_hash=$(hash_of third_party/tf2_msgs/package.xml third_party/tf2_msgs/CMakeLists.txt third_party/tf2_msgs/msg/*.msg)
  if [ "$(cat "$handos_install/.handos-tf2" 2>/dev/null)" != "$tf_hash" ] || [ ! -d "$handos_install/tf2_msgs" ]; then
    say "ROS has no tf2_msgs here: building the minimal interface package"
    "${colcon[@]}" build --base-paths third_party/tf2_msgs "${colcon_args[@]}"
    echo "$tf_hash" > "$handos_install/.handos-tf2"
  fi
fi

# --- 5. launch and the ros2 command line (../shared/ros2-cli) -------------------------
cli=${HANDOS_ROS2_CLI:-$handos_root/../shared/ros2-cli}
if [ "$cli" = off ]; then
  say "ros2-cli: off (HANDOS_ROS2_CLI=off): the launch tests will skip"
elif [ ! -d "$cli/wheels" ]; then
  say "ros2-cli: $cli not found: no \`ros2 launch\` here, the launch tests will skip"
elif [ "$handos_lane" != kilted ]; then
  say "ros2-cli: its wheels are built for Kilted's rclpy: not installed in the $handos_lane lane"
else
  cli_hash=$({ cat requirements-ros2cli.txt; find "$cli/wheels" -type f | sort | xargs sha256sum; } | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$venv/.handos-ros2cli" 2>/dev/null)" != "$cli_hash" ]; then
    say "ros2-cli: installing launch, launch_ros, launch_testing and the ros2 command line from $cli/wheels"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r requirements-ros2cli.txt
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation "$cli"/wheels/*.whl
    echo "$cli_hash" > "$venv/.handos-ros2cli"
  fi
  ci_hash=$(hash_of "$cli"/src/composition_interfaces/package.xml "$cli"/src/composition_interfaces/CMakeLists.txt \
            "$cli"/src/composition_interfaces/srv/*.srv)
  if [ "$(cat "$handos_install/.handos-composition" 2>/dev/null)" != "$ci_hash" ] || [ ! -d "$handos_install/composition_interfaces" ]; then
    say "ros2-cli: building composition_interfaces (launch_ros needs it; not on PyPI)"
    "${colcon[@]}" build --base-paths "$cli/src/composition_interfaces" "${colcon_args[@]}"
    echo "$ci_hash" > "$handos_install/.handos-composition"
  fi
fi

# --- 6. this package -----------------------------------------------------------------
pkg_hash=$(hash_of package.xml CMakeLists.txt msg/*.msg scripts/handos_node scripts/synthetic_camera scripts/hands_echo; \
           find launch config -type f | sort
           # installed files are symlinks: a new or removed file needs a re-install
           find handos_ros handos_model -type f -not -path '*/__pycache__/*' | sort)
if [ "$(cat "$handos_install/.handos-pkg" 2>/dev/null)" != "$pkg_hash" ] || [ ! -d "$handos_install/handos_ros" ]; then
  say "colcon build handos_ros"
  "${colcon[@]}" build --base-paths . --packages-select handos_ros "${colcon_args[@]}"
  echo "$pkg_hash" > "$handos_install/.handos-pkg"
else
  say "handos_ros build is up to date (sources are symlinked: Python edits are live)"
fi
say "ready: ${HANDOS_ROS_LANE:+HANDOS_ROS_LANE=$HANDOS_ROS_LANE }source scripts/env.sh to use it"
