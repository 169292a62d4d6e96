#!/usr/bin/env bash
# Environment bootstrap for machines WITHOUT an apt ROS 2 install.
#
#   1. .venv with the pinned versions of requirements.txt (ROS 2 Kilted wheels from
#      PyPI, colcon, torch CPU, numpy, OpenCV, ...);
#   2. rewrites the build host's paths inside the message wheels' CMake exports;
#   3. builds a minimal tf2_msgs interface package, only if ROS lacks tf2_msgs;
#   4. colcon-builds this package (messages + Python) into install/.
#
# Every step is skipped when its inputs did not change, so a re-run takes seconds.
# On a machine with ROS 2 from apt, do not use this: source /opt/ros/<distro>/setup.bash
# and run `colcon build` in your workspace (see README.md).
set -eo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
venv="$root/.venv"
python=${HANDOS_PYTHON:-python3}

say() { printf '[bootstrap] %s\n' "$*"; }

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
req_hash=$(hash_of requirements.txt)
# CMake refuses include directories inside the source tree, and the venv lives in it:
# the message build reads numpy's C headers from a copy outside the repository.
np_inc_copy="${XDG_CACHE_HOME:-$HOME/.cache}/handos_ros/numpy-include"
sync_numpy_headers() {
  local src
  src=$("$venv/bin/python" -c 'import numpy; print(numpy.get_include())')
  if ! diff -rq "$src" "$np_inc_copy" >/dev/null 2>&1; then
    rm -rf "$np_inc_copy" && mkdir -p "$(dirname "$np_inc_copy")" && cp -r "$src" "$np_inc_copy"
  fi
}
if [ "$(cat "$venv/.handos-requirements" 2>/dev/null)" != "$req_hash" ]; then
  say "installing pinned requirements (first run: about 2 minutes)"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r requirements.txt
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
  rm -rf build install  # the message build depends on the venv it was made with
  echo "$req_hash" > "$venv/.handos-requirements"
else
  say "requirements unchanged"
fi

sync_numpy_headers
# shellcheck disable=SC1091
source "$venv/bin/activate"
export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
colcon_args=(--symlink-install --event-handlers console_cohesion+
             --cmake-args -DPython3_EXECUTABLE="$VIRTUAL_ENV/bin/python"
             -DPython3_NumPy_INCLUDE_DIR="$np_inc_copy" -DBUILD_TESTING=OFF)

# --- 3. tf2_msgs, only where ROS does not provide it -------------------------------
if "$venv/bin/python" -c 'import tf2_msgs.msg' 2>/dev/null; then
  :
else
  tf_hash=$(hash_of third_party/tf2_msgs/package.xml third_party/tf2_msgs/CMakeLists.txt third_party/tf2_msgs/msg/*.msg)
  if [ "$(cat install/.handos-tf2 2>/dev/null)" != "$tf_hash" ] || [ ! -d install/tf2_msgs ]; then
    say "ROS has no tf2_msgs here: building the minimal interface package"
    colcon build --base-paths third_party/tf2_msgs "${colcon_args[@]}"
    echo "$tf_hash" > install/.handos-tf2
  fi
fi

# --- 4. this package -----------------------------------------------------------------
pkg_hash=$(hash_of package.xml CMakeLists.txt msg/*.msg scripts/handos_node scripts/synthetic_camera scripts/hands_echo; \
           find launch config -type f | sort
           # installed files are symlinks: a new or removed file needs a re-install
           find handos_ros handos_model -type f -not -path '*/__pycache__/*' | sort)
if [ "$(cat install/.handos-pkg 2>/dev/null)" != "$pkg_hash" ] || [ ! -d install/handos_ros ]; then
  say "colcon build handos_ros"
  colcon build --base-paths . --packages-select handos_ros "${colcon_args[@]}"
  echo "$pkg_hash" > install/.handos-pkg
else
  say "handos_ros build is up to date (sources are symlinked: Python edits are live)"
fi
say "ready: source scripts/env.sh to use it"
