# Reliability: the model-based scheduler test, fuzzing, valgrind, and the
# coroutine-body checker.  Included by the top Makefile.
#
#   make check-model   a bounded model run per core configuration (part of
#                      `make check`)
#   make model         a long model run: MODEL_BUDGET operations per
#                      configuration (default 20,000,000)
#   make fuzz          each libFuzzer target for FUZZ_TIME seconds (60)
#   make valgrind      every core suite and a model run under memcheck:
#                      fails on any error or leak
#   make check-lint    tools/async-lint on its own tests and on the tree

MODEL_SRCS := $(wildcard test/model/*.c)
MODEL_HDRS := $(wildcard test/model/*.h) async.h
# `make check`: quick (a few seconds per configuration).
MODEL_CHECK_ARGS ?= --seed 1 --budget 1000000 --ops 400
MODEL_BUDGET ?= 20000000
MODEL_ARGS ?= --seed 100000 --budget $(MODEL_BUDGET) --ops 400

.PHONY: check-model model model-bins fuzz fuzz-bins valgrind check-lint

define model_rules
$(O)/model/$(1)/model: $(MODEL_SRCS) $(MODEL_HDRS) | $(DEPS_STAMP)
	$$(call say,LD,$$@)
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(filter-out -MMD -MP,$$(BASE_CFLAGS)) $$(LC_FLAGS_$(1)) $$(CFLAGS) \
	    -DMODEL_CONFIG='"$(1)"' -Itest/model $$(MODEL_SRCS) -o $$@ $$(LDFLAGS) $$(LDLIBS)
endef
$(foreach b,$(CORE_CONFIGS),$(eval $(call model_rules,$(b))))
MODEL_BINS := $(foreach b,$(CORE_CONFIGS),$(O)/model/$(b)/model)

model-bins: $(MODEL_BINS)
all: model-bins

check: check-model
check-model: $(MODEL_BINS)
	@for m in $(MODEL_BINS); do \
	  $(TEST_WRAPPER) ./$$m $(MODEL_CHECK_ARGS) || exit 1; \
	done

model: $(MODEL_BINS)
	@for m in $(MODEL_BINS); do \
	  ./$$m $(MODEL_ARGS) || exit 1; \
	done
