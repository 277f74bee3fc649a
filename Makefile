# Two commands do everything on a fresh machine: `make demo` and `make test`.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEPS_STAMP := $(VENV)/.stamp-deps
# Debian packages the tests drive as independent peers.
APT_PACKAGES := chromium ffmpeg sip-tester

.PHONY: demo serve test check lint types imports pytest bench system-deps deps clean

# setup.py builds the compiled hot paths (src/vigil/**/_*.c) in place.
$(DEPS_STAMP): pyproject.toml constraints.txt setup.py $(wildcard src/vigil/*/_*.c src/vigil/*/*/_*.c)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	touch $@

deps: $(DEPS_STAMP)

# Installs only what is missing; needs root (apt-get), as on the CI machines.
system-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v ffprobe >/dev/null || missing="$$missing ffmpeg"; \
	command -v sipp >/dev/null || missing="$$missing sip-tester"; \
	command -v gcc >/dev/null || missing="$$missing gcc"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

demo: $(DEPS_STAMP)
	$(BIN)/vigil demo

serve: $(DEPS_STAMP)
	$(BIN)/vigil serve

# system-deps first: gcc builds the compiled receive path when deps installs the package.
test: system-deps $(DEPS_STAMP)
	$(MAKE) check

check: lint types imports pytest

lint:
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

types:
	$(BIN)/mypy

imports:
	$(BIN)/lint-imports

pytest:
	$(BIN)/pytest -q

bench: $(DEPS_STAMP)
	for b in registry signaling media_protocols media live_view recording; do $(BIN)/python bench/$$b.py || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis build
	find src -name '*.so' -delete
