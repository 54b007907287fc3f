# dbtool: build, try and test. `make` (or `make help`) lists the targets.

DBTOOL   ?= target/release/dbtool
DEMO_URL ?= mysql://root@127.0.0.1:3306/dbtool_demo
# The server the tests use (`make test`, `make ci`).
export DBTOOL_TEST_URL ?= mysql://root@127.0.0.1:3306

# demo-compose talks to the docker-compose server through knexfile.toml's [development]
# section. DATABASE_URL would override that section, so it is set empty (dbtool treats an
# empty DATABASE_URL as unset, and a .env file does not override a variable already set).
COMPOSE_DBTOOL = DATABASE_URL= $(DBTOOL)

.DEFAULT_GOAL := help
.PHONY: help build demo demo-compose bench-online bench-fleet test test-mariadb mysql-start mysql-stop man install migrate rollback seed status reliability \
        new-migration new-seed name-given db-up db-down lint fmt bench ci

help: ## List the targets
	@echo 'usage: make TARGET [NAME=...] [DBTOOL=...] [DEMO_URL=...]'
	@echo
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN { FS = ":.*## " } { printf "  %-15s %s\n", $$1, $$2 }'

build: ## Build the release binary (target/release/dbtool)
	cargo build --release

# The demo uses knexfile.toml's [local] section (DEMO_URL fills it in). DATABASE_URL is set
# empty: if it were set, it would override the section (dbtool would say so).
DEMO_DBTOOL = DATABASE_URL= DEMO_URL='$(DEMO_URL)' $(DBTOOL) --env local

demo: build ## Run the example project against the server at DEMO_URL (local MariaDB/MySQL)
	$(DEMO_DBTOOL) db:create
	$(DEMO_DBTOOL) migrate:latest
	$(DEMO_DBTOOL) seed:run
	$(DEMO_DBTOOL) migrate:status
	$(DEMO_DBTOOL) seed:status

demo-compose: build ## Run the example project against the docker-compose MySQL 8.4
	docker compose up -d --wait
	$(COMPOSE_DBTOOL) db:wait --env development --timeout 90
	$(COMPOSE_DBTOOL) migrate:latest --env development
	$(COMPOSE_DBTOOL) seed:run --env development
	$(COMPOSE_DBTOOL) migrate:status --env development

test: ## Run every test on MariaDB (DBTOOL_TEST_URL) and MySQL (DBTOOL_TEST_MYSQL_URL, else started by scripts/mysql-test-server.sh)
	./scripts/test.sh

test-mariadb: ## Run every test on MariaDB only (a quick local run; CI always runs both servers)
	DBTOOL_TEST_MYSQL=0 ./scripts/test.sh

mysql-start: ## Start the MySQL 9.7 test server (builds its Debian root the first time) and print its URL
	./scripts/mysql-test-server.sh start

mysql-stop: ## Stop the MySQL test server started by mysql-start
	./scripts/mysql-test-server.sh stop

migrate: build ## Apply every pending migration (migrate:latest)
	$(DBTOOL) migrate:latest

rollback: build ## Undo the last batch (migrate:rollback)
	$(DBTOOL) migrate:rollback

seed: build ## Run the seeds (seed:run)
	$(DBTOOL) seed:run

status: build ## Show every migration and its state (migrate:status)
	$(DBTOOL) migrate:status

new-migration: name-given build ## Create a migration: make new-migration NAME="add email"
	$(DBTOOL) migrate:make "$(NAME)"

new-seed: name-given build ## Create a seed: make new-seed NAME=02_orders
	$(DBTOOL) seed:make "$(NAME)"

# Checked before building, so a missing NAME fails at once.
name-given:
	@if [ -z "$(strip $(NAME))" ]; then \
		echo 'usage: make new-migration NAME="add email"   or   make new-seed NAME=02_orders' >&2; \
		exit 2; \
	fi

db-up: ## Start the docker-compose MySQL (127.0.0.1:3305) and wait until it is healthy
	docker compose up -d --wait

db-down: ## Stop the docker-compose MySQL (its data volume is kept)
	docker compose down

PREFIX ?= /usr/local

man: build ## Write the man pages to target/man (dbtool.1 and one per command)
	mkdir -p target/man
	$(DBTOOL) man --dir target/man

install: man ## Install the binary, man page and shell completions under PREFIX (/usr/local)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions \
		$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	install -m 755 $(DBTOOL) $(DESTDIR)$(PREFIX)/bin/dbtool
	install -m 644 target/man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	$(DBTOOL) completions bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/dbtool
	$(DBTOOL) completions zsh > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_dbtool
	$(DBTOOL) completions fish > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/dbtool.fish

lint: ## Check formatting, clippy warnings, docs, and the size rules of STYLE.md
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	RUSTDOCFLAGS='-D warnings' cargo doc --no-deps --document-private-items
	python3 scripts/long-functions.py 80
	@big=$$(find src -name '*.rs' -exec wc -l {} + | awk '$$2 != "total" && $$1 > 400'); \
	if [ -n "$$big" ]; then echo "files over 400 lines:"; echo "$$big"; exit 1; fi

fmt: ## Format the code
	cargo fmt --all

bench-online: ## The online ALTER against a direct COPY ALTER of a 1M-row table, beside a writer (both servers when DBTOOL_TEST_MYSQL_URL is set)
	cargo test --test online measure -- --ignored --nocapture --test-threads 1
	if [ -n "$${DBTOOL_TEST_MYSQL_URL:-}" ]; then DBTOOL_TEST_URL=$$DBTOOL_TEST_MYSQL_URL cargo test --test online measure -- --ignored --nocapture --test-threads 1; fi

bench-fleet: ## A fleet of 200 databases at --parallel 1, 4, 8, 16 against a shell loop (bench/fleet.sh)
	./bench/fleet.sh

bench: ## Run the benchmarks (bench/run.sh)
	@if [ -e bench/run.sh ]; then \
		./bench/run.sh; \
	else \
		echo 'benchmarks land with the performance work: they will compare dbtool with the mariadb client on the same SQL (see docs/PERFORMANCE.md)'; \
	fi

reliability: ## The fault tests with more SIGKILL trials (DBTOOL_KILL_TRIALS, default 200)
	DBTOOL_KILL_TRIALS=$${DBTOOL_KILL_TRIALS:-200} cargo test --test it faults -- --nocapture

ci: ## Run what CI runs: install what is missing, start MariaDB, make test
	./.ci/run

.PHONY: fuzz
fuzz: ## Fuzz the SQL splitter and the config parser (fuzz/run.sh; RUNS=N, default 10M each)
	./fuzz/run.sh $(if $(RUNS),-runs=$(RUNS))
