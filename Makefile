# snnlearn: the two set-up commands are `make book` (build the course site) and
# `make test` (run the test suite). Both create .venv and install what they need.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
COURSE := $(VENV)/.course-installed
DEV    := $(VENV)/.dev-installed
BOOK_FLAGS ?= -W -n --keep-going
NBGRADER := cd exercises && ../$(BIN)/nbgrader

.PHONY: help install book book-clean test bench \
        assignments check-assignments collect duedate autograde feedback export grade

help:
	@echo "make book    build the course site into _build/html (chapters executed)"
	@echo "make test    run the test suite (builds the book once, on a scratch copy)"
	@echo "make bench   print the LIF benchmark table"
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

bench: $(COURSE)
	$(BIN)/python benchmarks/bench_lif.py

# ---- Instructor workflow (nbgrader; see book/instructor_guide.md) --------------------------
# The course root is exercises/. nbgrader runs helpers (alembic) by name: put the venv first.
# The assignments are the folders of exercises/source (build_sources.assignments()).
ASSIGNMENTS := $(sort $(patsubst exercises/source/%/,%,$(dir $(wildcard exercises/source/*/*.md))))
# make autograde JOBS=N: N submissions at once (default: all cores). SANDBOX=none grades
# without the bubblewrap sandbox (trusted submissions only). GRADEBOOK_URL=<SQLAlchemy URL>
# keeps the gradebook elsewhere (e.g. PostgreSQL); default: exercises/gradebook.db.
JOBS ?= 0
SANDBOX ?= bwrap
ifneq ($(GRADEBOOK_URL),)
export GRADEBOOK_URL
endif
export SNNLEARN_SANDBOX := $(SANDBOX)
assignments check-assignments collect duedate autograde feedback export grade: export PATH := $(CURDIR)/$(BIN):$(PATH)

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
	$(BIN)/python exercises/grading.py --stamp $(ASSIGNMENT)

# make duedate ASSIGNMENT=spiking_neurons DUEDATE="2026-05-01 23:59 UTC": late submissions
# then lose SNNLEARN_LATE_PENALTY_PER_DAY points per started day (nbgrader_config.py).
duedate: $(DEV)
	@test -n "$(ASSIGNMENT)" -a -n "$(DUEDATE)" || \
	  { echo 'usage: make duedate ASSIGNMENT=<assignment> DUEDATE="2026-05-01 23:59 UTC"'; exit 2; }
	$(BIN)/python exercises/grading.py --duedate "$(DUEDATE)" $(ASSIGNMENT)

# Grades every submission (FORCE=1: grade again those already graded), each in its own
# scratch course with its kernel in a bubblewrap sandbox, JOBS at a time, and writes
# exercises/grading_report.{csv,txt}: every submission, its score or FAILED and why,
# TAMPERED test cells, limits hit, grading time.
autograde: $(DEV)
	$(BIN)/python exercises/grading.py --autograde --jobs $(JOBS) $(if $(FORCE),--force) $(ASSIGNMENT)

# HTML feedback for the learners: exercises/feedback/<student_id>/<assignment>/.
feedback: $(DEV)
	for a in $(if $(ASSIGNMENT),$(ASSIGNMENT),$(ASSIGNMENTS)); do \
	  if ls -d exercises/autograded/*/$$a >/dev/null 2>&1; then \
	    ($(NBGRADER) generate_feedback $$a --force) || exit 1; fi; done

# All scores from the gradebook: exercises/grades.csv (one row per student and assignment).
export: $(DEV)
	$(NBGRADER) export --to grades.csv
	$(BIN)/python exercises/grading.py --canvas
	@echo "wrote exercises/grades.csv and canvas_grades.csv (FAILED submissions count 0 there: see exercises/grading_report.txt)"

grade: autograde feedback export
