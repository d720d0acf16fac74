# snnlearn: the two set-up commands are `make book` (build the course site) and
# `make test` (run the test suite). Both create .venv and install what they need.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
COURSE := $(VENV)/.course-installed
DEV    := $(VENV)/.dev-installed
PEERS  := $(VENV)/.peers-installed
BOOK_FLAGS ?= -W -n --keep-going
NBGRADER := cd exercises && ../$(BIN)/nbgrader

.PHONY: help install instructor-lab book book-clean test test-fast test-sanitize bench \
        assignments check-assignments collect duedate autograde feedback export grade

help:
	@echo "make book    build the course site into _build/html (chapters executed)"
	@echo "make test    run the test suite (builds the book once, on a scratch copy)"
	@echo "make test-fast   library, C vs reference, API, doctests (target: under 30 s idle)"
	@echo "make test-sanitize   the C tests against an ASan+UBSan build of the extension"
	@echo "make bench   print the LIF benchmark tables and the training-step comparison"
	@echo "make assignments | collect | autograde | feedback | export   (instructors)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel

# jsonschema imports rfc3987-syntax whenever it is installed (an optional extra that
# jupyter-events asks for), and that package builds a Lark grammar at import: 1.0-1.5 s of
# CPU in every process that imports nbformat (each nbgrader run of `make autograde`, the
# Jupyter server, nbclient): `nbgrader --version` took 2.8-3.0 s with it, 1.0-1.25 s without.
# Nothing here validates IRIs; jsonschema goes on without that one format check.
DROP_SLOW_IMPORTS = $(BIN)/pip uninstall -q -y rfc3987-syntax >/dev/null 2>&1 || true

# The course environment: requirements.txt and snnlearn with its C extension.
$(COURSE): $(BIN)/python requirements.txt pyproject.toml setup.py \
          $(wildcard snnlearn/_compiled/*.c snnlearn/_compiled/*.h)
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-build-isolation -e .
	$(DROP_SLOW_IMPORTS)
	@touch $@

# The peer libraries tests and benchmarks compare against (Norse 1.1.0 ...): --no-deps, so
# that pip never resolves torch (their requirements would pull a multi-GB CUDA build).
$(PEERS): $(COURSE) requirements-peers.txt
	$(BIN)/pip install -q --no-deps -r requirements-peers.txt
	@touch $@

# Tonic, which chapter 6 reads N-MNIST files with (snnlearn.data.tonic_io): the versions of
# requirements-peers.txt, --no-deps as there (its own requirements pull librosa; reading the
# files needs only numpy, scipy and h5py, which the course environment has).
TONIC  := $(VENV)/.tonic-installed
$(TONIC): $(COURSE) requirements-peers.txt
	$(BIN)/pip install -q --no-deps $$(grep -E '^(tonic|importRosbag)==' requirements-peers.txt)
	@touch $@

# Tests and instructor tooling on top of it. nbgrader installs into the same .venv as the
# learner's JupyterLab (`.venv/bin/jupyter lab`, README): its Lab menus (Nbgrader, Formgrader,
# Assignments) and server extensions are switched off there, so a learner or a developer
# opening the chapters sees the course's Lab only. The nbgrader command line (make
# assignments, autograde, ...) does not need them. An instructor who wants nbgrader's web
# interface: make instructor-lab.
NBGRADER_SERVER_EXTENSIONS := formgrader validate_assignment assignment_list course_list
$(DEV): $(PEERS) requirements-dev.txt
	$(BIN)/pip install -q -r requirements-dev.txt
	$(DROP_SLOW_IMPORTS)
	$(BIN)/jupyter labextension disable --level=sys_prefix @jupyter/nbgrader >/dev/null 2>&1
	for e in $(NBGRADER_SERVER_EXTENSIONS); do \
	  $(BIN)/jupyter server extension disable --sys-prefix nbgrader.server_extensions.$$e \
	    >/dev/null 2>&1 || exit 1; done
	@touch $@

# nbgrader's JupyterLab interface back on in this .venv (instructors; see make install).
instructor-lab: $(DEV)
	$(BIN)/jupyter labextension unlock --level=sys_prefix @jupyter/nbgrader >/dev/null 2>&1
	$(BIN)/jupyter labextension enable --level=sys_prefix @jupyter/nbgrader >/dev/null 2>&1
	for e in $(NBGRADER_SERVER_EXTENSIONS); do \
	  $(BIN)/jupyter server extension enable --sys-prefix nbgrader.server_extensions.$$e \
	    >/dev/null 2>&1 || exit 1; done

install: $(DEV)

# Jupyter Book's execution cache keys on a chapter's code, not on the library it imports:
# when snnlearn changes, drop the cache (and Sphinx's) so that every chapter runs again.
LIBRARY_SOURCES := $(shell find snnlearn -name '*.py' -o -name '*.c' -o -name '*.h')
_build/.library-stamp: $(LIBRARY_SOURCES)
	rm -rf _build/.jupyter_cache _build/.doctrees _build/jupyter_execute
	@mkdir -p _build && touch $@

book: $(COURSE) $(TONIC) _build/.library-stamp
	$(BIN)/jupyter-book build . $(BOOK_FLAGS)
	@echo "Open _build/html/index.html"

book-clean:
	rm -rf _build

# Two pytest-xdist workers, each test module whole in one worker and the tests that share
# the book build or the graded class in one (tests/conftest.py: SHARED_WORK_MODULES);
# --durations=25: the slowest tests and fixtures, so that the time CI spends is visible.
TEST_WORKERS ?= 2
test: $(DEV)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope --hypothesis-profile=full --durations=25

# Day-to-day tier: everything not marked slow (no book build, no browser, no grading runs);
# it must stay well under 30 s on an idle 2-core machine (--durations: where it goes).
test-fast: $(DEV)
	$(BIN)/python -m pytest -m "not slow" --hypothesis-profile=fast -q --durations=15

# The C extensions built with AddressSanitizer + UndefinedBehaviorSanitizer into a scratch
# copy of the package, and the tests that drive the C code run against that copy. Python
# itself is not instrumented, so the ASan runtime is preloaded; CPython's own allocations
# are not leaks we own (detect_leaks=0). Any report aborts the test run; --capture=sys
# leaves the C-level stderr alone, so the report is printed, not lost with the process.
SANITIZE_DIR   ?= $(CURDIR)/_build/sanitize
SANITIZE_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g -O1
SANITIZE_TESTS := tests/test_lif_c_vs_reference.py tests/test_lif_inputs.py tests/test_c_fuzz.py \
                  tests/test_li_c_vs_reference.py tests/test_lif_recurrent_c.py tests/test_lif_recompute_buffers.py
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

bench: $(PEERS)
	$(BIN)/python benchmarks/bench_lif.py
	$(BIN)/python benchmarks/bench_lif_recurrent.py
	$(BIN)/python benchmarks/bench_training_step.py
	$(BIN)/python benchmarks/bench_floors.py

# ---- Instructor workflow (nbgrader; see book/instructor_guide.md) --------------------------
# The course root is exercises/. nbgrader runs helpers (alembic) by name: put the venv first.
# The assignments are the folders of exercises/source (build_sources.assignments()).
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
# build_sources.py --release runs generate_assignment once for every assignment.
assignments: $(DEV)
	$(BIN)/python exercises/build_sources.py --release

# Fails if the committed source/ or release/ notebooks are stale (regenerates in a scratch copy).
check-assignments: $(DEV)
	$(BIN)/python exercises/build_sources.py --check

# make collect ASSIGNMENT=spiking_neurons ZIPS=path/to/downloads [TIMES=lms_export.csv]
# ZIPS holds one <student_id>.zip (with <assignment>.ipynb inside) or one folder
# <student_id>/ per student; they are filed as submitted/<student_id>/<assignment>/.
# Archives are unpacked member by member (bad members skipped and listed), links never
# followed; submission times come from TIMES (student_id, submitted_at) or the download.
collect: $(DEV)
	@test -n "$(ASSIGNMENT)" -a -d "$(ZIPS)" || \
	  { echo "usage: make collect ASSIGNMENT=<assignment> ZIPS=<folder of downloads>"; exit 2; }
	$(BIN)/python exercises/grading.py collect $(ASSIGNMENT) "$(ZIPS)" $(if $(TIMES),--times "$(TIMES)")

# make duedate ASSIGNMENT=spiking_neurons DUEDATE="2026-05-01 23:59 UTC": late submissions
# then lose SNNLEARN_LATE_PENALTY_PER_DAY points per started day (nbgrader_config.py).
duedate: $(DEV)
	@test -n "$(ASSIGNMENT)" -a -n "$(DUEDATE)" || \
	  { echo 'usage: make duedate ASSIGNMENT=<assignment> DUEDATE="2026-05-01 23:59 UTC"'; exit 2; }
	$(BIN)/python exercises/grading.py duedate $(ASSIGNMENT) "$(DUEDATE)"

# Grades every submission (FORCE=1: grade again those already graded), each in its own
# scratch course with its kernel in a bubblewrap sandbox, JOBS at a time, and writes
# exercises/grading_report.{csv,txt}: every submission, its score or FAILED and why,
# TAMPERED test cells, limits hit, grading time.
autograde: $(DEV)
	$(BIN)/python exercises/grading.py autograde --jobs $(JOBS) $(if $(FORCE),--force) $(ASSIGNMENT)

# HTML feedback for the learners: exercises/feedback/<student_id>/<assignment>/.
# One nbgrader run for every graded assignment, or ASSIGNMENT=<name> for one.
feedback: $(DEV)
	$(BIN)/python exercises/grading.py feedback $(ASSIGNMENT)

# All scores from the gradebook: exercises/grades.csv (one row per student and assignment).
export: $(DEV)
	$(NBGRADER) export --to grades.csv
	$(BIN)/python exercises/grading.py canvas
	@echo "wrote exercises/grades.csv and canvas_grades.csv (FAILED submissions count 0 there: see exercises/grading_report.txt)"

grade: autograde feedback export
