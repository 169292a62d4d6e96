#!/usr/bin/env bash
# `make bench`: every benchmark of the project into ONE report, bench/report.md + bench/report.json.
#
# Sections (each skipped when its script is absent, each under its own time limit, a failing
# section is reported and the others still run):
#   synth    bench/synth_bench.py        synthetic data engine throughput (+ MediaPipe realism check)
#   latency  bench/latency.py            HandOS vs MediaPipe Hands per-frame latency, H = 0 1 2 4 8 hands
#   train    bench/train_throughput.py   training images/s, 1 vs 2 processes
#   ros      bench/ros_pipeline.py       the ROS node end to end
#   soak     bench/ros_pipeline.py       10 000 frames, only with SOAK=1 (long)
# Defaults keep the whole run to about 15 minutes on 2 cores. Knobs (environment):
#   FRAMES_PER_H=50     latency frames per hand count       LATENCY_ARGS="..."  extra latency.py args
#   SYNTH_ARGS, TRAIN_ARGS, ROS_ARGS, SOAK_ARGS             override a section's arguments
#   SOAK=1              add the 10 000-frame ROS soak       ONLY="latency train" run only these sections
#   QUIET_WAIT=60       seconds to wait (once) for the 1-min load average to fall below 1.5
#   OMP_WAIT_POLICY     for the latency section: unset = the library default (see below)
#   REPORT_MD, REPORT_JSON   output paths (default bench/report.md, bench/report.json)
#   KEEP_WORK=1         keep the per-section outputs (the temporary directory is printed)
# Expects the main venv active (make bench sources scripts/env.sh); creates .venv-bench itself.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
py=${PYTHON:-python}
work=$(mktemp -d -t handos-bench-XXXXXX)
[ "${KEEP_WORK:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
FRAMES_PER_H=${FRAMES_PER_H:-50}
SOAK=${SOAK:-0}
QUIET_WAIT=${QUIET_WAIT:-60}
ONLY=${ONLY:-}
REPORT_MD=${REPORT_MD:-$root/bench/report.md}
REPORT_JSON=${REPORT_JSON:-$root/bench/report.json}
mp_python="$root/.venv-bench/bin/python"
order=0
[ "${KEEP_WORK:-0}" = 1 ] && printf '[bench] per-section outputs in %s\n' "$work" >&2

say() { printf '[bench] %s\n' "$*" >&2; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "n/a"; }
wanted() { [ -z "$ONLY" ] || [[ " $ONLY " == *" $1 "* ]]; }

wait_quiet() {
  local waited=0
  while [ "$waited" -lt "$QUIET_WAIT" ]; do
    awk '{exit !($1 < 1.5)}' /proc/loadavg 2>/dev/null && return 0
    [ "$waited" -eq 0 ] && say "load average $(loadavg): waiting up to ${QUIET_WAIT}s for a quieter machine"
    sleep 5
    waited=$((waited + 5))
  done
  if [ "$QUIET_WAIT" -gt 0 ]; then
    say "still loaded ($(loadavg)): timing anyway, the report shows the load"
    QUIET_WAIT=0  # a busy machine stays busy: wait once, not before every section
  fi
  return 0
}

# meta NAME TITLE FORMAT RC SECONDS TIMEOUT LOAD_START LOAD_END JSON SKIPPED COMMAND
meta() {
  order=$((order + 1))
  "$py" - "$work/$1.meta.json" "$order" "$@" <<'EOF'
import json, sys
path, order, name, title, fmt, rc, secs, tmo, l0, l1, js, skipped, cmd = sys.argv[1:14]
json.dump({"name": name, "order": int(order), "title": title, "format": fmt,
           "rc": int(rc) if rc else None, "seconds": float(secs or 0), "timeout_s": int(tmo or 0),
           "load_start": l0, "load_end": l1, "json": js or None, "skipped": skipped or None,
           "command": cmd or None}, open(path, "w"))
EOF
}

# section NAME TITLE FORMAT TIMEOUT_S JSON_PATH -- command...
section() {
  local name=$1 title=$2 fmt=$3 tmo=$4 js=$5
  shift 6
  if ! wanted "$name"; then return 0; fi
  local script=$2  # "$py" SCRIPT ...
  if [ ! -f "$script" ]; then
    say "$name: $script not present, skipped"
    meta "$name" "$title" "$fmt" "" 0 "$tmo" "" "" "" "$script is not in this checkout" ""
    return 0
  fi
  wait_quiet
  local l0 t0 rc t1
  l0=$(loadavg)
  t0=$(date +%s.%N)
  say "$name: $* (limit ${tmo}s)"
  (cd "${SECTION_CWD:-$root}" && timeout -k 15 "$tmo" "$@") >"$work/$name.out" 2>"$work/$name.err"
  rc=$?
  t1=$(date +%s.%N)
  local secs
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
  say "$name: exit $rc after ${secs}s"
  [ "$rc" -ne 0 ] && tail -n 5 "$work/$name.err" >&2
  local cmd="${*/#$py/python}"
  cmd=${cmd//$root\//}
  cmd=${cmd//$work\//}
  meta "$name" "$title" "$fmt" "$rc" "$secs" "$tmo" "$l0" "$(loadavg)" "$js" "" "$cmd"
}

# --- MediaPipe's venv (instant when up to date) --------------------------------------------
if ! bash scripts/bootstrap_bench.sh; then
  say "scripts/bootstrap_bench.sh failed: the MediaPipe comparisons will be skipped"
fi
# --- sections: default arguments, each overridable as a whole by NAME_ARGS -------------------
args_of() {  # args_of VAR default words... -> the array "a"
  local var=$1
  shift
  if [ -n "${!var:-}" ]; then read -ra a <<<"${!var}"; else a=("$@"); fi
}
synth_default=(--num 200 --workers 2)
[ -x "$mp_python" ] && synth_default+=(--mediapipe 100 --mediapipe-python "$mp_python")
args_of SYNTH_ARGS "${synth_default[@]}"
section synth "Synthetic data engine" text 300 "" -- "$py" bench/synth_bench.py "${a[@]}"

args_of LATENCY_ARGS
# OpenMP's wait policy: libgomp's default spin-waiting collapses a 2-thread torch under other load
# (measured: 6x slower per frame with 8 other busy processes), but on an idle machine PASSIVE
# doubles it (2026-12-02, tiny model, 2 threads: 102 -> 210 ms per frame). The node runs with the
# library default, so the benchmark does too; OMP_WAIT_POLICY=PASSIVE make bench on a shared machine.
section latency "Latency: HandOS vs MediaPipe Hands" markdown 1500 "$work/latency.json" -- \
  "$py" bench/latency.py --frames-per-h "$FRAMES_PER_H" --json "$work/latency.json" --md "$work/latency.md" "${a[@]}"

args_of TRAIN_ARGS
section train "Training throughput" markdown 900 "$work/train.json" -- \
  "$py" bench/train_throughput.py --json "$work/train.json" "${a[@]}"

# the node engineer's script: pass --json / --frames only where it has them
has_opt() { [ -f bench/ros_pipeline.py ] && grep -q -- "\"$1\"" bench/ros_pipeline.py; }
ros_default=()
has_opt --json && ros_default+=(--json "$work/ros.json")
args_of ROS_ARGS "${ros_default[@]}"
# it must not run from the repository root (the source tree's handos_ros has no generated messages)
SECTION_CWD=$work section ros "ROS node pipeline" markdown 420 "$work/ros.json" -- \
  "$py" "$root/bench/ros_pipeline.py" "${a[@]}"

if [ "$SOAK" = 1 ]; then
  soak_default=()
  if has_opt --soak; then soak_default+=(--soak); elif has_opt --frames; then soak_default+=(--frames 10000); fi
  has_opt --json && soak_default+=(--json "$work/soak.json")
  args_of SOAK_ARGS "${soak_default[@]}"
  SECTION_CWD=$work section soak "ROS node soak (10 000 frames)" markdown 7200 "$work/soak.json" -- \
    "$py" "$root/bench/ros_pipeline.py" "${a[@]}"
fi

"$py" bench/make_report.py --work "$work" --md "$REPORT_MD" --json "$REPORT_JSON"
