# SPDX-License-Identifier: MIT
# The libev runtime (src/), its examples, integration tests (test/io/)
# and the demo.  Included by the top Makefile.  (The echo benchmark and
# its floor are in mk/bench.mk; installing is mk/install.mk.)
#
## lib            libasync.a and libasync.so in the build directory (ASYNC_CONFIG=...: another configuration)
## examples       the example programs, in the build directory's examples/
## check-io       the runtime's suites (test/io) under both backends, then fetch against real HTTP servers
## check-io-suites  the runtime's suites alone
## check-fetch    the fetch example against python3 http.server, nginx (if installed) and test/io/httpd.py
## check-http     examples/httpd against curl, http.client, wrk (if installed) and raw sockets, -j 1 and -j 2
## demo           the guided tour of the examples (installs missing packages first: make deps)

RT_SRCS := $(wildcard src/*.c)
RT_HDRS := async.h src/async_ev.h src/async_tls.h src/async_http.h
RT_LIBS := -lev -lhttp_parser -pthread -lssl -lcrypto
# TLS (src/tls.c) is OpenSSL's: the library links -lssl -lcrypto; HTTP
# (src/http.c) is http-parser's: -lhttp_parser.
PROBE_CMD_openssl = $(call probe_prog,$(HASH)include <openssl/ssl.h>,(void)OPENSSL_init_ssl(0, NULL)) | $(probe_c) -lssl -lcrypto
PROBE_WHAT_openssl = OpenSSL (openssl/ssl.h and -lssl -lcrypto)
PROBE_PKG_openssl = libssl-dev
NEED_TLS := $(PROBE)/openssl
RT_CFLAGS = $(BASE_CFLAGS) -fPIC $(CFLAGS)

EXAMPLES := hello gather fetch echo echo_server echo_client queue timeout offload httpd
EXAMPLE_LIBS_offload := -lsqlite3
# test_nullargs_io is generated from src/'s headers by tools/nullargs
# (the Makefile's test_nullargs is the core's).
IO_SUITES := $(patsubst test/io/%.c,%,$(wildcard test/io/test_*.c)) test_nullargs_io

.PHONY: lib examples io-bins check-io check-io-suites check-fetch check-http demo

all: lib examples

# ---- the library the tests link, once per continuation backend (the ABI
# depends on it) ----
define rt_rules
$(O)/rt/$(1)/%.o: src/%.c $(RT_HDRS) | $(NEED_EV) $(NEED_TLS)
	$$(call say,CC,$$@)
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(RT_CFLAGS) $$(LC_FLAGS_$(1)) -c $$< -o $$@

$(O)/rt/$(1)/libasync.a: $(patsubst src/%.c,$(O)/rt/$(1)/%.o,$(RT_SRCS))
	$$(call say,AR,$$@)
	@rm -f $$@
	$$(Q)$$(AR) rcs $$@ $$^

$(O)/io/$(1)/%.o: test/io/%.c $(RT_HDRS) test/io/iotest.h | $(NEED_EV) $(NEED_CMOCKA)
	$$(call say,CC,$$@)
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(BASE_CFLAGS) $$(LC_FLAGS_$(1)) $$(CFLAGS) -Itest/io -c $$< -o $$@

$(O)/io/$(1)/test_nullargs_io.o: $(TEST_GEN)/test_nullargs_io.c $(RT_HDRS) test/io/iotest.h | $(NEED_EV) $(NEED_CMOCKA)
	$$(call say,CC,$$@)
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(BASE_CFLAGS) $$(LC_FLAGS_$(1)) $$(CFLAGS) -Itest/io -c $$< -o $$@

$(O)/io/$(1)/test_%: $(O)/io/$(1)/test_%.o $(O)/io/$(1)/iotest.o $(O)/rt/$(1)/libasync.a
	$$(call say,LD,$$@)
	$$(Q)$$(CC) $$(LDFLAGS) $$^ -o $$@ $$(CMOCKA_LIBS) $$(LDLIBS) $(RT_LIBS)

IO_TESTS_$(1) := $$(addprefix $(O)/io/$(1)/,$(IO_SUITES))
endef
$(foreach b,$(LC_BACKENDS),$(eval $(call rt_rules,$(b))))
$(TEST_GEN)/test_nullargs_io.c: $(RT_HDRS) tools/nullargs | $(NEED_PY)
	$(call say,GEN,$@)
	@mkdir -p $(@D)
	$(Q)tools/nullargs runtime > $@.tmp && mv $@.tmp $@
IO_TESTS := $(foreach b,$(LC_BACKENDS),$(IO_TESTS_$(b)))

# ---- the library a user links and `make install` installs ----
# Its configuration is ASYNC_CONFIG: -D options only, e.g.
#   make lib ASYNC_CONFIG='-DASYNC_CONF_TICK_BITS=64'
#   make lib ASYNC_CONFIG='-DASYNC_CONF_LC=ASYNC_LC_LABELS'
# The default configuration reuses the switch backend's objects; any
# other builds in $(O)/rt/config.  $(LIB_CONFIG) holds the configuration
# the library was last built with: it changes only when ASYNC_CONFIG
# does, and everything compiled against the library depends on it, so
# changing the option rebuilds the library and its users, never a mix.
# (The ABI guard, src/async_ev.h, would refuse to link a mix anyway.)
ASYNC_CONFIG ?=
ifneq ($(filter-out -D%,$(ASYNC_CONFIG)),)
$(error ASYNC_CONFIG takes -D options only (e.g. -DASYNC_CONF_TICK_BITS=64), not: $(filter-out -D%,$(ASYNC_CONFIG)))
endif
LIB_CONFIG := $(O)/lib-config
LIB_OBJDIR := $(if $(strip $(ASYNC_CONFIG)),$(O)/rt/config,$(O)/rt/switch)
LIB_OBJS := $(patsubst src/%.c,$(LIB_OBJDIR)/%.o,$(RT_SRCS))
SONAME := libasync.so.$(VERSION_MAJOR)
SHLIB := libasync.so.$(VERSION)
# Flags for a program built against $(O)/libasync.a: the library's
# configuration, and src/ on the include path (examples write
# #include "async_ev.h", as an installed program does).
LIB_USER_CFLAGS = -Isrc $(ASYNC_CONFIG)

$(LIB_CONFIG): FORCE
	@mkdir -p $(@D)
	@echo '$(strip $(ASYNC_CONFIG))' | cmp -s - $@ 2>/dev/null || echo '$(strip $(ASYNC_CONFIG))' > $@

$(O)/rt/config/%.o: src/%.c $(RT_HDRS) $(LIB_CONFIG) | $(NEED_EV) $(NEED_TLS)
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(RT_CFLAGS) $(ASYNC_CONFIG) -c $< -o $@

$(O)/libasync.a: $(LIB_OBJS) $(LIB_CONFIG)
	$(call say,AR,$@)
	@rm -f $@
	$(Q)$(AR) rcs $@ $(LIB_OBJS)

# -z defs: every symbol the library uses is resolved at its own link, so
# it records libev and libc as its dependencies.
$(O)/$(SHLIB): $(LIB_OBJS) $(LIB_CONFIG)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -shared -Wl,-soname,$(SONAME) -Wl,-z,defs $(LIB_OBJS) -o $@ $(RT_LIBS) $(LDLIBS)

# The soname and development links, so `-L$(O) -lasync` works in the tree.
$(O)/$(SONAME) $(O)/libasync.so: $(O)/$(SHLIB)
	$(Q)ln -sf $(SHLIB) $@

# The library's ABI name (src/async_ev.h: ASYNC_EV_ABI), for the
# pkg-config and CMake files.
$(O)/abi: $(RT_HDRS) $(LIB_CONFIG) | $(NEED_EV)
	$(Q)printf '#include "async_ev.h"\nASYNC_EV_ABI\n' | \
	  $(CC) $(CPPFLAGS) $(CFLAGS) -I. $(LIB_USER_CFLAGS) -E -P -x c - | tail -n 1 | tr -d ' ' > $@.tmp
	$(Q)grep -q '^async__abi_' $@.tmp && mv $@.tmp $@

lib: $(O)/libasync.a $(O)/$(SHLIB) $(O)/$(SONAME) $(O)/libasync.so $(O)/abi
## io-bins        build the runtime's test suites without running them
io-bins: $(IO_TESTS)

# ---- examples ----
$(O)/examples/%.o: examples/%.c $(RT_HDRS) $(LIB_CONFIG) | $(NEED_EV)
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(BASE_CFLAGS) $(LIB_USER_CFLAGS) $(CFLAGS) -c $< -o $@
$(O)/examples/fetch.o: | $(PROBE)/http_parser
$(O)/examples/offload.o: | $(PROBE)/sqlite3

$(O)/examples/%: $(O)/examples/%.o $(O)/libasync.a
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@ $(EXAMPLE_LIBS_$*) $(LDLIBS) $(RT_LIBS)

examples: $(addprefix $(O)/examples/,$(EXAMPLES))

# ---- tests ----
check: check-io
check-io: check-io-suites check-fetch check-http

check-io-suites: $(IO_TESTS)
	@fail=0; total=0; \
	for t in $(IO_TESTS); do \
	  total=$$((total+1)); \
	  if CMOCKA_MESSAGE_OUTPUT=stdout timeout 300 $(TEST_WRAPPER) $$t > $$t.log 2>&1; then \
	    printf '  PASS     %s (%s)\n' "$$t" "$$(grep -c '^\[       OK \]' $$t.log) tests"; \
	  else \
	    fail=$$((fail+1)); printf '  FAIL     %s\n' "$$t"; cat $$t.log; \
	  fi; \
	done; \
	echo "io suites: $$((total-fail))/$$total passed"; \
	test $$fail -eq 0

# nginx is optional (`make deps` tries to install it; fetch.sh skips it
# when it is missing).
check-fetch: $(O)/examples/fetch | $(NEED_PY)
	$(Q)test/io/fetch.sh $(O)

# examples/httpd against curl, Python's http.client, wrk and raw sockets,
# with -j 1 and -j 2 (test/io/http_clients.py; about 1 minute).
# wrk is optional (`make deps` tries to install it; its case is skipped
# when it is missing).
PROBE_CMD_curl = curl --version
PROBE_WHAT_curl = curl
PROBE_PKG_curl = curl
check-http: $(O)/examples/httpd $(O)/examples/echo_server $(O)/examples/echo_client | $(NEED_PY) $(PROBE)/curl
	$(Q)timeout 900 python3 test/io/http_clients.py $(O)

# ---- the tour ----
demo: | $(NEED_PY)
	$(Q)$(MAKE) --no-print-directory -j2 examples
	$(Q)tools/demo/run $(O)
