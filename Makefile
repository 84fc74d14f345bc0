# The README's two commands: `make demo` (the main job) and `make test`.
# Each creates .venv and installs the project first, so a fresh machine needs nothing else.
# Paths are anchored at this file, so `make -f path/to/Makefile demo` works from any folder
# (OUT stays relative to where you type it).
ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
PYTHON ?= python3
VENV ?= $(ROOT)/.venv
BIN := $(VENV)/bin
# torch is pinned to the build that this project's machines keep on local disk;
# override on other machines, e.g. `make test TORCH="torch torchvision"`.
TORCH ?= torch==2.14.1 torchvision==0.29.1
# `make demo SMOKE=1`: every stage of the main job at a tiny scale (about a minute; a check, not a
# result), in runs/demo-smoke/ unless OUT is given, so it never blocks a later full `make demo`.
ifneq ($(filter 1 yes true,$(SMOKE)),)
DEMO_FLAGS := --smoke
OUT ?= runs/demo-smoke
endif
OUT ?= runs/demo
export MUJOCO_GL ?= egl
export PYOPENGL_PLATFORM ?= $(MUJOCO_GL)
# On small shared CPUs several torch processes with 2+ threads each run 10-20x
# slower (measured); one thread per process is the fast setting there.
export OMP_NUM_THREADS ?= 1

.PHONY: install install-test sysdeps demo ablations fewshot test lint format bench clean

install: $(VENV)/.installed
# The tests also run the real-robot driver against its twin (ur5 extra) and the real LIBERO (libero extra, 622 MB of assets).
install-test: $(VENV)/.installed-test

# System packages the tests use: Chromium and its driver (the web app's browser tests), libusb (pyrealsense2).
SYSDEPS := chromium chromium-driver libusb-1.0-0
sysdeps:
	@missing=$$(for p in $(SYSDEPS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing $$missing"; apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing system packages: $$missing; run: sudo apt-get install $$missing" >&2; exit 1; fi; \
	fi

$(VENV)/.installed: $(ROOT)/setup.cfg $(ROOT)/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e "$(ROOT)[all,dev]"
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e "$(ROOT)[all,dev,ur5,libero]"
	touch $@

demo: install
	$(BIN)/cliprt demo $(DEMO_FLAGS) --out $(OUT)

# The demo plus CLIP-RT trained on STA with the paper's heuristic labels (reuses the demo's data and models; benchmarks the new agent).
ablations: install
	$(BIN)/cliprt demo --out $(OUT) --ablations

# Success on the Novel tasks with 1, 5 and 10 demonstrations each: CLIP-RT, CLIP-RT-Action, BC (the paper's Fig. 6).
fewshot: install
	$(BIN)/cliprt demo --fewshot --out runs/fewshot

test: sysdeps install-test
	cd $(ROOT) && HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

lint: install
	cd $(ROOT) && $(BIN)/ruff check . && $(BIN)/ruff format --check .

format: install
	cd $(ROOT) && $(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: install
	$(BIN)/python -m benchmarks.env_speed
	$(BIN)/python -m benchmarks.experts

clean:
	rm -rf $(VENV) runs build *.egg-info
