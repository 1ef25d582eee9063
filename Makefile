# SPDX-License-Identifier: MIT
# async.h - GNU Make build.
#
#   make              build the library, examples and tests (into $(O))
#   make check        run every test suite under both continuation backends
#   make demo         the guided tour (installs what is missing first)
#   make examples     build examples into $(O)/examples
#   make install      headers (async.h, async_ev.h, the virtual-clock port
#                     async_vclock.h), libasync, pkg-config file (PREFIX, DESTDIR)
#   make clean
#
# Variables: O=build dir, V=1 verbose, SANITIZE=address,undefined,
# CC=clang, CROSS_COMPILE=arm-none-eabi- (core only), PREFIX=/usr/local.
# Further targets come from mk/*.mk (libev layer, firmware, bench, fuzz).

O ?= build
V ?= 0
PREFIX ?= /usr/local
DESTDIR ?=
SANITIZE ?=
CROSS_COMPILE ?=

ifeq ($(origin CC),default)
CC := $(CROSS_COMPILE)gcc
endif
AR := $(CROSS_COMPILE)ar

ifeq ($(V),1)
Q :=
say = @:
else
Q := @
say = @printf '  %-8s %s\n' $(1) $(2);
endif

WARN := -Wall -Wextra -Wpedantic -Werror
OPT ?= -O2 -g
CFLAGS ?=
LDFLAGS ?=
LDLIBS ?=
BASE_CFLAGS := -std=c99 $(WARN) $(OPT) -I. -MMD -MP
ifneq ($(SANITIZE),)
BASE_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif

# Continuation backends every suite runs under.
LC_BACKENDS := switch labels
LC_FLAGS_switch := -DASYNC_CONF_LC=ASYNC_LC_SWITCH
LC_FLAGS_labels := -DASYNC_CONF_LC=ASYNC_LC_LABELS

# The core suites also run under `tiny`: a 64-tick timer wheel (2 bits x 3
# levels) so refiling far timers is exercised on the host.  Core only: the
# wheel size changes struct async_loop, so nothing linked with libasync
# may use it.  And under `list`: the sorted timer list (no wheel levels),
# the default on 32-bit targets.
# And under `debug` (ASYNC_CONF_DEBUG=1 changes no behaviour the suites
# see) and `t16` (16-bit ticks: wrap-around every 65536 ticks).
CORE_CONFIGS := $(LC_BACKENDS) tiny list debug t16
LC_FLAGS_t16 := -DASYNC_CONF_LC=ASYNC_LC_SWITCH -DASYNC_CONF_TICK_BITS=16
LC_FLAGS_tiny := -DASYNC_CONF_LC=ASYNC_LC_SWITCH -DASYNC_CONF_WHEEL_BITS=2 -DASYNC_CONF_WHEEL_LEVELS=3
LC_FLAGS_list := -DASYNC_CONF_LC=ASYNC_LC_LABELS -DASYNC_CONF_WHEEL_LEVELS=0
LC_FLAGS_debug := -DASYNC_CONF_LC=ASYNC_LC_LABELS -DASYNC_CONF_DEBUG=1

DEPS_STAMP := $(O)/.deps-ok
CMOCKA_LIBS := -lcmocka

.PHONY: all core check check-core check-cxx test-bins examples demo install install-core uninstall uninstall-core clean deps help
# With CROSS_COMPILE set, plain `make` builds only the core (the tests
# need an OS; see .DEFAULT_GOAL at the end):
#   make CROSS_COMPILE=arm-none-eabi- CFLAGS='-mcpu=cortex-m0plus -mthumb'
all: test-bins

# The whole core compiled alone, freestanding, at -Os: what firmware links.
core: $(O)/core/async.o
$(O)/core/async.o: async.h
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)printf '#define ASYNC_IMPLEMENTATION\n#include "async.h"\n' | \
	  $(CC) -x c -std=c99 $(WARN) -Os -ffreestanding -I$(CURDIR) $(CFLAGS) -c - -o $@
	$(Q)$(CROSS_COMPILE)size $@

.SECONDARY:

help:
	@sed -n '2,14p' Makefile

# ---- dependencies: installed on demand by tools/deps ----
deps: $(DEPS_STAMP)
$(DEPS_STAMP): tools/deps
	$(Q)tools/deps
	@mkdir -p $(@D) && touch $@

# ---- core test suites: test/test_<module>.c, one binary per backend ----
# Suites needing an OS (threads) are also listed in HOST_ONLY_SUITES so the
# on-target run (mk/firmware.mk) can leave them out.
CORE_SUITES := $(patsubst test/%.c,%,$(wildcard test/test_*.c))
HOST_ONLY_SUITES := test_post
TEST_SUPPORT := test/impl.c test/testlib.c

define lc_rules
$(O)/test/$(1)/%.o: test/%.c async.h test/testlib.h | $(DEPS_STAMP)
	$$(call say,CC,$$@)
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(BASE_CFLAGS) $$(LC_FLAGS_$(1)) $$(CFLAGS) -Itest -c $$< -o $$@

$(O)/test/$(1)/test_%: $(O)/test/$(1)/test_%.o $(O)/test/$(1)/impl.o $(O)/test/$(1)/testlib.o
	$$(call say,LD,$$@)
	$$(Q)$$(CC) $$(LDFLAGS) $$^ -o $$@ $$(CMOCKA_LIBS) $$(LDLIBS) -lpthread

CORE_TESTS_$(1) := $$(addprefix $(O)/test/$(1)/,$(CORE_SUITES))
endef
$(foreach b,$(CORE_CONFIGS),$(eval $(call lc_rules,$(b))))

CORE_TESTS := $(foreach b,$(CORE_CONFIGS),$(CORE_TESTS_$(b)))
test-bins: $(CORE_TESTS)

# Runs every suite; prints a summary line per binary and fails at the end
# if any failed, so one failure does not hide the others.
check-core: $(CORE_TESTS)
	@fail=0; total=0; \
	for t in $(CORE_TESTS); do \
	  total=$$((total+1)); \
	  if CMOCKA_MESSAGE_OUTPUT=stdout $(TEST_WRAPPER) ./$$t > $$t.log 2>&1; then \
	    printf '  PASS     %s (%s)\n' "$$t" "$$(grep -c '^\[       OK \]' $$t.log) tests"; \
	  else \
	    fail=$$((fail+1)); printf '  FAIL     %s\n' "$$t"; cat $$t.log; \
	  fi; \
	done; \
	echo "core suites: $$((total-fail))/$$total passed"; \
	test $$fail -eq 0

# async.h from C++ (macros, a task, a timeout, a queue), both backends.
CXX_SMOKE := $(foreach b,$(LC_BACKENDS),$(O)/cxx/smoke-$(b))
$(O)/cxx/smoke-%: test/cxx/smoke.cpp async.h | $(DEPS_STAMP)
	$(call say,CXX,$@)
	@mkdir -p $(@D)
	$(Q)$(CXX) -std=c++11 $(WARN) $(OPT) -I. $(LC_FLAGS_$*) $(filter -fsanitize%,$(BASE_CFLAGS)) $< -o $@ $(LDFLAGS)

check-cxx: $(CXX_SMOKE)
	@for t in $(CXX_SMOKE); do $(TEST_WRAPPER) ./$$t || exit 1; done

# Fragments add their own: `check: check-<area>`.
check: check-core check-cxx

# ---- install (fragments add `install: install-<area>`) ----
install: install-core
install-core:
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 async.h $(DESTDIR)$(PREFIX)/include/async.h
	install -m 644 port/async_vclock.h $(DESTDIR)$(PREFIX)/include/async_vclock.h
	sed -e 's|@PREFIX@|$(PREFIX)|g' tools/async.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/async.pc

uninstall: uninstall-core
uninstall-core:
	rm -f $(DESTDIR)$(PREFIX)/include/async.h $(DESTDIR)$(PREFIX)/include/async_vclock.h \
	      $(DESTDIR)$(PREFIX)/lib/pkgconfig/async.pc

clean:
	rm -rf $(O)

# Area fragments: src/ (libev layer), examples, firmware, bench, fuzz...
-include $(sort $(wildcard mk/*.mk))

# A cross build's default goal is the core alone, whatever the fragments
# add to `all` (their programs need the host OS).
ifneq ($(CROSS_COMPILE),)
.DEFAULT_GOAL := core
endif

-include $(shell find $(O) -name '*.d' 2>/dev/null)
