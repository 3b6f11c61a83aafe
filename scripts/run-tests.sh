#!/usr/bin/env bash
# Run the linter, the type checker and the whole test suite from .venv (the suite
# includes tests/test_architecture.py, which enforces ARCHITECTURE.md's import rules).
#
# With no arguments the suite runs as two streams side by side: the modules that start
# virtual rigs of their own (deploy, lifecycle, the HAN, prepayment, change of supplier and
# gas install rigs: each on its own subnet) in one, everything else (the session's dcc rig
# and the in-process tests) in the other; a few dcc-rig modules join the first stream on a
# second dcc rig (RIG_TEST_SUBNET_2, default 10.213.90.0/24). Most of the suite waits on
# rigs, not on the CPU, so this roughly halves the wall time; the first stream's output
# follows the second's.
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
# in the first stream, on a dcc rig of its own (another subnet), to balance the streams
SECOND_DCC=(tests/test_firmware_update.py tests/test_ppmid_firmware.py)
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

own_log=$(mktemp -t rig-tests-own-rigs.XXXXXX)
echo "run-tests: the modules with rigs of their own run alongside (${OWN_RIGS[*]}," \
  "and ${SECOND_DCC[*]} on a dcc rig on $SECOND_DCC_SUBNET); their output follows"
# job control on while it starts: a plain `&` would make it ignore SIGINT, which its tests
# send to the processes they start (a capture they end with Ctrl-C)
set -m
RIG_TEST_SUBNET=$SECOND_DCC_SUBNET .venv/bin/python -m pytest -p no:cacheprovider \
  "${OWN_RIGS[@]}" "${SECOND_DCC[@]}" >"$own_log" 2>&1 &
own_pid=$!
set +m
trap 'kill "$own_pid" 2>/dev/null' EXIT  # interrupted: stop the other stream too
ignored=()
for module in "${OWN_RIGS[@]}" "${SECOND_DCC[@]}"; do ignored+=("--ignore=$module"); done
.venv/bin/python -m pytest "${ignored[@]}"
rest=$?
wait "$own_pid"
own=$?
echo
echo "run-tests: the modules with rigs of their own:"
cat "$own_log"
rm -f "$own_log"
checked "$rest" "the dcc rig and in-process tests"
rest=$?
checked "$own" "the modules with rigs of their own"
own=$?
if [[ $rest -ne 0 || $own -ne 0 ]]; then
  echo "run-tests: FAILED (dcc rig and in-process: exit $rest; own rigs: exit $own)" >&2
  exit 1
fi
exit 0
