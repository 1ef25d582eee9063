# SPDX-License-Identifier: MIT
# Reliability: the model-based scheduler test, fuzzing, valgrind, and the
# coroutine-body checker.  Included by the top Makefile.
#
## check-model    a bounded model-based run of the scheduler per core configuration
## model-bins     build the model-based test per core configuration without running it
## model          a long model run (MODEL_BUDGET operations per configuration)
## fuzz           each libFuzzer target for FUZZ_TIME seconds (needs `make deps-fuzz`)
## fuzz-bins      build the libFuzzer targets without running them
## deps-fuzz      install what fuzzing needs (clang, libclang-rt-dev; Debian)
## valgrind       every core suite and a model run under memcheck (needs `make deps-valgrind`)
## deps-valgrind  install valgrind (Debian)
## check-lint     tools/async-lint on its own tests and on the tree
## lint           tools/async-lint on your coroutine files: make lint FILES='app/*.c' [LINT_BACKEND=labels]
## check-known    the core bugs' reproducers (test/model/known): fixed ones must stay fixed
## known-bugs     the same, reporting only
## check-cmdline  the examples reject every value they cannot honour (in `make check`)
## check-tsan     SANITIZE=thread: the suites where threads run (CI: .ci/steps/55-tsan.sh)
## mutate         mutation testing of async.h's implementation (MUTATE_SAMPLE=0: every mutant, over an hour)
## coverage       `make check` under gcov: COVERAGE lines for async.h and src/*.c (needs `make deps-coverage`)
## deps-coverage  install lcov (Debian)
#
#   make check-model   a bounded model run per core configuration (part of
#                      `make check`)
#   make model         a long model run: MODEL_BUDGET operations per
#                      configuration (default 20,000,000)
#   make fuzz          each libFuzzer target for FUZZ_TIME seconds (60)
#   make valgrind      every core suite and a model run under memcheck:
#                      fails on any error or leak
#   make check-lint    tools/async-lint on its own tests and on the tree
#   make lint FILES='app/*.c' [LINT_BACKEND=labels]
#                      tools/async-lint on your own files (default: the
#                      repository's examples and runtime): a local used
#                      across an await, an await in your own switch, a
#                      stray case label, a plain return from a body
#   make check-cmdline the examples reject the values they cannot honour
#                      (part of `make check`)
#   make check-tsan    SANITIZE=thread: every suite where threads run
#   make mutate        mutation testing of async.h's implementation
#                      (tools/mutate): MUTATION killed=K survived=S
#                      equivalent=E; MUTATE_SAMPLE=0 for every mutant
#   make coverage      `make check` built with gcov in $(COV_O); prints
#                      COVERAGE file=... lines=... branches=... for async.h
#                      and each src/*.c (tools/coverage, over lcov);
#                      COV_HTML=DIR also writes an annotated HTML report,
#                      COV_UNCOVERED=1 lists every line and branch not run

MODEL_SRCS := $(wildcard test/model/*.c)
MODEL_HDRS := $(wildcard test/model/*.h) async.h
# `make check`: quick (a few seconds per configuration).
MODEL_CHECK_ARGS ?= --seed 1 --budget 1000000 --ops 400
MODEL_BUDGET ?= 20000000
MODEL_ARGS ?= --seed 100000 --budget $(MODEL_BUDGET) --ops 400

.PHONY: check-model model model-bins fuzz fuzz-bins valgrind check-lint lint deps-fuzz deps-valgrind

define model_rules
$(O)/model/$(1)/model: $(MODEL_SRCS) $(MODEL_HDRS) | $(NEED_CC)
	$$(call say,LD,$$@)
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(filter-out -MMD -MP,$$(BASE_CFLAGS)) $$(LC_FLAGS_$(1)) $$(CFLAGS) \
	    -DMODEL_CONFIG='"$(1)"' -Itest/model $$(MODEL_SRCS) -o $$@ $$(LDFLAGS) $$(LDLIBS)
endef
$(foreach b,$(CORE_CONFIGS),$(eval $(call model_rules,$(b))))
MODEL_BINS := $(foreach b,$(CORE_CONFIGS),$(O)/model/$(b)/model)

model-bins: $(MODEL_BINS)

check: check-model check-known
check-model: $(MODEL_BINS) | $(NEED_PY)
	$(Q)tools/model-mutations --stale
	@for m in $(MODEL_BINS); do \
	  $(TEST_WRAPPER) $$m $(MODEL_CHECK_ARGS) || exit 1; \
	done

model: $(MODEL_BINS)
	@for m in $(MODEL_BINS); do \
	  $$m $(MODEL_ARGS) || exit 1; \
	done

# ---- fuzzing: clang libFuzzer with AddressSanitizer and UBSan ----
# Targets are fuzz/fuzz_NAME.c; each has a seed corpus in fuzz/corpus/NAME
# (read only: new inputs go to $(O)/fuzz/corpus-NAME).  A crash leaves its
# input in $(O)/fuzz/ (crash-*); replay: $(O)/fuzz/fuzz_NAME FILE.
FUZZ_CC ?= clang
FUZZ_TIME ?= 60
FUZZ_TARGETS := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_CFLAGS = -std=c99 $(WARN) -g -O1 -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=all -I. -Itest/model
MODEL_LIB_SRCS := $(filter-out test/model/main.c,$(MODEL_SRCS))
FUZZ_SRCS_sched := $(MODEL_LIB_SRCS)
FUZZ_BINS := $(addprefix $(O)/fuzz/fuzz_,$(FUZZ_TARGETS))
# Only `make deps-fuzz` installs them; the fuzz targets probe (a link
# with -fsanitize=fuzzer needs clang and its runtime).
FUZZ_PKGS := clang libclang-rt-dev
deps-fuzz:
	$(Q)tools/deps $(FUZZ_PKGS)
PROBE_CMD_fuzz = printf 'int LLVMFuzzerTestOneInput(const char *d, long n) { (void)d; return (int)n * 0; }\n' | \
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -x c - -o /dev/null
PROBE_WHAT_fuzz = libFuzzer ($(FUZZ_CC) -fsanitize=fuzzer)
PROBE_PKG_fuzz = clang and libclang-rt-dev
PROBE_DEPS_fuzz = deps-fuzz
NEED_FUZZ := $(PROBE)/fuzz

$(O)/fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_input.h $(MODEL_HDRS) $(MODEL_SRCS) | $(NEED_FUZZ)
	$(call say,FUZZCC,$@)
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $< $(FUZZ_SRCS_$*) -o $@

fuzz-bins: $(FUZZ_BINS)

# Each target runs FUZZ_TIME seconds; prints executions per second and
# coverage (libFuzzer's cov: edges, ft: features); fails on any crash.
fuzz: $(FUZZ_BINS)
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(O)/fuzz/corpus-$$t; \
	  echo "  FUZZ     $$t for $(FUZZ_TIME) s"; \
	  (cd $(O)/fuzz && ./fuzz_$$t -max_total_time=$(FUZZ_TIME) -timeout=10 -max_len=4096 \
	     -print_final_stats=1 corpus-$$t $(CURDIR)/fuzz/corpus/$$t > fuzz-$$t.log 2>&1); \
	  rc=$$?; \
	  grep -E '^#[0-9]+[[:space:]]+DONE' $(O)/fuzz/fuzz-$$t.log | tail -1 | sed 's/^/  /'; \
	  grep -E 'stat::(number_of_executed_units|average_exec_per_sec)' $(O)/fuzz/fuzz-$$t.log | sed 's/^/  /'; \
	  if [ $$rc -ne 0 ]; then tail -60 $(O)/fuzz/fuzz-$$t.log; echo "fuzz: $$t crashed"; exit 1; fi; \
	done

# ---- valgrind memcheck over every core suite and a model run ----
VALGRIND := valgrind -q --error-exitcode=9 --leak-check=full --show-leak-kinds=all \
    --suppressions=$(CURDIR)/tools/valgrind.supp \
    --errors-for-leak-kinds=all
PROBE_CMD_valgrind = valgrind --version
PROBE_WHAT_valgrind = valgrind
PROBE_PKG_valgrind = valgrind
PROBE_DEPS_valgrind = deps-valgrind
deps-valgrind:
	$(Q)tools/deps valgrind
valgrind: $(CORE_TESTS) $(MODEL_BINS) | $(PROBE)/valgrind
	$(Q)$(MAKE) --no-print-directory check-core TEST_WRAPPER="$(VALGRIND)"
	$(Q)$(MAKE) --no-print-directory check-model TEST_WRAPPER="$(VALGRIND)" \
	    MODEL_CHECK_ARGS="--seed 7 --budget 500000 --ops 400"

# ---- tools/async-lint: the protothread pitfalls, and its own test ----
check: check-lint
check-lint: | $(NEED_PY)
	@test/lint/run

FILES ?= examples/*.c src/*.c
LINT_BACKEND ?= switch
lint: | $(NEED_PY)
	$(Q)tools/async-lint --backend $(LINT_BACKEND) $(FILES) && echo '  LINT     clean:' $(FILES)

# ---- the core bugs' standalone reproducers (test/model/known/) ----
# Each exits 0 once its bug is fixed.  KNOWN_OPEN lists those still open
# (their bug is left out of the model run: known_bugs in test/model/main.c);
# every other one is a regression test: `make check-known` fails if it
# fails.  `make known-bugs` only reports.
KNOWN_SRCS := $(wildcard test/model/known/*.c)
KNOWN_OPEN :=
.PHONY: known-bugs check-known
known-bugs check-known: | $(NEED_CC)
	@mkdir -p $(O)/known
	@bad=0; for s in $(KNOWN_SRCS); do \
	  n=$$(basename $$s .c); b=$(O)/known/$$n; \
	  $(CC) -std=c99 $(WARN) -g -I. $(if $(SANITIZE),-fsanitize=$(SANITIZE)) $$s -o $$b || exit 1; \
	  for arg in "" group; do \
	    case "$$arg" in group) grep -q 'argc > 1' $$s || continue;; esac; \
	    if $$b $$arg > $$b.log 2>&1; then st=fixed; \
	    else case " $(KNOWN_OPEN) " in *" $$n "*) st=open;; *) st=REGRESSED; bad=1;; esac; fi; \
	    printf '  %-9s %s %s\n' "$$st" "$$s" "$$arg"; \
	  done; \
	done; \
	if [ "$@" = check-known ] && [ $$bad -ne 0 ]; then echo "check-known: a fixed core bug is back"; exit 1; fi

# ---- ThreadSanitizer where threads run (CI: .ci/steps/55-tsan.sh) ----
# test_post (posts and notifications from other threads) in every core
# configuration, then the io suites and fetch (the offload pool, the
# resolver on it, posts into the libev driver) under both backends.
# Any report fails: halt_on_error.
THREAD_SUITES := test_post
TSAN_CORE := $(foreach b,$(CORE_CONFIGS),$(addprefix $(O)/test/$(b)/,$(THREAD_SUITES)))
.PHONY: check-tsan
check-tsan: $(TSAN_CORE)
	@case "$(SANITIZE)" in *thread*) ;; *) echo "check-tsan: use SANITIZE=thread (and its own O=)"; exit 2;; esac
	@for t in $(TSAN_CORE); do \
	  if TSAN_OPTIONS="halt_on_error=1 $(TSAN_OPTIONS)" CMOCKA_MESSAGE_OUTPUT=stdout $$t > $$t.log 2>&1; \
	  then printf '  PASS     %s (ThreadSanitizer)\n' "$$t"; \
	  else printf '  FAIL     %s\n' "$$t"; cat $$t.log; exit 1; fi; \
	done
	$(Q)TSAN_OPTIONS="halt_on_error=1 $(TSAN_OPTIONS)" $(MAKE) --no-print-directory check-io

# ---- the examples' command lines (test/io/cmdline.sh) ----
.PHONY: check-cmdline
check: check-cmdline
check-cmdline: $(O)/examples/fetch $(O)/examples/echo_server $(O)/examples/echo_client | $(NEED_PY)
	$(Q)test/io/cmdline.sh $(O)

# ---- mutation testing of async.h's implementation (tools/mutate) ----
# Mutants are generated from the code (tools/mutate's opening comment);
# each is built into the core suites and the model, per configuration.
# Bounded: MUTATE_SAMPLE mutants drawn with MUTATE_SEED, each operator in
# proportion (0: all of them, over an hour at MUTATE_JOBS=2 on two
# cores); niced, since it is CPU-heavy.  Fails below 95 % killed.
MUTATE_SAMPLE ?= 250
MUTATE_SEED ?= 1
MUTATE_JOBS ?= 2
.PHONY: mutate
mutate: | $(NEED_CMOCKA) $(NEED_PY)
	$(Q)nice -n 10 tools/mutate --sample $(MUTATE_SAMPLE) --seed $(MUTATE_SEED) \
	    --jobs $(MUTATE_JOBS) --build $(O) --report $(O)/mutate-report.json

# ---- coverage: what `make check` runs, built with gcov ----
# Everything the check compiles (suites, models, the known-bug
# reproducers, the runtime, the examples fetch runs) gets --coverage
# through CC/CXX, at -O0 so that lines and branches map to the source.
# Old counters are removed first: the figures are of this run only.
# COV_GOALS: the goals of issue 15; the report marks a file below them.
COV_O ?= $(O)/coverage
# Atomic counter updates: the threaded suites (posts, offload, resolver)
# would otherwise lose increments and gcov would derive negative counts.
COV_FLAGS := --coverage -fprofile-update=atomic
COV_GOALS ?= --min async.h=99/95 --min 'src/*.c=95/85'
# What runs: every part of `make check` (read from make's own database, so
# new parts join by themselves) but COV_SKIP: check-docs runs shell lines
# of the documents that link libasync.a with a plain `cc`, which cannot
# link instrumented objects (no libgcov).  COV_TARGETS=... picks a
# narrower list, quicker while writing tests.
COV_SKIP ?= check-docs
COV_TARGETS ?= $$($(MAKE) -pnq check 2>/dev/null | sed -n 's/^check: *\([a-z].*\)/\1/p' | \
    head -1 | tr ' ' '\n' | grep -vxF -e "$(subst $(space),"$(space)-e ",$(COV_SKIP))" | tr '\n' ' ')
.PHONY: coverage deps-coverage
# Only `make deps-coverage` installs lcov; `make coverage` probes for it.
deps-coverage:
	$(Q)tools/deps lcov
PROBE_CMD_lcov = lcov --version
PROBE_WHAT_lcov = lcov
PROBE_PKG_lcov = lcov
PROBE_DEPS_lcov = deps-coverage
coverage: | $(NEED_CC) $(NEED_PY) $(PROBE)/lcov
	$(Q)if [ "$$(cat $(COV_O)/.cov-flags 2>/dev/null)" != "$(CC) $(COV_FLAGS)" ]; then \
	    rm -rf $(COV_O); mkdir -p $(COV_O); echo "$(CC) $(COV_FLAGS)" > $(COV_O)/.cov-flags; fi
	$(Q)find $(COV_O) -name '*.gcda' -delete
	@# The compilers, as scripts: one word each (CMake, in check-install,
	@# takes CC as a program, not a command line).  Written on the line
	@# that runs make, which runs under `make -n` too: a dry run's inner
	@# make probes them.
	$(Q)mkdir -p $(COV_O) && \
	  printf '#!/bin/sh\nexec %s %s "$$@"\n' "$(CC)" "$(COV_FLAGS)" > $(COV_O)/cov-cc && \
	  printf '#!/bin/sh\nexec %s %s "$$@"\n' "$(CXX)" "$(COV_FLAGS)" > $(COV_O)/cov-cxx && \
	  chmod +x $(COV_O)/cov-cc $(COV_O)/cov-cxx && \
	  $(MAKE) --no-print-directory O=$(COV_O) CC="$(abspath $(COV_O))/cov-cc" \
	    CXX="$(abspath $(COV_O))/cov-cxx" OPT="-O0 -g" $(COV_TARGETS)
	@rm -f a-*.gcno # test/lint/run's syntax-only compiles leave notes here
	$(Q)tools/coverage $(COV_O) $(COV_GOALS) $(if $(COV_HTML),--html $(COV_HTML)) \
	    $(if $(COV_UNCOVERED),--uncovered) || \
	    { rc=$$?; [ $$rc -eq 1 ] && echo "coverage: below the goals (marked above)"; exit $$rc; }
