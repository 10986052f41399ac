# The two commands of the README: `make run` and `make test`.
BUILD ?= build
JOBS ?= 2
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: all bootstrap build run test bench clean
all: build

bootstrap:
	@scripts/bootstrap.sh

build: bootstrap
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Runs the example job and prints its summary.
run: build
	$(BUILD)/fanout run examples/model_sequence/job.yaml

# Every test: unit, end-to-end (the real binary on real files), bad input, concurrency.
test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	bench/run --size small

clean:
	rm -rf $(BUILD)
