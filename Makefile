# danbao: `make run` starts the server on SQLite with the playground;
# `make test` runs every test (and PostgreSQL ones when
# DANBAO_TEST_DATABASE_URL is set).

GO ?= go
GENERATED := ent graph resolvers schema.graphql
TESTFLAGS ?= -count=1 -timeout 30m
# staticcheck, pinned; run with `go run` so nothing needs installing.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Hand-written packages: everything but ent's generated tree and graph/
# (gqlgen's generated executor, nothing else).
LINT_PKGS = $$($(GO) list ./... | grep -v -e '^danbao/ent' -e '^danbao/graph$$')

.PHONY: run build generate check-generate fmt-check vet lint test test-go migration playground bench bench-pg

run:
	$(GO) run . serve

build:
	$(GO) build -o bin/danbao .

# Rebuilds the playground bundle (internal/app/playground/dist, committed and
# embedded in the binary) from its locked npm packages. Not part of `make test`.
playground:
	npm ci --prefix internal/app/playground --no-audit --no-fund
	cd internal/app/playground && node build.mjs

# ent, then gqlgen, then the SDL export (see generate.go).
generate:
	$(GO) generate .

# Fails if `make generate` would change any generated file.
check-generate:
	@before=$$(find $(GENERATED) -type f | LC_ALL=C sort | xargs sha256sum | sha256sum); \
	$(MAKE) --no-print-directory generate >/dev/null || exit 1; \
	after=$$(find $(GENERATED) -type f | LC_ALL=C sort | xargs sha256sum | sha256sum); \
	if [ "$$before" != "$$after" ]; then \
		echo "generated code is stale: run 'make generate' and commit the result"; \
		git status --short -- $(GENERATED); exit 1; \
	fi; echo "generated code is up to date"

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# Writes the next migration for both dialects from the ent schema diff:
#   make migration NAME=add_payment_note
# (edit ent/schema and run `make generate` first). The PostgreSQL diff runs
# in a scratch schema of $$DANBAO_TEST_DATABASE_URL, else of the local
# postgres://postgres@127.0.0.1:5432/postgres.
migration:
	@if [ -z "$(NAME)" ]; then echo "usage: make migration NAME=add_x"; exit 2; fi
	$(GO) run ./internal/tools/migdiff -new "$(NAME)"

lint:
	$(GO) run $(STATICCHECK) $(LINT_PKGS)

test-go:
	$(GO) test $(TESTFLAGS) ./...

test: check-generate fmt-check vet lint test-go

# Benchmarks (never part of `make test`; see README.md, Performance):
# `make bench` runs the Go benchmarks of the hot paths and a load run on
# SQLite beside the disk's fdatasync rate; `make bench-pg` runs pgbench
# TPC-B, the load run on PostgreSQL and pgbench again, on scratch
# databases of $$PGURL (default postgres://postgres@127.0.0.1:5432) whose
# names start with $$BENCH_DB_PREFIX (default danbao_bench).
bench:
	scripts/bench.sh sqlite

bench-pg:
	scripts/bench.sh postgres
