# The README's two commands: `make run` and `make test`. Both install missing Debian packages first.
BUILD ?= build/release
JOBS ?= 2
CMAKE_FLAGS ?=

.PHONY: deps build run test test-sanitize format format-check clean

deps:
	SANDGATE_WITH_BROWSER=1 bash scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

run: build
	$(BUILD)/sandgate serve --demo --listen 127.0.0.1:8080 --data ./data

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

test-sanitize: deps
	cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DSANDGATE_SANITIZE=ON >/dev/null
	cmake --build build/asan -j$(JOBS)
	cd build/asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j$(JOBS) -E ui.playwright

format:
	find src -name '*.h' -o -name '*.cc' | xargs clang-format -i

format-check:
	find src -name '*.h' -o -name '*.cc' | xargs clang-format --dry-run --Werror

clean:
	rm -rf build

# `make bench`: Sandgate side by side with nginx (issue 7); results go to docs/PERFORMANCE.md.
# BENCH_SECONDS, BENCH_ROUNDS, ... are read from the environment (see scripts/bench.sh).
.PHONY: bench
bench:
	SANDGATE_WITH_BENCH=1 bash scripts/install-deps.sh
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j$(JOBS)
	BUILD=$(BUILD) bash scripts/bench.sh
