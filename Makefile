# Sentral. The README gives two commands: `make run` and `make test`.
GO      ?= go
BIN     := bin/sentral
PKGS    := ./...
FUZZTIME ?= 20s

.PHONY: run build test lint bench fuzz clean

## run: build and start Sentral on the embedded SQLite store (./var/sentral.db)
run: build
	./$(BIN) serve

## build: compile the sentral binary into bin/
build:
	$(GO) build -o $(BIN) ./cmd/sentral

## test: vet, format check, and every test (unit, store conformance on SQLite
## and, when SENTRAL_TEST_PG is set, PostgreSQL; end-to-end with the binary)
test: lint
	@if [ -z "$$SENTRAL_TEST_PG" ]; then \
	  echo "*** SENTRAL_TEST_PG is not set: the PostgreSQL half of the store tests is SKIPPED."; \
	  echo "*** Run 'bash .ci/run' (or: eval \"\$$(scripts/pg-test.sh start)\"; make test) to include it."; \
	fi
	$(GO) test -count=1 -timeout 15m $(PKGS)
	@if [ -z "$$SENTRAL_TEST_PG" ]; then echo "*** Reminder: PostgreSQL store tests were SKIPPED (SENTRAL_TEST_PG not set)."; fi

## lint: go vet and gofmt
lint:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './node_modules/*')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## bench: Go benchmarks under bench/ (figures go to docs/performance.md)
bench: build
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3x ./bench/...

## fuzz: run every fuzz target for FUZZTIME each; new findings land in testdata/fuzz
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf bin
