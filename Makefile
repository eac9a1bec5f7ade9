# Two commands matter: `make demo` runs the product, `make test` runs every test.
.PHONY: demo test build web

build:
	go build -o bin/tamlink ./cmd/tamlink

# The Teams JS SDK is installed from npm, never committed.
web:
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix web --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the workbench will offer browser sign-in only"; fi

# Pass flags with ARGS, e.g. make demo ARGS="--listen 127.0.0.1:8091".
demo: web build
	./bin/tamlink demo $(ARGS)

test:
	./scripts/test
