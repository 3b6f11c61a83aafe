#!/usr/bin/env bash
# Run the linter, the type checker and the whole test suite from .venv (the suite
# includes tests/test_architecture.py, which enforces ARCHITECTURE.md's import rules).
#
# With no arguments the suite runs as four streams side by side:
#   1. everything else: the session's dcc rig (RIG_TEST_SUBNET, default 10.213.92.0/24)
#      and the in-process tests (its output comes first);
#   2. dcc-rig modules that do not depend on what other modules leave on the dcc rig, on a
#      dcc rig of their own (RIG_TEST_SUBNET_2, default 10.213.90.0/24);
#   3. the deploy tests (a rig of their own, Ansible over SSH), the WAN watch tests (a
#      broker and a small rig of their own, plain processes), and the dcc-rig modules that
#      kill the rig's processes (power cuts, a frozen hub, restarts) on a third dcc rig
#      (RIG_TEST_SUBNET_3, default 10.213.88.0/24);
#   4. the other modules with rigs of their own (lifecycle, HAN, prepayment, change of
#      supplier, gas install: each on the subnet its rig file names).
# Most of the suite waits on rigs (a sleepy meter's wake, a device's answer), not on the
# CPU, so the wall time is about the longest stream's. The other streams' output follows
# the first's.
# With arguments, pytest runs once with them (e.g. one file).
# RIG_TEST_REPORTS=DIR: each stream also writes a JUnit XML report (every test's outcome and
# duration) to DIR/stream-N.xml, for CI systems and for finding where the time goes.
#
# pytest exits 5 when it collected nothing: that is a broken test tree, never a pass.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check . || exit 1
.venv/bin/mypy || exit 1

checked() {  # pytest's exit code, with "no tests collected" (5) a failure
  if [[ $1 -eq 5 ]]; then
    echo "run-tests: pytest collected no tests ($2); the test tree is missing or misconfigured" >&2
    return 1
  fi
  return "$1"
}

if [[ $# -gt 0 ]]; then
  .venv/bin/python -m pytest "$@"
  checked $? "pytest $*"
  exit $?
fi

FIRST_SUBNET=${RIG_TEST_SUBNET:-10.213.92.0/24}
SECOND_DCC_SUBNET=${RIG_TEST_SUBNET_2:-10.213.90.0/24}
THIRD_DCC_SUBNET=${RIG_TEST_SUBNET_3:-10.213.88.0/24}
# dcc-rig modules that leave nothing behind that another module relies on
SECOND_DCC=(tests/test_firmware_update.py tests/test_ppmid_firmware.py tests/test_dcc_truth.py
  tests/test_exactly_once.py tests/test_schedules.py tests/test_future_dated_rig.py
  tests/test_gas_prepay_future.py tests/test_debt_rig.py)
THIRD_STREAM=(tests/test_deploy.py tests/test_wan_watch.py tests/test_e2e_dcc.py tests/test_ppmid.py
  tests/test_gas_prepay_settings.py tests/test_gas_prepay_config.py)
OWN_RIGS=(tests/test_lifecycle.py tests/test_han_rig.py tests/test_prepay_rig.py
  tests/test_cos_rig.py tests/test_gas_install_rig.py)

# a rig left up on one of the test subnets (an interrupted run, a bench) would make every
# test of that rig fail: say so now, and how to free it
busy=()
for subnet in "$FIRST_SUBNET" "$SECOND_DCC_SUBNET" "$THIRD_DCC_SUBNET" $(sed -n 's/^virtual: {subnet: \(.*\)}$/\1/p' tests/rigs/*.yaml); do
  gateway="${subnet%.0/24}.1"
  if ip -o -4 addr show 2>/dev/null | grep -q " ${gateway//./\\.}/"; then
    busy+=("$subnet ($(ip -o -4 addr show | grep " ${gateway//./\\.}/" | awk '{print $2}' | head -1))")
  fi
done
if [[ ${#busy[@]} -gt 0 ]]; then
  echo "run-tests: test subnets in use: ${busy[*]}. A rig is still up on them: \`rig down\`" \
    "it (rig status --rig FILE), or set RIG_TEST_SUBNET / RIG_TEST_SUBNET_2 to free ones" >&2
  exit 1
fi

# streams 2-4 run in the background, each logging to a file printed after the first
# stream's output; job control on while they start: a plain `&` would make them ignore
# SIGINT, which their tests send to the processes they start (a capture they end with
# Ctrl-C)
names=("the modules on the second dcc rig" "the deploy, WAN watch and third dcc rig modules"
  "the other modules with rigs of their own")
logs=() pids=()
echo "run-tests: four streams: the dcc rig and in-process tests (below); ${SECOND_DCC[*]}" \
  "on a dcc rig on $SECOND_DCC_SUBNET; ${THIRD_STREAM[*]} (a dcc rig on $THIRD_DCC_SUBNET);" \
  "${OWN_RIGS[*]}." \
  "The other streams' output follows"
set -m
start() {  # start() LOG [env...] -- modules...
  local log=$1
  shift
  "$@" >"$log" 2>&1 &
  pids+=($!)
}
report() {  # report N: the JUnit option for stream N, when RIG_TEST_REPORTS names a folder
  if [[ -n ${RIG_TEST_REPORTS:-} ]]; then
    mkdir -p "$RIG_TEST_REPORTS" && echo "--junitxml=$RIG_TEST_REPORTS/stream-$1.xml"
  fi
}
for i in 0 1 2; do logs+=("$(mktemp -t "rig-tests-$i.XXXXXX")"); done
start "${logs[0]}" env RIG_TEST_SUBNET="$SECOND_DCC_SUBNET" .venv/bin/python -m pytest \
  -p no:cacheprovider --durations=5 $(report 2) "${SECOND_DCC[@]}"
start "${logs[1]}" env RIG_TEST_SUBNET="$THIRD_DCC_SUBNET" .venv/bin/python -m pytest \
  -p no:cacheprovider --durations=5 $(report 3) "${THIRD_STREAM[@]}"
start "${logs[2]}" .venv/bin/python -m pytest -p no:cacheprovider --durations=5 $(report 4) \
  "${OWN_RIGS[@]}"
set +m
trap 'kill "${pids[@]}" 2>/dev/null' EXIT  # interrupted: stop them too
ignored=()
for module in "${SECOND_DCC[@]}" "${THIRD_STREAM[@]}" "${OWN_RIGS[@]}"; do
  ignored+=("--ignore=$module")
done
RIG_TEST_SUBNET=$FIRST_SUBNET .venv/bin/python -m pytest --durations=10 $(report 1) "${ignored[@]}"
first=$?
checked "$first" "the dcc rig and in-process tests"
failed=$(( $? != 0 ))
summary="dcc rig and in-process: exit $first"
for i in 0 1 2; do
  wait "${pids[$i]}"
  rc=$?
  echo
  echo "run-tests: ${names[$i]}:"
  cat "${logs[$i]}"
  rm -f "${logs[$i]}"
  checked "$rc" "${names[$i]}" || failed=1
  summary+="; ${names[$i]}: exit $rc"
done
if [[ $failed -ne 0 ]]; then
  echo "run-tests: FAILED ($summary)" >&2
  exit 1
fi
exit 0
