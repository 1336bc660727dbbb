# Two commands on a fresh machine (Python 3.11 + make):
#   make demo   main job end to end on embedded defaults (QUICK=1: tiny budgets and render; MINUTES=N: training)
#   make test   the whole test suite (then the add-on's tests again on Blender 4.5 LTS)
# and `make extension`: the add-on's installable zip in build/, made by Blender's own blender_ext.py.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The add-on is also tested on Blender 4.5 LTS: its own small venv (bpy 4.5 wheel, no trainer packages).
VENV45 := .venv45
PY45 := $(VENV45)/bin/python
STAMP45 := $(VENV45)/.installed
ADDON45_PINS := bpy==4.5.15 numpy==1.26.4 pytest==8.3.4 pytest-timeout==2.3.1

BLENDER_EXT := $(VENV)/lib/python3.11/site-packages/bpy/5.0/scripts/addons_core/bl_pkg/cli/blender_ext.py
MINUTES ?= 3

.PHONY: demo test venv extension clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required (bpy 5.0.1 wheels are cp311)")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

$(STAMP45):
	test -x $(PY45) || $(PYTHON) -m venv $(VENV45)
	$(PY45) -m pip install --quiet $(ADDON45_PINS)
	touch $(STAMP45)

venv: $(STAMP) $(STAMP45)

demo: $(STAMP)
	$(PY) -m trainer_service demo --out out/demo --minutes $(MINUTES) $(if $(QUICK),--quick)

extension: $(STAMP)
	mkdir -p build
	$(PY) $(BLENDER_EXT) build --source-dir . --output-dir build

test: $(STAMP) $(STAMP45)
	$(PY) -m pytest -q -rs
	BACKFLIP_PYBULLET_DATA="$$($(PY) -c 'import pybullet_data; print(pybullet_data.getDataPath())')" \
	BACKFLIP_TRAINER_PYTHON="$(CURDIR)/$(PY)" PYTHONPATH="$(CURDIR)" \
	$(PY45) -m pytest -q -rs -p no:cacheprovider tests/addon

clean:
	rm -rf $(VENV) $(VENV45) out build
