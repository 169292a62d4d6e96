# Source this (bash) after scripts/bootstrap.sh: activates the lane's venv and colcon install
# (the package, and where bootstrap built them tf2_msgs and composition_interfaces).
# Usage: source scripts/env.sh                          (Kilted: .venv, install/)
#        HANDOS_ROS_LANE=jazzy source scripts/env.sh    (Jazzy: .venv-jazzy)
# Paths of this repository left by another lane are dropped first (scripts/lane.sh).
handos_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lane.sh
source "$handos_root/scripts/lane.sh" || return 1
handos_scrub_env
# shellcheck disable=SC1091
source "$handos_venv/bin/activate"
export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export HANDOS_ROS_LANE=$handos_lane
# install/setup.bash is not `set -u` safe (see docs); source it without nounset.
_handos_had_u=0
case $- in *u*) _handos_had_u=1; set +u ;; esac
# shellcheck disable=SC1091
source "$handos_install/setup.bash"
[ "$_handos_had_u" = 1 ] && set -u
unset _handos_had_u handos_root handos_lane handos_venv handos_ws handos_build handos_install handos_log
unset -f handos_lane_requirements handos_scrub_env
