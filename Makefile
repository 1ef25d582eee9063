# SPDX-License-Identifier: MIT
# async.h - GNU Make build.  `make help` lists every public target;
# docs/install.md describes the installed layout, pkg-config, CMake, the
# ABI guard and `make lib ASYNC_CONFIG=...`.
#
# Nothing here installs packages except `make deps` (which `make check`
# and `make demo` call first).  A missing dependency stops the build with
# one line naming its Debian package.
#
# Variables: O=build dir (relative or absolute), V=1 verbose, WERROR=1
# (warnings are errors; `make check` and CI set it), AUTO_DEPS=0 (`make
# check` and `make demo` do not run `make deps`), CC, CXX, CPPFLAGS,
# CFLAGS, CXXFLAGS, LDFLAGS, LDLIBS, SANITIZE=address,undefined, CROSS_COMPILE=
# arm-none-eabi- (core only), ASYNC_CONFIG='-DASYNC_CONF_...' (the
# runtime library's configuration), PREFIX=/usr/local, LIBDIR=$(PREFIX)/lib,
# INCLUDEDIR=$(PREFIX)/include, DESTDIR.  Further targets come from
# mk/*.mk (libev layer, install, firmware, bench, fuzz).
#
# Each public target has one `## name  what it does` line: `make help`
# prints them.
## all            (plain `make`) the library and the examples
## help           this list

O ?= build
V ?= 0
WERROR ?= 0
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

# Recursive (=) on purpose: `make check` sets WERROR=1 for its own
# prerequisites (a target-specific value), so these must be expanded late.
WARN = -Wall -Wextra -Wpedantic $(if $(filter 1,$(WERROR)),-Werror)
OPT ?= -O2 -g
CPPFLAGS ?=
CFLAGS ?=
CXXFLAGS ?=
LDFLAGS ?=
LDLIBS ?=
BASE_CFLAGS = -std=c99 $(WARN) $(OPT) -I. $(CPPFLAGS) -MMD -MP
ifneq ($(SANITIZE),)
BASE_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif

# The version, read from async.h (the one place it is written): the
# shared library's file name and soname, the pkg-config and CMake
# versions all come from these.
async_version_part = $(shell sed -n 's/^.define ASYNC_VERSION_$(1)  *\([0-9][0-9]*\) *$$/\1/p' async.h)
VERSION_MAJOR := $(call async_version_part,MAJOR)
VERSION_MINOR := $(call async_version_part,MINOR)
VERSION_PATCH := $(call async_version_part,PATCH)
ifeq ($(and $(VERSION_MAJOR),$(VERSION_MINOR),$(VERSION_PATCH)),)
$(error cannot read ASYNC_VERSION_MAJOR/MINOR/PATCH from async.h)
endif
VERSION := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)

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
# see), `t16` (16-bit ticks: wrap-around every 65536 ticks) and `mcu`
# (a microcontroller's defaults on the host: the sorted timer list, no
# task list, no extra primitives; async_run leaves pending tasks; -Os,
# so the size-first coroutine macros, ASYNC__SMALL, run here too; and
# the interruption check of 32-bit bare metal, ASYNC__EXPIRED_FLAG 0).
CORE_CONFIGS := $(LC_BACKENDS) tiny list debug t16 mcu
LC_FLAGS_mcu := -DASYNC_CONF_LC=ASYNC_LC_SWITCH -DASYNC_CONF_WHEEL_LEVELS=0 \
	-DASYNC_CONF_TASK_LIST=0 -DASYNC_CONF_EXTRAS=0 -DASYNC__EXPIRED_FLAG=0 -Os
LC_FLAGS_t16 := -DASYNC_CONF_LC=ASYNC_LC_SWITCH -DASYNC_CONF_TICK_BITS=16
LC_FLAGS_tiny := -DASYNC_CONF_LC=ASYNC_LC_SWITCH -DASYNC_CONF_WHEEL_BITS=2 -DASYNC_CONF_WHEEL_LEVELS=3
LC_FLAGS_list := -DASYNC_CONF_LC=ASYNC_LC_LABELS -DASYNC_CONF_WHEEL_LEVELS=0
LC_FLAGS_debug := -DASYNC_CONF_LC=ASYNC_LC_LABELS -DASYNC_CONF_DEBUG=1

CMOCKA_LIBS := -lcmocka

.PHONY: all core check check-core check-cxx test-bins deps help FORCE

# With CROSS_COMPILE set, plain `make` builds only the core (the rest
# needs an OS; see .DEFAULT_GOAL at the end):
#   make CROSS_COMPILE=arm-none-eabi- CFLAGS='-mcpu=cortex-m0plus -mthumb'
# Fragments add theirs: mk/runtime.mk adds `all: lib examples`.
all:
FORCE:

help:
	@sed -n 's/^## *//p' Makefile $(sort $(wildcard mk/*.mk)) | \
	  while read -r name what; do printf '  make %-16s %s\n' "$$name" "$$what"; done

# ======================================================================
# Dependencies.  Only `make deps` installs (tools/deps: apt-get, as root
# or through sudo; quiet when everything is there).  `make check` and
# `make demo` run it first so they work on a bare Debian machine;
# everything else probes: each probe is a tiny compile, link or command
# run once per build directory (its stamp is $(PROBE)/NAME), and a
# missing dependency stops make with one line that names the package.
# ======================================================================
## deps           install what the build, `make check` and `make demo` need (Debian)
deps:
	$(Q)tools/deps
	$(Q)tools/deps nginx || echo "  (nginx could not be installed: the fetch test skips it)"
	$(Q)tools/deps wrk || echo "  (wrk could not be installed: the http test skips its load case)"

# AUTO_DEPS=0: `make check` and `make demo` do not run it either (a
# package build, whose build dependencies are already installed).
AUTO_DEPS ?= 1
ifneq ($(and $(filter 1,$(AUTO_DEPS)),$(filter check demo,$(MAKECMDGOALS))),)
PROBE_AFTER := deps
endif

PROBE := $(O)/.probe
HASH := \#
# probe_c: compile and link a program read from stdin, with the user's flags.
probe_c = $(CC) $(CPPFLAGS) $(CFLAGS) -x c - -o /dev/null $(LDFLAGS)
probe_prog = printf '$(1)\nint main(void) { $(2); return 0; }\n'

PROBE_CMD_cc = $(CC) --version
PROBE_WHAT_cc = the C compiler $(CC)
PROBE_PKG_cc = $(if $(findstring clang,$(CC)),clang,$(if $(CROSS_COMPILE),a $(CROSS_COMPILE)gcc toolchain,gcc))
PROBE_CMD_cxx = $(CXX) --version
PROBE_WHAT_cxx = the C++ compiler $(CXX)
PROBE_PKG_cxx = $(if $(findstring clang,$(CXX)),clang,g++)
PROBE_CMD_libev = $(call probe_prog,$(HASH)include <ev.h>,(void)ev_version_major()) | $(probe_c) -lev
PROBE_WHAT_libev = libev (ev.h and -lev)
PROBE_PKG_libev = libev-dev
PROBE_CMD_cmocka = $(call probe_prog,$(HASH)include <stdarg.h>\n$(HASH)include <stddef.h>\n$(HASH)include <setjmp.h>\n$(HASH)include <stdint.h>\n$(HASH)include <cmocka.h>,(void)_cmocka_run_group_tests) | $(probe_c) -lcmocka
PROBE_WHAT_cmocka = cmocka (cmocka.h and -lcmocka)
PROBE_PKG_cmocka = libcmocka-dev
PROBE_CMD_http_parser = $(call probe_prog,$(HASH)include <http_parser.h>,(void)http_parser_version()) | $(probe_c) -lhttp_parser
PROBE_WHAT_http_parser = http-parser (http_parser.h and -lhttp_parser)
PROBE_PKG_http_parser = libhttp-parser-dev
PROBE_CMD_sqlite3 = $(call probe_prog,$(HASH)include <sqlite3.h>,(void)sqlite3_libversion()) | $(probe_c) -lsqlite3
PROBE_WHAT_sqlite3 = SQLite (sqlite3.h and -lsqlite3)
PROBE_PKG_sqlite3 = libsqlite3-dev
PROBE_CMD_python3 = python3 -c pass
PROBE_WHAT_python3 = python3
PROBE_PKG_python3 = python3
PROBE_CMD_pkg-config = pkg-config --version
PROBE_WHAT_pkg-config = pkg-config
PROBE_PKG_pkg-config = pkg-config
PROBE_CMD_cmake = cmake --version
PROBE_WHAT_cmake = cmake
PROBE_PKG_cmake = cmake

# The probe stops make (a recipe-time $(error): one line, no cascade).
$(PROBE)/%: | $(PROBE_AFTER)
	$(if $(PROBE_CMD_$*),,$(error no probe named $*))
	$(if $(shell ($(PROBE_CMD_$*)) >/dev/null 2>&1 && echo ok),,$(error \
	  $(PROBE_WHAT_$*) is missing: install the Debian package $(PROBE_PKG_$*) \
	  (or run `make $(or $(PROBE_DEPS_$*),deps)`)))
	@mkdir -p $(@D) && touch $@

NEED_CC := $(PROBE)/cc
NEED_CXX := $(PROBE)/cxx
NEED_EV := $(PROBE)/cc $(PROBE)/libev
NEED_CMOCKA := $(PROBE)/cc $(PROBE)/cmocka
NEED_PY := $(PROBE)/python3

# The whole core compiled alone, freestanding, at -Os: what firmware links.
## core           async.h alone, freestanding at -Os (with CROSS_COMPILE: for that target)
core: $(O)/core/async.o
$(O)/core/async.o: async.h | $(NEED_CC)
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)printf '#define ASYNC_IMPLEMENTATION\n#include "async.h"\n' | \
	  $(CC) -x c -std=c99 $(WARN) -Os -ffreestanding -I$(CURDIR) $(CPPFLAGS) $(CFLAGS) -c - -o $@
	$(Q)$(CROSS_COMPILE)size $@

.SECONDARY:

# ---- core test suites: test/test_<module>.c, one binary per backend ----
# Suites needing an OS (threads) are also listed in HOST_ONLY_SUITES so the
# on-target run (mk/firmware.mk) can leave them out.
# test_nullargs is generated from async.h by tools/nullargs: every public
# function given NULL in each pointer parameter (the checks it tests are
# off on bare metal: ASYNC_CONF_CHECKS=0 there).
CORE_SUITES := $(patsubst test/%.c,%,$(wildcard test/test_*.c)) test_nullargs
HOST_ONLY_SUITES := test_post test_nullargs
TEST_GEN := $(O)/gen
TEST_SUPPORT := test/impl.c test/testlib.c

define lc_rules
$(O)/test/$(1)/%.o: test/%.c async.h test/testlib.h | $(NEED_CMOCKA)
	$$(call say,CC,$$@)
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(BASE_CFLAGS) $$(LC_FLAGS_$(1)) $$(CFLAGS) -Itest -c $$< -o $$@

$(O)/test/$(1)/test_nullargs.o: $(TEST_GEN)/test_nullargs.c async.h test/testlib.h | $(NEED_CMOCKA)
	$$(call say,CC,$$@)
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(BASE_CFLAGS) $$(LC_FLAGS_$(1)) $$(CFLAGS) -Itest -c $$< -o $$@

$(O)/test/$(1)/test_%: $(O)/test/$(1)/test_%.o $(O)/test/$(1)/impl.o $(O)/test/$(1)/testlib.o
	$$(call say,LD,$$@)
	$$(Q)$$(CC) $$(LDFLAGS) $$^ -o $$@ $$(CMOCKA_LIBS) $$(LDLIBS) -pthread

CORE_TESTS_$(1) := $$(addprefix $(O)/test/$(1)/,$(CORE_SUITES))
endef
$(foreach b,$(CORE_CONFIGS),$(eval $(call lc_rules,$(b))))

CORE_TESTS := $(foreach b,$(CORE_CONFIGS),$(CORE_TESTS_$(b)))

# A declaration tools/nullargs cannot read, or a type it has no value
# for, stops the build here (it names the function).
$(TEST_GEN)/test_nullargs.c: async.h tools/nullargs | $(NEED_PY)
	$(call say,GEN,$@)
	@mkdir -p $(@D)
	$(Q)tools/nullargs core > $@.tmp && mv $@.tmp $@
## test-bins      build the core test suites (every configuration) without running them
test-bins: $(CORE_TESTS)

# Runs every suite; prints a summary line per binary and fails at the end
# if any failed, so one failure does not hide the others.  Binaries are
# run by their path ($(O)/...: it has a slash, relative or absolute).
## check-core     the core suites under every core configuration
check-core: $(CORE_TESTS)
	@fail=0; total=0; \
	for t in $(CORE_TESTS); do \
	  total=$$((total+1)); \
	  if CMOCKA_MESSAGE_OUTPUT=stdout $(TEST_WRAPPER) $$t > $$t.log 2>&1; then \
	    printf '  PASS     %s (%s)\n' "$$t" "$$(grep -c '^\[       OK \]' $$t.log) tests"; \
	  else \
	    fail=$$((fail+1)); printf '  FAIL     %s\n' "$$t"; cat $$t.log; \
	  fi; \
	done; \
	echo "core suites: $$((total-fail))/$$total passed"; \
	test $$fail -eq 0

# async.h from C++ (macros, a task, a timeout, a queue, a shield, the
# one-declaration form, the extras), both backends, C++11 and C++20.
CXX_SMOKE := $(foreach b,$(LC_BACKENDS),$(O)/cxx/smoke-$(b) $(O)/cxx/smoke20-$(b))
$(O)/cxx/smoke-%: test/cxx/smoke.cpp async.h | $(NEED_CXX)
	$(call say,CXX,$@)
	@mkdir -p $(@D)
	$(Q)$(CXX) -std=c++11 $(WARN) $(OPT) -I. $(CPPFLAGS) $(LC_FLAGS_$*) $(filter -fsanitize%,$(BASE_CFLAGS)) \
	  $(CXXFLAGS) $< -o $@ $(LDFLAGS)
$(O)/cxx/smoke20-%: test/cxx/smoke.cpp async.h | $(NEED_CXX)
	$(call say,CXX,$@)
	@mkdir -p $(@D)
	$(Q)$(CXX) -std=c++20 $(WARN) $(OPT) -I. $(CPPFLAGS) $(LC_FLAGS_$*) $(filter -fsanitize%,$(BASE_CFLAGS)) \
	  $(CXXFLAGS) $< -o $@ $(LDFLAGS)

## check-cxx      async.h from C++ under both continuation backends
check-cxx: $(CXX_SMOKE)
	@for t in $(CXX_SMOKE); do $(TEST_WRAPPER) $$t || exit 1; done

# The core's implementation built with clang too, under every core
# configuration, warnings as errors: the suites are built with $(CC), and
# a warning only clang gives (a size-first build's unused count, once)
# would otherwise reach a clang user's -Werror first.
CLANG ?= clang
PROBE_CMD_clang = $(CLANG) --version
PROBE_WHAT_clang = clang
PROBE_PKG_clang = clang
CLANG_CORE := $(foreach b,$(CORE_CONFIGS),$(O)/clang/core-$(b).o)
$(O)/clang/core-%.o: async.h | $(PROBE)/clang
	$(call say,CLANG,$@)
	@mkdir -p $(@D)
	$(Q)printf '#define ASYNC_IMPLEMENTATION\n#include "async.h"\n' | \
	  $(CLANG) -x c -std=c99 $(WARN) $(OPT) -I$(CURDIR) $(LC_FLAGS_$*) -c - -o $@
## check-clang    async.h's implementation built with clang, every core configuration, -Werror
.PHONY: check-clang
check-clang: $(CLANG_CORE)

# Fragments add their own: `check: check-<area>`.  Warnings are errors
# for everything `make check` builds (a plain `make` only warns).
## check          every test suite (installs missing packages first: make deps)
check: WERROR = 1
check: check-core check-cxx check-clang

## clean          remove the build directory (O=, default build)
clean:
	rm -rf $(O)

# Area fragments: src/ (libev layer), install, examples, firmware, bench, fuzz...
-include $(sort $(wildcard mk/*.mk))

# A cross build's default goal is the core alone, whatever the fragments
# add to `all` (their programs need the host OS).
ifneq ($(CROSS_COMPILE),)
.DEFAULT_GOAL := core
endif

-include $(shell find $(O) -name '*.d' 2>/dev/null)
