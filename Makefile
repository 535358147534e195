# arcgis-conda fleet: `make setup` once, then `make test`. Everything runs from the project venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
PLAYBOOKS := site.yml $(wildcard playbooks/*.yml)
SCENARIOS := $(sort $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml))))

.PHONY: setup test lint yamllint ruff ansible-lint argcheck syntax sanity pytest molecule-syntax molecule-lab bench bench-faults bench-calls clean

## setup: create the venv with pinned Ansible, collections, WinRM/PSRP clients and the dev tools.
setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==26.3
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	$(BIN)/python tools/ansible_sanity.py --prime
	touch $@

## test: every gate that needs no Windows host.
test: lint argcheck syntax sanity molecule-syntax pytest

lint: yamllint ruff ansible-lint

yamllint:
	yamllint --strict .

ruff:
	ruff check .
	ruff format --check .

ansible-lint:
	ansible-lint --profile production --offline

## argcheck: every task's module arguments against the module's own documentation.
argcheck:
	python tools/module_argcheck.py

syntax:
	@for pb in $(PLAYBOOKS); do \
	  ansible-playbook --syntax-check "$$pb" >/dev/null || exit 1; echo "syntax ok: $$pb"; \
	done

## sanity: ansible-test sanity on the built collection tarball, unpacked in a scratch folder (virtualenvs from make setup).
sanity:
	python tools/ansible_sanity.py

## pytest: the suite on every core (pytest-xdist), one test file per worker so a file's lab fixtures are shared.
pytest:
	python -m pytest -n auto --dist loadfile

## molecule-syntax: the Molecule steps that need no host, for every scenario.
molecule-syntax:
	@for s in $(SCENARIOS); do molecule syntax -s "$$s" || exit 1; done

## molecule-lab: full `molecule test` against the Windows VM in MOLECULE_WINDOWS_HOST (skips without one).
molecule-lab:
	@bash molecule/run-lab.sh $(SCENARIOS)

## bench: the benchmarks that print figures and check their targets (fleet plan, scale, env locks, mirror,
## console lines); not part of `make test`. bench_scale takes a few minutes: measure when the machine is idle.
bench:
	python benchmarks/bench_fleet_plan.py
	python benchmarks/bench_scale.py
	python benchmarks/bench_arcgis_env_lock.py
	python benchmarks/bench_mirror.py
	python benchmarks/bench_console.py

## bench-faults: the 40-host fault run (a fifth faulty; converges in two runs, every report row true).
bench-faults:
	python benchmarks/bench_faults.py

## bench-calls: module calls per host for site.yml on every simulated scenario, first run and re-run.
bench-calls:
	python benchmarks/bench_calls.py

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache
