# Source this (bash) after scripts/bootstrap.sh: activates .venv and the colcon install.
# Usage: source scripts/env.sh
_handos_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck disable=SC1091
source "$_handos_root/.venv/bin/activate"
export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
# install/setup.bash is not `set -u` safe (see docs); source it without nounset.
_handos_had_u=0
case $- in *u*) _handos_had_u=1; set +u ;; esac
# shellcheck disable=SC1091
source "$_handos_root/install/setup.bash"
[ "$_handos_had_u" = 1 ] && set -u
unset _handos_root _handos_had_u
