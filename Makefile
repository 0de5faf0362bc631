# Two commands for a newcomer: `make demo` and `make test`. Everything else sets itself up too.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SITE ?= var/site
UPSTREAM ?= var/upstream
STORE ?= demo
BIND ?= 127.0.0.1

.PHONY: help install test demo bench lint keys broker-config flash decommission train-camera mosquitto mosquitto-optional cloud-init tmux clean

help:
	@echo "make demo           run a simulated store (embedded broker, nodes, gateway)"
	@echo "make test           run the test suite (needs Mosquitto; installed via apt-get when root)"
	@echo "make bench          run every benchmark in bench/ (QUICK=1 for the short runs)"
	@echo "make lint           ruff and mypy"
	@echo "make keys           the reference upstream in UPSTREAM=$(UPSTREAM), the store's keys, registry and gateway config in SITE=$(SITE) (STORE=$(STORE))"
	@echo "make broker-config  Mosquitto's config, passwords and ACL for SITE (with the bridge) and for UPSTREAM (after make keys)"
	@echo "make flash          ROLE=shelf|camera|gate NODE=id BOOT=/media/.../bootfs [FORCE=1] [SSH_KEY=file.pub]: register a Pi node, write its first boot"
	@echo "                    ROLE=shelf-mcu PORT=/dev/ttyACM0: put the firmware on the RP2040 shelf board"
	@echo "make decommission   NODE=id: revoke a node (registry, key, broker credential)"
	@echo "make install        the virtualenv in $(VENV) with the package and its dev/demo extras"
	@echo "make train-camera   train the hand-in-lane model on rendered frames (TensorFlow, own venv; FRAMES=20000)"

# Root on Debian gets what is missing from apt-get; anyone else is told what to install.
define apt_or_explain
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing $(1) with apt-get"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null) || \
			{ echo "apt-get could not install $(1)"; exit 1; }; \
	else \
		echo "$(2) is missing: install it with 'sudo apt-get install $(1)' (Debian/Ubuntu) and run make again"; exit 1; \
	fi
endef

$(STAMP): setup.cfg pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || \
		{ echo "Python 3.11 or newer is needed as $(PYTHON) (set PYTHON=...)"; exit 1; }
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { $(call apt_or_explain,python3-venv,Python's venv module); }
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	@echo "installing the package and its dev and demo extras into $(VENV)"
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -e '.[dev,demo,provision]'
	@touch $(STAMP)

install: $(STAMP)

mosquitto:
	@command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || { $(call apt_or_explain,mosquitto,Mosquitto (the MQTT broker)); }

# The demo falls back to an in-process amqtt broker when Mosquitto is not to be had.
mosquitto-optional:
	@$(MAKE) --no-print-directory mosquitto || echo "continuing without Mosquitto: the demo will use amqtt"

# The tests check the first boot `make flash` writes with cloud-init's own validator.
cloud-init:
	@command -v cloud-init >/dev/null || { $(call apt_or_explain,cloud-init,cloud-init (its schema validator)); }

# storediag's shell is driven in a real terminal by the tests.
tmux:
	@command -v tmux >/dev/null || { $(call apt_or_explain,tmux,tmux (a terminal the shell test drives)); }

test: install mosquitto cloud-init tmux
	$(BIN)/python -m pytest -q

demo: install mosquitto-optional
	$(BIN)/python -m hw.sim.demo

bench: install mosquitto
	@set -e; for script in bench/[!_]*.py; do \
		echo "== $$script"; $(BIN)/python $$script $(if $(QUICK),--quick); done

# Stubs of the RP2040 port and MicroPython's stdlib, apart from the venv: they replace the
# standard library's types, so only the board firmware is checked against them.
MPY_STUBS := $(VENV)/mpy-stubs
$(MPY_STUBS)/.installed: $(STAMP)
	@$(BIN)/python -m pip install -q --no-deps --upgrade --target $(MPY_STUBS) \
		micropython-rp2-rpi-pico-stubs==1.29.0.post1 micropython-stdlib-stubs==1.29.0.post2
	@touch $@

lint: install $(MPY_STUBS)/.installed
	$(BIN)/ruff check edge gateway upstream hw bench firmware_tests
	$(BIN)/mypy edge gateway upstream hw bench
	@errors=$$(MYPYPATH=$(MPY_STUBS) $(BIN)/mypy --custom-typeshed-dir $(MPY_STUBS) --no-site-packages \
		--python-version 3.11 --follow-imports=silent --disallow-untyped-defs --config-file /dev/null edge/mcu/main.py \
		2>&1 | grep -v -e '^$(MPY_STUBS)/' -e '^Found ' -e 'No \[mypy\] section'); \
	if [ -n "$$errors" ]; then echo "$$errors"; exit 1; fi; \
	echo "edge/mcu/main.py: no issues against the rp2 (Raspberry Pi Pico) stubs"

# TensorFlow is only for training, and heavy: it gets a virtualenv of its own.
TRAIN_VENV := .venv-train
$(TRAIN_VENV)/.installed: setup.cfg pyproject.toml
	@[ -x $(TRAIN_VENV)/bin/python ] || $(PYTHON) -m venv $(TRAIN_VENV)
	@echo "installing the package and its train extra (TensorFlow) into $(TRAIN_VENV)"
	@$(TRAIN_VENV)/bin/python -m pip install -q -e '.[train]'
	@touch $@

train-camera: $(TRAIN_VENV)/.installed
	$(TRAIN_VENV)/bin/python -m hw.sim.train_camera $(if $(FRAMES),--frames $(FRAMES))

# The reference upstream lives apart from the site (UPSTREAM); the site gets only its kit.
keys: install
	$(BIN)/storeup --home $(UPSTREAM) init
	$(BIN)/storeup --home $(UPSTREAM) add-store $(STORE)
	$(BIN)/storeprov --site $(SITE) init --store $(STORE) --upstream-kit $(UPSTREAM)/stores/$(STORE)

broker-config: install
	$(BIN)/storeprov --site $(SITE) broker-config --bind $(BIND)
	$(BIN)/storeup --home $(UPSTREAM) broker-config

yes := $(filter 1 yes true,$(FORCE))

flash: install
ifeq ($(ROLE),shelf-mcu)
	@[ -n "$(PORT)" ] || { echo "make flash ROLE=shelf-mcu needs PORT=, the board's serial port (e.g. /dev/ttyACM0)"; exit 2; }
	$(BIN)/storeprov flash-mcu --port $(PORT)
else
	@[ -n "$(ROLE)" ] && [ -n "$(NODE)" ] && [ -n "$(BOOT)" ] || { \
		echo "usage: make flash ROLE=shelf|camera|gate NODE=<id> BOOT=<mounted boot partition> [FORCE=1] [SSH_KEY=<file.pub>]"; \
		echo "       make flash ROLE=shelf-mcu PORT=/dev/ttyACM0"; exit 2; }
	$(BIN)/storeprov --site $(SITE) flash $(NODE) $(ROLE) --boot $(BOOT) $(if $(yes),--force) \
		$(if $(SSH_KEY),--ssh-key $(SSH_KEY)) $(if $(BROKER_HOST),--broker-host $(BROKER_HOST)) $(if $(SHELF),--shelf $(SHELF))
endif

decommission: install
	@[ -n "$(NODE)" ] || { echo "usage: make decommission NODE=<id>"; exit 2; }
	$(BIN)/storeprov --site $(SITE) decommission $(NODE)

clean:
	rm -rf $(VENV) $(TRAIN_VENV) var build *.egg-info .pytest_cache .mypy_cache .ruff_cache
