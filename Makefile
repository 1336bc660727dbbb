# Two commands on a fresh machine (Python 3.11 + make):
#   make demo   main job end to end on embedded defaults
#   make test   the whole test suite
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test venv clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required (bpy 5.0.1 wheels are cp311)")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m trainer_service demo --out out/demo

test: $(STAMP)
	$(PY) -m pytest -q -rs

clean:
	rm -rf $(VENV) out build
