# SPDX-License-Identifier: MIT
# mk/bench.mk - benchmarks (included by the top Makefile).  Not a test:
# nothing here is part of `make check`, and no timing is a pass/fail.
#
## bench          every benchmark: a table, and charts in the build directory's bench/ (~6 minutes; needs `make deps-bench`)
## bench-quick    every benchmark at small sizes, one run each (~1 minute): checks that they run
## bench-echo     the echo servers alone
## bench-bins     build the benchmarks without running them
## bench-sizeof   the sizeof() table's objects (host, and Cortex-M if arm-none-eabi-gcc is there)
## deps-bench     install what the benchmarks need (python3-uvloop, gnuplot-nox, valgrind, g++, wrk, nginx; Debian)
#
#   make bench        every benchmark (tools/bench/run.py): switch, spawn,
#                     memory, read_until, timers, store, channel, echo_c10,
#                     echo_c100, tls, http (httpd vs nginx and a libev floor,
#                     wrk at 50 and 1,000 connections, -j 2, callgrind per
#                     request), each beside its floor and its rivals (C++20
#                     coroutines, asyncio, uvloop, nginx); a table, one BENCH line
#                     each, PNG charts, callgrind profiles and the raw
#                     figures in $(O)/bench/; then tools/bench/tables.py
#                     rewrites docs/performance.md's generated tables from
#                     results.json.  Fails only if a benchmark cannot run or
#                     its check fails (echo bytes, wake order, lost messages).
#                     About 6 minutes on a 2-core machine.
#   make bench-quick  the same at small sizes, few repetitions (~1 minute):
#                     checks that everything builds, runs and verifies, and
#                     that the tables can be made (into $(O)/bench/)
#   make bench-echo   the echo servers alone (tools/bench/echo.py)
#   make bench BENCH_ONLY=tls
#                     TLS echo: echo_server --tls against tools/bench/tls_floor.c
#                     (raw OpenSSL + libev), 1 KiB ping-pong at 10
#                     connections, TLS 1.3 with TLS_AES_128_GCM_SHA256,
#                     and full handshakes per second
#
# Variables: BENCH_ONLY=switch,memory,...  (a subset), BENCH_ARGS (more
# run.py options, e.g. --no-pin), BENCH_PYTHON (the interpreter with
# uvloop: Debian's /usr/bin/python3), BENCH_CXX (the C++20 compiler of
# the coroutine rival: g++).

BENCH_PYTHON ?= /usr/bin/python3
# The C++20 coroutine rival is g++'s (10 or later: -fcoroutines).
BENCH_CXX ?= g++
BENCH_CXXFLAGS = -std=c++20 -fcoroutines $(WARN) $(OPT) -I. $(CPPFLAGS) -MMD -MP \
  $(filter -fsanitize% -fno-omit-frame-pointer,$(BASE_CFLAGS))
BENCH_ONLY ?=
BENCH_ARGS ?=
STORE_BINS := $(O)/bench/store_bench_list $(O)/bench/store_bench_wheel
BENCH_BINS := $(O)/bench/core_bench $(O)/bench/core_bench_nolist $(O)/bench/timers_bench $(O)/bench/io_bench \
	$(O)/bench/echo_floor $(O)/bench/tls_floor $(O)/bench/http_floor $(STORE_BINS)
# sizeof() of every public object, read back from symbol sizes: the host,
# and Cortex-M when the cross compiler is there.
BENCH_SIZEOF_TARGETS := cortex-m0plus cortex-m4
BENCH_SIZEOF_ARCH_cortex-m0plus := -mcpu=cortex-m0plus -mthumb -mfloat-abi=soft
BENCH_SIZEOF_ARCH_cortex-m4 := -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16

.PHONY: bench bench-quick bench-echo bench-bins bench-sizeof deps-bench

bench-bins: $(BENCH_BINS)

# Only `make deps-bench` installs them; the benchmarks probe.  Cortex-M
# sizes are best effort (no arm-none-eabi-gcc: no column).  The TLS
# benchmark's certificates come from the openssl CLI (tools/deps' base set).
BENCH_PKGS := python3 python3-uvloop gnuplot-nox valgrind g++ openssl wrk nginx
deps-bench:
	$(Q)tools/deps $(BENCH_PKGS)
	$(Q)tools/deps gcc-arm-none-eabi || echo "  (no arm-none-eabi-gcc: Cortex-M sizes skipped)"

PROBE_CMD_cxx20 = printf '$(HASH)include <coroutine>\nint main() { return !std::noop_coroutine(); }\n' | \
  $(BENCH_CXX) -std=c++20 -fcoroutines -x c++ - -o /dev/null
PROBE_WHAT_cxx20 = C++20 coroutines ($(BENCH_CXX) -std=c++20 -fcoroutines: g++ 10 or later)
PROBE_PKG_cxx20 = g++
PROBE_DEPS_cxx20 = deps-bench
PROBE_CMD_uvloop = $(BENCH_PYTHON) -c 'import uvloop'
PROBE_WHAT_uvloop = uvloop for $(BENCH_PYTHON)
PROBE_PKG_uvloop = python3-uvloop
PROBE_DEPS_uvloop = deps-bench
PROBE_CMD_gnuplot = gnuplot --version
PROBE_WHAT_gnuplot = gnuplot
PROBE_PKG_gnuplot = gnuplot-nox
PROBE_DEPS_gnuplot = deps-bench
NEED_BENCH := $(NEED_PY) $(PROBE)/uvloop $(PROBE)/gnuplot $(PROBE)/valgrind $(PROBE)/cxx20

# The floor for any libev echo server: raw libev callbacks.
$(O)/bench/echo_floor: tools/bench/echo_floor.c tools/bench/floor_server.h | $(NEED_EV)
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(BASE_CFLAGS) $(CFLAGS) $< -o $@ $(LDFLAGS) -lev

# The floor for a TLS echo server: raw OpenSSL + libev callbacks.
$(O)/bench/tls_floor: tools/bench/tls_floor.c tools/bench/floor_server.h | $(NEED_EV) $(PROBE)/openssl
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(BASE_CFLAGS) $(CFLAGS) $< -o $@ $(LDFLAGS) -lev -lssl -lcrypto

# The floor for the HTTP benchmark: raw libev callbacks and http-parser.
$(O)/bench/http_floor: tools/bench/http_floor.c tools/bench/floor_server.h | $(NEED_EV) $(PROBE)/http_parser
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(BASE_CFLAGS) $(CFLAGS) $< -o $@ $(LDFLAGS) -lev -lhttp_parser

# Linked as a user links the library: async.h's bodies come from
# libasync.a (their own translation unit), no LTO.  The C++20 rival is
# linked in, so that the three are measured alternately in one process.
$(O)/bench/core_bench.o: tools/bench/core_bench.c $(LIB_CONFIG) | $(NEED_CC)
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(BASE_CFLAGS) $(LIB_USER_CFLAGS) $(CFLAGS) -c $< -o $@

$(O)/bench/cpp20_rival.o: tools/bench/cpp20_rival.cpp | $(PROBE)/cxx20
	$(call say,CXX,$@)
	@mkdir -p $(@D)
	$(Q)$(BENCH_CXX) $(BENCH_CXXFLAGS) $(CXXFLAGS) -c $< -o $@

# (filter: a build directory from before the split has a core_bench.d
# that names the sources as prerequisites of the binary.)
$(O)/bench/core_bench: $(O)/bench/core_bench.o $(O)/bench/cpp20_rival.o $(O)/libasync.a
	$(call say,LD,$@)
	$(Q)$(BENCH_CXX) $(LDFLAGS) $(filter %.o %.a,$^) -o $@

# The same benchmarks without the task registry (ASYNC_CONF_TASK_LIST=0,
# the bare-metal default), for the memory figure's second line: async.h's
# bodies compiled into the binary, since libasync.a keeps the registry
# (and the ABI guard would refuse the mix).
$(O)/bench/core_bench_nolist: tools/bench/core_bench.c $(O)/bench/cpp20_rival.o async.h \
		port/async_vclock.h | $(NEED_CC)
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(BASE_CFLAGS) $(CFLAGS) -DASYNC_CONF_TASK_LIST=0 -DASYNC_IMPLEMENTATION -c $< -o $@.o
	$(Q)$(BENCH_CXX) $(LDFLAGS) $@.o $(O)/bench/cpp20_rival.o -o $@

$(O)/bench/timers_bench: tools/bench/timers_bench.c $(O)/libasync.a $(LIB_CONFIG) | $(NEED_EV)
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(BASE_CFLAGS) $(LIB_USER_CFLAGS) $(CFLAGS) $< -o $@ $(LDFLAGS) $(O)/libasync.a $(RT_LIBS)

$(O)/bench/io_bench: tools/bench/io_bench.c $(O)/libasync.a $(LIB_CONFIG) | $(NEED_EV)
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(BASE_CFLAGS) $(LIB_USER_CFLAGS) $(CFLAGS) $< -o $@ $(LDFLAGS) $(O)/libasync.a $(RT_LIBS)

# The two timer stores: the sorted list (the 32-bit default) and the
# 3 x 4 wheel it replaced there.  async.h is compiled in: the store is a
# compile-time choice, so these do not use libasync.a.
STORE_FLAGS_list := -DASYNC_CONF_WHEEL_LEVELS=0
STORE_FLAGS_wheel := -DASYNC_CONF_WHEEL_BITS=3 -DASYNC_CONF_WHEEL_LEVELS=4
# A static pattern: a plain one would also match the .d files make
# tries to remake.
$(STORE_BINS): $(O)/bench/store_bench_%: tools/bench/store_bench.c async.h port/async_vclock.h \
		| $(NEED_CC)
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(BASE_CFLAGS) $(CFLAGS) $(STORE_FLAGS_$*) $< -o $@ $(LDFLAGS)

$(O)/bench/sizeof-host.o: tools/bench/sizeof.c async.h src/async_ev.h | $(NEED_EV)
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(BASE_CFLAGS) $(CFLAGS) -DBENCH_HOST -c $< -o $@

# Cross objects are best effort: no cross compiler, no Cortex-M column.
$(O)/bench/sizeof-cortex-%.o: tools/bench/sizeof.c async.h
	@mkdir -p $(@D)
	$(Q)if command -v $(ARM_PREFIX)gcc >/dev/null 2>&1; then \
	  $(ARM_PREFIX)gcc $(BENCH_SIZEOF_ARCH_cortex-$*) -std=c99 $(WARN) -Os -ffreestanding -I. \
	    -c $< -o $@; \
	else rm -f $@; echo "  (no $(ARM_PREFIX)gcc: no Cortex-M sizes)"; fi

bench-sizeof: $(O)/bench/sizeof-host.o \
	$(foreach t,$(BENCH_SIZEOF_TARGETS),$(O)/bench/sizeof-$(t).o)

BENCH_RUN = $(BENCH_PYTHON) tools/bench/run.py --build $(O) --python $(BENCH_PYTHON) \
	--arm-prefix $(ARM_PREFIX) $(if $(BENCH_ONLY),--only $(BENCH_ONLY)) $(BENCH_ARGS)

# A full run rewrites the generated tables of docs/performance.md (the
# blocks between <!-- bench:NAME begin/end --> markers; a subset or a
# failed run leaves them); a quick run writes them into a copy in the
# build directory, to check that the script and the markers work.
BENCH_TABLES = $(BENCH_PYTHON) tools/bench/tables.py $(O)/bench/results.json docs/performance.md

bench: | $(NEED_BENCH)
	$(Q)$(MAKE) --no-print-directory -j2 bench-bins bench-sizeof $(O)/examples/echo_server \
	  $(O)/examples/echo_client $(O)/examples/httpd
	$(Q)$(BENCH_RUN)
	$(Q)$(BENCH_TABLES)

bench-quick: | $(NEED_BENCH)
	$(Q)$(MAKE) --no-print-directory -j2 bench-bins bench-sizeof $(O)/examples/echo_server \
	  $(O)/examples/echo_client $(O)/examples/httpd
	$(Q)$(BENCH_RUN) --quick
	$(Q)$(BENCH_TABLES) --out $(O)/bench/performance.md

bench-echo: | $(NEED_BENCH)
	$(Q)$(MAKE) --no-print-directory -j2 $(O)/bench/echo_floor $(O)/examples/echo_server \
	  $(O)/examples/echo_client
	$(Q)$(BENCH_PYTHON) tools/bench/echo.py $(O) --python $(BENCH_PYTHON)
