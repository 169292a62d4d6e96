# The ROS 2 lanes of this repository: which venv, pins and colcon workspace each one uses.
# Sourced (bash) by scripts/bootstrap.sh and scripts/env.sh after they set handos_root;
# HANDOS_ROS_LANE picks the lane (default kilted).
#
#   lane    venv         ROS 2 pins                                   colcon build / install / log
#   kilted  .venv        requirements.txt                             build/ install/ log/
#   jazzy   .venv-jazzy  requirements.txt's non-ROS pins              .venv-jazzy/ws/{build,install,log}
#                        + requirements-jazzy.txt
#
# The two lanes never share a file, so both can be built on one machine (CI runs both).

handos_lane=${HANDOS_ROS_LANE:-kilted}
case "$handos_lane" in
  kilted)
    handos_venv=$handos_root/.venv
    handos_ws=$handos_root
    ;;
  jazzy)
    handos_venv=$handos_root/.venv-jazzy
    handos_ws=$handos_root/.venv-jazzy/ws
    ;;
  *)
    echo "HANDOS_ROS_LANE must be kilted or jazzy, got '$handos_lane'" >&2
    return 1
    ;;
esac
handos_build=$handos_ws/build
handos_install=$handos_ws/install
handos_log=$handos_ws/log

# The lane's pinned requirements, one per line (what pip installs into $handos_venv).
handos_lane_requirements() {
  case "$handos_lane" in
    kilted) cat "$handos_root/requirements.txt" ;;
    jazzy) grep -v '^ros-' "$handos_root/requirements.txt"; cat "$handos_root/requirements-jazzy.txt" ;;
  esac
}

# Drop every path of this repository (any lane) from the ROS / Python search variables, and the
# wheels' re-exec guard, so that one lane's shell never leaks into the other's processes.
handos_scrub_env() {
  local var value part kept
  for var in PATH PYTHONPATH AMENT_PREFIX_PATH CMAKE_PREFIX_PATH COLCON_PREFIX_PATH LD_LIBRARY_PATH; do
    value=${!var-}
    [ -n "$value" ] || continue
    kept=""
    local IFS=:
    for part in $value; do
      case "$part" in "$handos_root"/*) ;; *) kept=${kept:+$kept:}$part ;; esac
    done
    if [ -n "$kept" ]; then export "$var=$kept"; else unset "$var"; fi
  done
  unset VIRTUAL_ENV _ROS_WHEELS_BOOTSTRAP_COMPLETE
}
