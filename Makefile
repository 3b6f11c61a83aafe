# The README's two commands: `make demo` and `make test`. Both bootstrap the
# machine first (apt packages when missing, .venv, editable install).
.PHONY: demo test bootstrap lint clean

demo: bootstrap
	.venv/bin/rig demo

test: bootstrap
	scripts/run-tests.sh

bootstrap:
	@scripts/bootstrap.sh

lint: bootstrap
	.venv/bin/ruff check .

clean:
	rm -rf .venv build *.egg-info
