#!/usr/bin/env bash
# Run the linter, the type checker and the whole test suite from .venv (the suite
# includes tests/test_architecture.py, which enforces ARCHITECTURE.md's import rules).
#
# With no arguments the suite runs as three streams side by side: everything else (the
# session's dcc rig and the in-process tests); the modules that start virtual rigs of their
# own (deploy, lifecycle, the HAN, prepayment, change of supplier and gas install rigs: each
# on its own subnet); and a few dcc-rig modules on a second dcc rig (RIG_TEST_SUBNET_2,
# default 10.213.90.0/24). Most of the suite waits on rigs, not on the CPU, so this cuts
# the wall time to the longest stream's; the other streams' output follows the first's.
# With arguments, pytest runs once with them (e.g. one file).
#
# pytest exits 5 when it collected nothing: that is a broken test tree, never a pass.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check . || exit 1
.venv/bin/mypy || exit 1

OWN_RIGS=(tests/test_deploy.py tests/test_lifecycle.py tests/test_han_rig.py tests/test_prepay_rig.py
  tests/test_cos_rig.py tests/test_gas_install_rig.py)
# dcc-rig modules that do not depend on what other modules leave on the dcc rig: they run
# in a stream of their own, on a dcc rig of its own (another subnet), to balance the streams
SECOND_DCC=(tests/test_firmware_update.py tests/test_ppmid_firmware.py tests/test_dcc_truth.py
  tests/test_exactly_once.py tests/test_schedules.py tests/test_future_dated_rig.py)
SECOND_DCC_SUBNET=${RIG_TEST_SUBNET_2:-10.213.90.0/24}

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

# the other two streams run in the background, each logging to a file printed after
# the first stream's output; job control on while they start: a plain `&` would make them
# ignore SIGINT, which their tests send to the processes they start (a capture they end
# with Ctrl-C)
own_log=$(mktemp -t rig-tests-own-rigs.XXXXXX)
second_log=$(mktemp -t rig-tests-second-dcc.XXXXXX)
echo "run-tests: three streams: the dcc rig and in-process tests (below); the modules with" \
  "rigs of their own (${OWN_RIGS[*]}); ${SECOND_DCC[*]} on a dcc rig on $SECOND_DCC_SUBNET." \
  "The other two streams' output follows"
set -m
.venv/bin/python -m pytest -p no:cacheprovider --durations=5 "${OWN_RIGS[@]}" >"$own_log" 2>&1 &
own_pid=$!
RIG_TEST_SUBNET=$SECOND_DCC_SUBNET .venv/bin/python -m pytest -p no:cacheprovider \
  --durations=5 "${SECOND_DCC[@]}" >"$second_log" 2>&1 &
second_pid=$!
set +m
trap 'kill "$own_pid" "$second_pid" 2>/dev/null' EXIT  # interrupted: stop them too
ignored=()
for module in "${OWN_RIGS[@]}" "${SECOND_DCC[@]}"; do ignored+=("--ignore=$module"); done
.venv/bin/python -m pytest --durations=10 "${ignored[@]}"  # the slowest, for balancing
rest=$?
wait "$own_pid"
own=$?
wait "$second_pid"
second=$?
echo
echo "run-tests: the modules with rigs of their own:"
cat "$own_log"
echo
echo "run-tests: the modules on the second dcc rig:"
cat "$second_log"
rm -f "$own_log" "$second_log"
checked "$rest" "the dcc rig and in-process tests"
rest=$?
checked "$own" "the modules with rigs of their own"
own=$?
checked "$second" "the modules on the second dcc rig"
second=$?
if [[ $rest -ne 0 || $own -ne 0 || $second -ne 0 ]]; then
  echo "run-tests: FAILED (dcc rig and in-process: exit $rest; own rigs: exit $own;" \
    "second dcc rig: exit $second)" >&2
  exit 1
fi
exit 0
