# Thin front to CMake. `make` builds build/streamd (release); `make run` starts it; `make test` runs
# every test (unit, e2e, fuzz smoke) under ASan+UBSan through ctest.
JOBS ?= $(shell nproc)
ARGS ?=

.PHONY: all build run test test-build deps deps-test e2e-deps bench-api bench-ingest bench-transcode \
	fuzz format clean

all: build

build:
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build -j $(JOBS)

deps:
	scripts/install-deps.sh run

deps-test:
	scripts/install-deps.sh test

run: deps build
	./build/streamd $(ARGS)

e2e-deps:
	cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error

test-build:
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTREAMD_SANITIZE=ON -DSTREAMD_TESTS=ON >/dev/null
	cmake --build build-asan -j $(JOBS)

test: deps-test e2e-deps build test-build
	cd build-asan && ctest --output-on-failure -j $(JOBS)

# Each harness for FUZZ_SECONDS (300), from its kept corpus; what adds coverage is merged into
# tests/fuzz/seeds/ (FUZZ_KEEP=0: not). FUZZ_RUNS=N: N executions each instead.
fuzz: deps-test
	FUZZ_KEEP=$${FUZZ_KEEP:-1} tests/fuzz/run.sh $${FUZZ_SECONDS:-300}

bench-api: deps-test build
	bench/api.sh

bench-ingest: deps-test build
	bench/ingest.sh

bench-transcode: deps-test build
	bench/transcode.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan
