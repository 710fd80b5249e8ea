# Two commands a newcomer needs: `make demo` and `make test`. Each builds .venv on its own.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo

.PHONY: demo test env bench clean lambda

$(BIN)/activate: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(BIN)/activate

env: $(BIN)/activate

demo: env
	$(BIN)/audit-toolkit demo --out $(DEMO_DIR)

test: env
	$(BIN)/python -m pytest

bench: env
	$(BIN)/python benchmarks/bench_scan.py
	$(BIN)/python benchmarks/bench_detect.py
	$(BIN)/python benchmarks/bench_findings.py
	$(BIN)/python benchmarks/bench_validate.py

# The real-time alert's package (deploy/README.md): the package's sources; the Lambda runtime has the rest.
lambda:
	$(PYTHON) deploy/build_lambda.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache dist
