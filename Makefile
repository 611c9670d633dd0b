# oasis-lab: `make run` (set up, then the main job) and `make test` (set up, then every test).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The Debian packages that give wgpu a CPU WebGPU adapter (Mesa's lavapipe Vulkan driver).
VULKAN_PACKAGES := mesa-vulkan-drivers libvulkan1
# Debian's Chromium: the browser providers (oasis_lab.browser) run the kernels in its WebGPU.
BROWSER_PACKAGES := chromium
SYSTEM_PACKAGES := $(VULKAN_PACKAGES) $(BROWSER_PACKAGES)

.PHONY: setup system-deps run test check lab bench clean

setup: system-deps $(STAMP)

# Install the Vulkan driver and Chromium when missing: with apt-get as root, otherwise say how.
system-deps:
	@if command -v dpkg >/dev/null 2>&1; then \
	  if ! dpkg -s $(SYSTEM_PACKAGES) >/dev/null 2>&1; then \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	      echo "Installing $(SYSTEM_PACKAGES) (CPU WebGPU adapter, headless Chromium)"; \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES); \
	    else \
	      echo "WebGPU needs a Vulkan driver and the browser providers Chromium; run: sudo apt-get install -y $(SYSTEM_PACKAGES)"; \
	    fi; \
	  fi; \
	else \
	  echo "Not Debian: install a Vulkan driver (e.g. Mesa lavapipe) for the WebGPU kernels."; \
	fi

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "oasis-lab needs Python >= 3.11, found " + sys.version.split()[0])'
	@if ! $(PYTHON) -m venv --help >/dev/null 2>&1 || ! $(PYTHON) -c 'import ensurepip' >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; \
	  else \
	    echo "python3 -m venv is unavailable; run: sudo apt-get install -y python3-venv"; exit 1; \
	  fi; \
	fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

# The main job: execute every notebook and render HTML reports under reports/.
# REPORT_ARGS passes options to the report, e.g. `make run REPORT_ARGS=--quick` (CI sizes).
REPORT_ARGS ?=
run: setup
	$(BIN)/python -m oasis_lab report $(REPORT_ARGS)

# Every check: the static checks below, then the unit, property, browser and notebook tests
# (papermill runs each notebook with its small defaults). Both run; either failing fails.
test: setup
	@status=0; \
	$(MAKE) --no-print-directory check || status=1; \
	$(BIN)/python -m pytest || status=1; \
	exit $$status

# Static checks: ruff over the repository, mypy over the package, the package's doctests
# (settings in pyproject.toml). Each step runs even when an earlier one fails.
check: setup
	@status=0; \
	$(BIN)/ruff check . || status=1; \
	$(BIN)/mypy || status=1; \
	$(BIN)/python -m pytest --doctest-modules oasis_lab -q || status=1; \
	exit $$status

lab: setup
	$(BIN)/jupyter lab notebooks/

bench: setup
	@for script in benchmarks/bench_*.py; do \
	  echo "== $$script"; $(BIN)/python $$script || exit 1; \
	done

clean:
	rm -rf $(VENV) reports .pytest_cache .hypothesis .mypy_cache .ruff_cache
