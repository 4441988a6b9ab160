# The README's commands. `make demo` and `make test` each set everything up first.
.PHONY: setup demo test test-slow bench

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/nofx demo --out out

test: setup
	bash scripts/test.sh

test-slow: setup
	bash scripts/test.sh -m slow

bench: setup
	.venv/bin/python benchmarks/run_all.py
