#!/usr/bin/env bash
# Run the linter, the type checker and the whole test suite from .venv (the suite
# includes tests/test_architecture.py, which enforces ARCHITECTURE.md's import rules).
# pytest exits 5 when it collected nothing: that is a broken test tree, never a pass.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check . || exit 1
.venv/bin/mypy || exit 1
.venv/bin/python -m pytest "$@"
rc=$?
if [[ $rc -eq 5 ]]; then
  echo "run-tests: pytest collected no tests; the test tree is missing or misconfigured" >&2
  exit 1
fi
exit $rc
