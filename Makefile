# 先锋指数 — developer entry points. `make run` and `make test` are all you need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
# `make run` starts the job scheduler beside the web server; `make run SCHEDULER=0` does not.
SCHEDULER ?= 1
FLASK := $(BIN)/flask --app wsgi

.PHONY: install run test translations clean-db

install: $(VENV)/.installed app/translations/en/LC_MESSAGES/messages.mo

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

app/translations/en/LC_MESSAGES/messages.mo: app/translations/en/LC_MESSAGES/messages.po $(VENV)/.installed
	$(BIN)/pybabel compile --use-fuzzy -d app/translations -f >/dev/null

translations: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o app/translations/messages.pot app
	$(BIN)/pybabel update --no-fuzzy-matching -i app/translations/messages.pot -d app/translations
	$(BIN)/pybabel compile --use-fuzzy -d app/translations -f

run: install
	$(FLASK) db upgrade
	$(FLASK) demo load --if-empty
	SCHEDULER=$(SCHEDULER) $(BIN)/python -m app.devserver --port $(PORT)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)
