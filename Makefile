# The two quick-start commands (README): `make run` and `make test`.
# Both create .venv with the project installed, so they work on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test bench mutants lint clean clean-cache

$(BIN)/mc-threat: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,slurm,dev]'
	touch $@

run: $(BIN)/mc-threat  ## install, then run the default sweep on a local dask cluster
	$(BIN)/mc-threat sweep configs/default.yaml --out results/default.zarr --overwrite

# The test run compiles every kernel into a fresh, empty numba cache (about 60 s of CPU),
# removed afterwards: a second guard; cached kernels are already invalidated by any kernel
# edit (mc_threat/kernels/decorators.py).
test: $(BIN)/mc-threat  ## install, then run the test suite (benchmarks excluded)
	@cache=$$(mktemp -d "$${TMPDIR:-/tmp}/mc-threat-numba-XXXXXX"); \
	echo "NUMBA_CACHE_DIR=$$cache"; \
	NUMBA_CACHE_DIR=$$cache $(BIN)/python -m pytest; status=$$?; \
	rm -rf "$$cache"; exit $$status

bench: $(BIN)/mc-threat  ## full benchmark, writes results/bench.json
	$(BIN)/mc-threat bench

# Not part of `make test`: about 50 curated rule-level mutants of the kernels and the case
# scoring, each compiled into a fresh numba cache and run against the fast kernel tests
# (scripts/mutants.py; 1 to 3 minutes per mutant, 1.5 to 2 hours in all on a busy 2-core
# machine). Prints the score and the survivors.
mutants: $(BIN)/mc-threat  ## mutation score of the kernel tests, writes results/mutants.json
	nice $(BIN)/python scripts/mutants.py

lint: $(BIN)/mc-threat
	$(BIN)/ruff check mc_threat tests scripts notebooks

# A convenience only: every cached kernel is stamped with a hash of the whole kernels package
# (mc_threat/kernels/decorators.py), so an edited kernel is never run from a stale cache.
clean-cache:  ## drop numba's compiled-kernel caches (frees disk space)
	find mc_threat -name '*.nbi' -delete -o -name '*.nbc' -delete

clean: clean-cache
	rm -rf $(VENV) results/*.zarr .pytest_cache
