# dcai-lab: the two commands are `make lab` and `make test`; both set themselves up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
LAB_ARGS ?=
# JupyterLab refuses to run as root unless told to (containers, CI).
ROOT_ARGS := $(if $(filter 0,$(shell id -u)),--allow-root,)
PYTEST_ARGS ?= -q -n auto --dist loadfile
SUBMISSIONS ?= submissions
GRADES ?= grades.csv
# e.g. GRADE_ARGS="--jobs 4 --canvas canvas.csv --keep-executed executed" (python -m dcai_lab.course grade --help)
GRADE_ARGS ?=
# The same floating-point results on every x86-64 CPU: numerical libraries pick code paths by instruction set
# (AVX-512 machines would round differently and stored notebook outputs would not match); pin them to AVX2.
PIN_ISA := $(if $(filter x86_64,$(shell uname -m)),OPENBLAS_CORETYPE=Haswell MKL_CBWR=AVX2 \
           MKL_ENABLE_INSTRUCTIONS=AVX2 ATEN_CPU_CAPABILITY=avx2 DNNL_MAX_CPU_ISA=AVX2 FAISS_OPT_LEVEL=avx2,)
# Where notebook outputs are stored or compared (nbval): no progress bars, and widgets draw static figures.
NB_ENV := $(PIN_ISA) TQDM_DISABLE=1 DCAI_STATIC_WIDGETS=1 MPLBACKEND=module://matplotlib_inline.backend_inline

.PHONY: setup lab test release solutions grade handout bench timings book clean

setup: $(STAMP)

# (Re)install when the venv is missing or pyproject.toml / constraints.txt changed. constraints.txt pins the
# exact versions of the course machines (torch and torchvision among them: their files are on those machines' disks).
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	touch $(STAMP)

## Open the course in JupyterLab (e.g. make lab LAB_ARGS="--no-browser --port 8890").
lab: setup
	cd notebooks && ../$(BIN)/jupyter lab $(ROOT_ARGS) $(LAB_ARGS)

## Run every test: the library's tests and doctests, then nbval over the solution notebooks.
test: setup
	$(NB_ENV) $(BIN)/python -m pytest $(PYTEST_ARGS) tests dcai_lab notebooks/solutions \
	    --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

## Build the student notebooks in notebooks/ from notebooks/solutions/ (nbgrader's preprocessors).
release: setup
	$(BIN)/python -m dcai_lab.course release notebooks/solutions notebooks

## Re-run every solution notebook in place, storing the outputs nbval compares against.
solutions: setup
	$(NB_ENV) $(BIN)/python -m dcai_lab.course execute notebooks/solutions/*.ipynb

## Autograde a folder of submissions (make grade SUBMISSIONS=dir): grades.csv, feedback/<student>.html and .md.
## Every kernel runs in a bubblewrap sandbox (sudo apt-get install bubblewrap); see INSTRUCTORS.md.
grade: setup
	$(BIN)/python -m dcai_lab.course grade $(SUBMISSIONS) --source notebooks/solutions --out $(GRADES) $(GRADE_ARGS)

## Build the folder to hand out to students, without solutions or hidden tests: build/handout/.
handout: setup
	$(BIN)/python -m dcai_lab.course handout build/handout --source notebooks/solutions

## Speed and memory benchmarks (ratios measured side by side in one run).
bench: setup
	$(BIN)/python -m benchmarks $(BENCH)

## Time every solution notebook in a fresh kernel (without changing it) and check the course's time budget.
timings: setup
	$(NB_ENV) $(BIN)/python scripts/timings.py

## Build the course website offline, two editions: build/book/student/ and build/book/instructor/ (docs/book.py).
book: setup
	$(BIN)/python docs/book.py --out build/book

clean:
	rm -rf $(VENV) data/cache/* build *.egg-info
