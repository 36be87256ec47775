# Two commands from a bare clone: `make test` and `make book`. Each creates .venv if needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# torch 2.13.0 comes from a local CPU wheel where the machine has one (/opt/wheels here);
# elsewhere pip fetches it from PyPI.
TORCH_LINKS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)

.PHONY: test book lab check-book lint format bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_LINKS) "torch==2.13.0"
	$(BIN)/python -m pip install -q $(TORCH_LINKS) -e ".[dev]"
	@touch $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check coos_utils tests bench
	$(BIN)/python -m pytest

book: $(STAMP)
	$(BIN)/coos book --profile default

# JupyterLab at the project root; the chapters (jupytext markdown) open as notebooks.
lab: $(STAMP)
	$(BIN)/python -m pip install -q -e ".[lab]"
	@mkdir -p $(VENV)/share/jupyter/lab/settings
	@echo '{"@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"}}}' \
		> $(VENV)/share/jupyter/lab/settings/overrides.json
	$(BIN)/jupyter lab --notebook-dir=. $(if $(filter 0,$(shell id -u)),--allow-root,)

check-book: $(STAMP)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		(apt-get update -q && apt-get install -y -q chromium chromium-driver)
	$(BIN)/python -m pip install -q -e ".[check]" "beautifulsoup4>=4.12"
	$(BIN)/python -m coos_utils.book.browser_check _build/html --screenshots _build/screenshots

lint: $(STAMP)
	$(BIN)/ruff check coos_utils tests bench
	$(BIN)/ruff format --check coos_utils tests bench

format: $(STAMP)
	$(BIN)/ruff format coos_utils tests bench
	$(BIN)/ruff check --fix coos_utils tests bench

clean:
	rm -rf _build book/_generated results .pytest_cache .ruff_cache
