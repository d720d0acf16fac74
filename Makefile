# snnlearn: the two set-up commands are `make book` (build the course site) and
# `make test` (run the test suite). Both create .venv and install what they need.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
COURSE := $(VENV)/.course-installed
DEV    := $(VENV)/.dev-installed
BOOK_FLAGS ?= -W -n --keep-going
NBGRADER := cd exercises && ../$(BIN)/nbgrader

.PHONY: help install book book-clean test test-fast test-sanitize bench \
        assignments check-assignments collect autograde feedback export grade

help:
	@echo "make book    build the course site into _build/html (chapters executed)"
	@echo "make test    run the test suite (builds the book once, on a scratch copy)"
	@echo "make test-fast   library, C vs reference, API, doctests (under a minute)"
	@echo "make test-sanitize   the C tests against an ASan+UBSan build of the extension"
	@echo "make bench   print the LIF benchmark tables and the training-step comparison"
	@echo "make assignments | collect | autograde | feedback | export   (instructors)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel

# The course environment: requirements.txt and snnlearn with its C extension.
$(COURSE): $(BIN)/python requirements.txt pyproject.toml setup.py snnlearn/_lif.c snnlearn/_lif_kernels.h
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-build-isolation -e .
	@touch $@

# Tests and instructor tooling on top of it.
$(DEV): $(COURSE) requirements-dev.txt
	$(BIN)/pip install -q -r requirements-dev.txt
	@touch $@

install: $(DEV)

# Jupyter Book's execution cache keys on a chapter's code, not on the library it imports:
# when snnlearn changes, drop the cache (and Sphinx's) so that every chapter runs again.
LIBRARY_SOURCES := $(shell find snnlearn -name '*.py' -o -name '*.c' -o -name '*.h')
_build/.library-stamp: $(LIBRARY_SOURCES)
	rm -rf _build/.jupyter_cache _build/.doctrees _build/jupyter_execute
	@mkdir -p _build && touch $@

book: $(COURSE) _build/.library-stamp
	$(BIN)/jupyter-book build . $(BOOK_FLAGS)
	@echo "Open _build/html/index.html"

book-clean:
	rm -rf _build

test: $(DEV)
	$(BIN)/python -m pytest

# Day-to-day tier: everything not marked slow (no book build, no browser, no grading runs).
test-fast: $(DEV)
	$(BIN)/python -m pytest -m "not slow" -q

# The C extensions built with AddressSanitizer + UndefinedBehaviorSanitizer into a scratch
# copy of the package, and the tests that drive the C code run against that copy. Python
# itself is not instrumented, so the ASan runtime is preloaded; CPython's own allocations
# are not leaks we own (detect_leaks=0). Any report aborts the test run; --capture=sys
# leaves the C-level stderr alone, so the report is printed, not lost with the process.
SANITIZE_DIR   ?= $(CURDIR)/_build/sanitize
SANITIZE_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g -O1
SANITIZE_TESTS := tests/test_lif_c_vs_reference.py tests/test_lif_inputs.py tests/test_c_fuzz.py
test-sanitize: $(DEV)
	rm -rf $(SANITIZE_DIR) && mkdir -p $(SANITIZE_DIR)
	cp -R setup.py pyproject.toml README.md snnlearn tests $(SANITIZE_DIR)/
	find $(SANITIZE_DIR)/snnlearn -name '*.so' -delete
	cd $(SANITIZE_DIR) && CFLAGS="$(SANITIZE_FLAGS)" LDFLAGS="$(SANITIZE_FLAGS)" \
	  $(CURDIR)/$(BIN)/python setup.py -q build_ext --inplace
	cd $(SANITIZE_DIR) && \
	  LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" \
	  ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:halt_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  SNNLEARN_EXPECT_SANITIZED=1 \
	  $(CURDIR)/$(BIN)/python -m pytest -q -p no:cacheprovider --capture=sys $(SANITIZE_TESTS)

bench: $(COURSE)
	$(BIN)/python benchmarks/bench_lif.py
	$(BIN)/python benchmarks/bench_training_step.py

# ---- Instructor workflow (nbgrader; see book/instructor_guide.md) --------------------------
# The course root is exercises/. nbgrader runs helpers (alembic) by name: put the venv first.
ASSIGNMENTS := pytorch_basics spiking_neurons training_snns
assignments check-assignments collect autograde feedback export grade: export PATH := $(CURDIR)/$(BIN):$(PATH)

# source/<a>/<a>.md -> source/<a>/<a>.ipynb (Jupytext) -> release/<a>/<a>.ipynb (nbgrader).
assignments: $(DEV)
	$(BIN)/python exercises/build_sources.py
	for a in $(ASSIGNMENTS); do ($(NBGRADER) generate_assignment $$a --force) || exit 1; done

# Fails if the committed source/ or release/ notebooks are stale (regenerates in a scratch copy).
check-assignments: $(DEV)
	$(BIN)/python exercises/build_sources.py --check

# make collect ASSIGNMENT=spiking_neurons ZIPS=path/to/downloads
# ZIPS holds one <student_id>.zip (with <assignment>.ipynb inside) or one folder
# <student_id>/ per student; they are filed as submitted/<student_id>/<assignment>/.
collect: $(DEV)
	@test -n "$(ASSIGNMENT)" -a -d "$(ZIPS)" || \
	  { echo "usage: make collect ASSIGNMENT=<assignment> ZIPS=<folder of downloads>"; exit 2; }
	mkdir -p exercises/downloaded/$(ASSIGNMENT)/archive
	cp -R "$(ZIPS)"/. exercises/downloaded/$(ASSIGNMENT)/archive/
	$(NBGRADER) zip_collect $(ASSIGNMENT) --force

# Grades every submission (FORCE=1: grade again those already graded) and writes
# exercises/grading_report.{csv,txt}: every submission, its score or FAILED and why.
autograde: $(DEV)
	$(BIN)/python exercises/grading_report.py --autograde $(if $(FORCE),--force) $(ASSIGNMENT)

# HTML feedback for the learners: exercises/feedback/<student_id>/<assignment>/.
feedback: $(DEV)
	for a in $(if $(ASSIGNMENT),$(ASSIGNMENT),$(ASSIGNMENTS)); do \
	  if ls -d exercises/autograded/*/$$a >/dev/null 2>&1; then \
	    ($(NBGRADER) generate_feedback $$a --force) || exit 1; fi; done

# All scores from the gradebook: exercises/grades.csv (one row per student and assignment).
export: $(DEV)
	$(NBGRADER) export --to grades.csv
	@echo "wrote exercises/grades.csv (FAILED submissions count 0 there: see exercises/grading_report.txt)"

grade: autograde feedback export
