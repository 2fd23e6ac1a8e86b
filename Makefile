# Two commands on a fresh machine (Python 3.11+, nothing else):
#   make run    the whole product on embedded defaults, with demo data (Ctrl-C stops it all)
#   make test   the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test lint install messages

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# The whole product talks to the sandbox it starts, on whichever port it was given.
WEB_PORT     ?= 8000
SANDBOX_PORT ?= 8765

run: $(STAMP)
	DJANGO_DEBUG=1 $(BIN)/python manage.py migrate --noinput
	PATH="$(CURDIR)/$(BIN):$$PATH" DJANGO_DEBUG=1 WEB_PORT=$(WEB_PORT) SANDBOX_PORT=$(SANDBOX_PORT) \
	  B2BROUTER_API_URL=http://127.0.0.1:$(SANDBOX_PORT) B2BROUTER_API_KEY=sandbox-key \
	  B2BROUTER_WEBHOOK_SECRET=sandbox-webhook-secret SITE_URL=http://127.0.0.1:$(WEB_PORT) \
	  $(BIN)/honcho --procfile Procfile.dev start

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

# The English catalogue: collect the messages, then translate what is new (tests/test_translations.py)
messages: $(STAMP)
	DJANGO_DEBUG=1 $(BIN)/python manage.py makemessages -l en --no-obsolete -i ".venv/*" -i "var/*" -i "test-artifacts/*" -i "sandbox/*" -i "bench/*" -i "tests/*"
	DJANGO_DEBUG=1 $(BIN)/python manage.py compilemessages -l en -i ".venv"
