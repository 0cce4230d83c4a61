# The front door. `make demo` and `make test` are the README's promise to a newcomer.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)

.PHONY: all build deps demo test bench bench-allocators bench-memcheck bench-leaks format clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j$(JOBS)

demo: deps build
	@bash scripts/demo.sh $(BUILD_DIR)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS) $(CTEST_ARGS)

# The allocator comparison (with the free-validation build switch), debug mode against
# memcheck, and the leak check against LeakSanitizer and memcheck: about an hour.
bench: bench-allocators bench-memcheck bench-leaks

bench-allocators: build
	python3 bench/run.py --build-dir $(BUILD_DIR) --validation-cost $(BENCH_ARGS)

bench-memcheck: build
	python3 bench/memcheck_compare.py --build-dir $(BUILD_DIR) $(MEMCHECK_BENCH_ARGS)

bench-leaks: build
	python3 bench/leak_check/run.py --build-dir $(BUILD_DIR) $(LEAK_BENCH_ARGS)

format:
	clang-format -i $$(git ls-files '*.cc' '*.h' '*.c')

clean:
	rm -rf $(BUILD_DIR)
