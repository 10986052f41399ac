# The two commands of the README: `make run` and `make test`.
BUILD ?= build
JOBS ?= 2
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: all bootstrap build run test bench clean check asan tsan fuzz thread-safety
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

# Sanitizers, fuzzing and the thread-safety analysis (CI runs these after `make test`).
SAN_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	TSAN_OPTIONS=suppressions=$(CURDIR)/tests/tsan.supp:halt_on_error=1:detect_deadlocks=0
# TSan: data races on. Its lock-order (deadlock) detector is off: DuckDB
# (not instrumented) unlocks some mutexes on another thread than the one that
# locked them, so a long-lived engine thread's held-lock set overflows the
# detector's 64 slots ("CHECK failed: sanitizer_deadlock_detector.h:67" inside
# duckdb::PhysicalBatchCopyToFile), at random. Lock discipline in fanout's own
# code is checked by `make thread-safety` instead.
check: thread-safety asan tsan fuzz

# The MPI tests (label mpi: mpirun, Slurm, network namespaces) run in
# `make test` only: under ASan every rank would be an instrumented mpirun child.
asan: bootstrap
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFANOUT_SANITIZE=address,undefined >/dev/null
	@cmake --build build-asan -j $(JOBS)
	cd build-asan && $(SAN_ENV) ctest --output-on-failure -j $(JOBS) -LE 'bench|install|mpi'

# The concurrency-heavy tests under ThreadSanitizer.
TSAN_FILTER ?= Scheduler.*:ConcurrencyTest.*:EngineThreads*:Stress*:GroupCommitTest.*:CppFunctionTest.*:CppTransformTest.*:ParallelForTest.*:S3CliTest.Planning*:S3StoreTest.AMarker*
tsan: bootstrap
	@cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFANOUT_SANITIZE=thread >/dev/null
	@cmake --build build-tsan -j $(JOBS) --target fanout_tests fanout
	$(SAN_ENV) build-tsan/fanout_tests --gtest_filter='$(TSAN_FILTER)'

# clang's thread-safety analysis: every GUARDED_BY field touched only with its
# mutex held (src/thread_annotations.h, src/mutex.h). Compiles only; any
# warning fails the build.
thread-safety: bootstrap
	@CXX=clang++ cmake -S . -B build-tsa -DCMAKE_BUILD_TYPE=Debug -DFANOUT_THREAD_SAFETY=ON >/dev/null
	@cmake --build build-tsa -j $(JOBS) --target fanout_lib fanout fanout_faulty

# libFuzzer on the job-file parser and on the engine's result reader (every
# DuckDB type), each for FUZZ_SECONDS.
FUZZ_SECONDS ?= 60
FUZZ_FLAGS = -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -artifact_prefix=build-fuzz/
fuzz: bootstrap
	@CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFANOUT_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target spec_fuzzer value_fuzzer
	@rm -rf build-fuzz/corpus build-fuzz/value_corpus && mkdir -p build-fuzz/corpus build-fuzz/value_corpus
	build-fuzz/spec_fuzzer $(FUZZ_FLAGS) build-fuzz/corpus fuzz/corpus
	$(SAN_ENV) build-fuzz/value_fuzzer $(FUZZ_FLAGS) build-fuzz/value_corpus fuzz/value_corpus

bench: build
	bench/run --size small

clean:
	rm -rf $(BUILD)
