# Two commands on a fresh machine with Python 3.11+:
#   make run    set up, migrate the embedded SQLite database, load the demo pool, serve
#   make test   set up and run the whole test suite (SQLite and PostgreSQL)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install system-deps run test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(MAKE) --no-print-directory system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# Debian packages the service and its tests use: a CJK font for the PDF notices,
# Chromium for the browser test, poppler's pdftoppm to render the notices in tests, and Go with
# golang.org/x/mod to read the log with Go's own tlog code (tests/go). Installed when we may (root with apt-get).
SYSTEM_DEPS := fonts-noto-cjk:/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc chromium:/usr/bin/chromium poppler-utils:/usr/bin/pdftoppm
SYSTEM_DEPS += golang-go:/usr/bin/go golang-golang-x-mod-dev:/usr/share/gocode/src/golang.org/x/mod/sumdb/tlog

system-deps:
	@missing=""; for dep in $(SYSTEM_DEPS); do \
		[ -e "$${dep#*:}" ] || missing="$$missing $${dep%%:*}"; done; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "提示：请安装 Debian 软件包：$$missing（PDF 公示的中文字体、浏览器测试、Go 互操作测试）"; fi

run: install
	$(BIN)/shuangsui serve --demo --host $(HOST) --port $(PORT)

test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# `make bench` takes about 15 minutes, `make bench QUICK=1` about 3. The API benchmark
# loads the server with wrk (Debian), installed here when we may (root with
# apt-get); without it the benchmark uses a slower Python load generator.
bench: install
	@command -v wrk >/dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk; \
		else echo "提示：请安装 Debian 软件包 wrk（HTTP 压测工具）；缺少时 API 基准测试改用较慢的 Python 压测脚本"; fi; }
	$(BIN)/python -m bench $(if $(QUICK),--quick)

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
