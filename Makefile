# streamrec - one Makefile for the whole tree.
#
#   make            build build/streamrec
#   make demo       install what is missing, build, run the main job end to end
#                   (Kafka in, Redis out); make demo-replay: the same from files
#   make test       unit + end-to-end tests (Check)
#   make test-asan  the unit tests under AddressSanitizer + UBSan
#   make fuzz       every libFuzzer target for FUZZ_SECONDS (default 60) each;
#                   make test-fuzz: 30 s each, fails on any crash
#   make bench      performance table, writes bench/results.json and
#                   bench/recovery.json (kill -9 -> first event applied)
#   make bench-e2e  broker + daemon + Redis table, writes bench/e2e.json
#   make format / format-check / clean
#
# Sources are found by folder: every .c in a module folder goes into the
# library; every tests/unit/*.c defining `Suite *NAME_suite(void)` joins the
# one Check runner.

CC      ?= cc
BUILD   ?= build
PKGS    := rdkafka avro-c hiredis openblas inih jansson zlib libxxhash
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) check 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I. $(PKG_CFLAGS) -MMD -MP
LDLIBS  += $(PKG_LIBS) -lpthread -lm

MODULES := core ingest features learner kernels serve app
LIB_SRC := $(filter-out app/main.c,$(foreach m,$(MODULES),$(wildcard $(m)/*.c)))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB     := $(BUILD)/libstreamrec.a
BIN     := $(BUILD)/streamrec

TEST_SRC := $(wildcard tests/unit/*.c)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
TEST_BIN := $(BUILD)/tests/unit_tests
BENCH_BIN := $(BUILD)/bench/bench
PROBE_BIN := $(BUILD)/bench/probe

DEPS_STAMP := $(BUILD)/.deps-ok

.PHONY: all deps test test-unit test-e2e test-crash test-asan fuzz test-fuzz fuzz-build fuzz-corpus bench bench-e2e demo demo-replay format format-check clean

all: $(BIN)

# Installs missing Debian packages once per build tree (scripts/deps.sh is idempotent).
$(DEPS_STAMP): scripts/deps.sh
	@mkdir -p $(BUILD)
	@scripts/deps.sh
	@touch $@

deps: $(DEPS_STAMP)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC  $<"
	@$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/app/main.o $(LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# The Check runner: one generated main that adds every suite.
$(BUILD)/tests/runner.c: $(TEST_SRC) Makefile
	@mkdir -p $(dir $@)
	@{ echo '#include <check.h>'; echo '#include <stdlib.h>'; \
	   suites=$$(sed -n 's/^Suite \*\([a-z0-9_]*_suite\)(void)$$/\1/p' $(TEST_SRC)); \
	   for s in $$suites; do echo "Suite *$$s(void);"; done; \
	   echo 'int main(void) {'; \
	   echo '    SRunner *sr = srunner_create(NULL);'; \
	   for s in $$suites; do echo "    srunner_add_suite(sr, $$s());"; done; \
	   echo '    srunner_run_all(sr, CK_NORMAL);'; \
	   echo '    int failed = srunner_ntests_failed(sr);'; \
	   echo '    srunner_free(sr);'; \
	   echo '    return failed ? EXIT_FAILURE : EXIT_SUCCESS;'; \
	   echo '}'; } > $@

$(TEST_BIN): $(BUILD)/tests/runner.o $(TEST_OBJ) $(LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS) $(CHECK_LIBS)

$(BENCH_BIN): $(BUILD)/bench/bench.o $(LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(PROBE_BIN): $(BUILD)/bench/probe.o
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

test: $(DEPS_STAMP)
	@$(MAKE) --no-print-directory test-unit test-e2e test-fuzz

test-unit: $(TEST_BIN) $(BIN)
	SR_DATA=$(CURDIR)/../shared/data $(TEST_BIN)

test-e2e: $(BIN)
	@for t in tests/e2e/*.sh; do \
	    echo "== $$t"; SR_BIN=$(CURDIR)/$(BIN) SR_DATA=$(CURDIR)/../shared/data sh $$t || exit 1; \
	done

# The long crash test: 20 kill -9 with one partition (counts exact, model
# bit-identical to an uninterrupted run), then 20 with four (counts exact).
# tests/e2e/crash.sh's short variant (5 kills) is part of test-e2e.
test-crash: $(BIN)
	SR_BIN=$(CURDIR)/$(BIN) CRASH_KILLS=20 CRASH_RATE=1500 sh tests/e2e/crash.sh
	SR_BIN=$(CURDIR)/$(BIN) CRASH_KILLS=20 CRASH_RATE=1500 CRASH_PARTITIONS=4 sh tests/e2e/crash.sh

# ASan + UBSan build of the library and the unit tests, in its own tree.
test-asan: $(DEPS_STAMP)
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 \
	    EXTRA_SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    build-asan/tests/unit_tests
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 CK_FORK=no \
	    SR_DATA=$(CURDIR)/../shared/data build-asan/tests/unit_tests

CFLAGS  += $(EXTRA_SAN)
LDFLAGS += $(EXTRA_SAN)

# libFuzzer targets (tests/fuzz/*.c): clang, the library rebuilt in its own
# tree with -fsanitize=fuzzer-no-link plus ASan/UBSan, each target linked
# with -fsanitize=fuzzer. Seeds are tests/fuzz/corpus/<name>/ (read only);
# new corpus entries and crash artifacts go to build/fuzz/.
FUZZ_BUILD   := build-fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_NAMES   := $(patsubst tests/fuzz/%.c,%,$(filter-out tests/fuzz/mkcorpus.c,$(wildcard tests/fuzz/*.c)))
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz/%)
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   ?= -print_final_stats=1 -timeout=10 -rss_limit_mb=2048

$(FUZZ_BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz_common.h $(FUZZ_BUILD)/libstreamrec.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_BUILD)/libstreamrec.a $(LDFLAGS) $(LDLIBS)

fuzz-build: $(DEPS_STAMP)
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang OPT=-O1 \
	    EXTRA_SAN="-fsanitize=fuzzer-no-link $(FUZZ_SAN)" $(FUZZ_BINS)

# Runs every target in turn; stops at the first crash (artifact in build/fuzz/).
fuzz: fuzz-build
	@for t in $(FUZZ_NAMES); do \
	    mkdir -p $(BUILD)/fuzz/corpus/$$t $(BUILD)/fuzz/artifacts; \
	    echo "== fuzz $$t ($(FUZZ_SECONDS) s)"; \
	    dict=; [ -f tests/fuzz/$$t.dict ] && dict=-dict=tests/fuzz/$$t.dict; \
	    LSAN_OPTIONS=suppressions=$(CURDIR)/tests/fuzz/lsan.supp \
	    $(FUZZ_BUILD)/fuzz/$$t $(FUZZ_FLAGS) $$dict -max_total_time=$(FUZZ_SECONDS) \
	        -artifact_prefix=$(BUILD)/fuzz/artifacts/$$t- \
	        $(BUILD)/fuzz/corpus/$$t tests/fuzz/corpus/$$t 2>$(BUILD)/fuzz/$$t.log; \
	    rc=$$?; grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done |==[0-9]+==ERROR|SUMMARY)' $(BUILD)/fuzz/$$t.log; \
	    if [ $$rc -ne 0 ]; then echo "fuzz $$t: FAILED (exit $$rc), see $(BUILD)/fuzz/$$t.log"; tail -40 $(BUILD)/fuzz/$$t.log; exit 1; fi; \
	done

test-fuzz:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=30

# Regenerates the seed corpora (deterministic) with tests/fuzz/mkcorpus.c.
fuzz-corpus: $(LIB)
	@mkdir -p $(BUILD)/fuzz
	$(CC) $(CFLAGS) -o $(BUILD)/fuzz/mkcorpus tests/fuzz/mkcorpus.c $(LIB) $(LDFLAGS) $(LDLIBS)
	$(BUILD)/fuzz/mkcorpus tests/fuzz/corpus

bench: $(DEPS_STAMP) $(BENCH_BIN) $(BIN)
	@mkdir -p bench
	SR_DATA=$(CURDIR)/../shared/data $(BENCH_BIN) --out bench/results.json
	SR_BIN=$(CURDIR)/$(BIN) scripts/bench-recovery.sh bench/recovery.json

# The daemon end to end: dev broker, throwaway redis-server, freshness probe.
bench-e2e: $(DEPS_STAMP) $(PROBE_BIN) $(BIN)
	@mkdir -p bench
	SR_BIN=$(CURDIR)/$(BIN) SR_PROBE=$(CURDIR)/$(PROBE_BIN) scripts/bench-e2e.sh bench/e2e.json

# The main job end to end: dev broker, throwaway redis-server, produce while
# `streamrec run` consumes, then throughput, freshness, accuracy, recs.
demo: $(DEPS_STAMP) $(BIN)
	@scripts/demo-stream.sh $(BIN)

# The same learning code from files, with the prequential report.
demo-replay: $(DEPS_STAMP) $(BIN)
	@scripts/demo-replay.sh $(BIN)

FORMAT_SRC = $(shell git ls-files '*.c' '*.h' 2>/dev/null)

format:
	clang-format -i $(FORMAT_SRC)

format-check:
	clang-format --dry-run -Werror $(FORMAT_SRC)

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
