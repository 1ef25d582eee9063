# SPDX-License-Identifier: MIT
# The libev runtime (src/), its examples, integration tests (test/io/)
# and the demo.  Included by the top Makefile.  (The echo benchmark and
# its floor are in mk/bench.mk.)
#
#   make lib           $(O)/libasync.a and $(O)/libasync.so
#   make examples      $(O)/examples/NAME
#   make check-io      test/io suites under both continuation backends,
#                      then the fetch test against real HTTP servers
#   make demo          the guided tour (tools/demo/run)

RT_SRCS := $(wildcard src/*.c)
RT_HDRS := async.h src/async_ev.h
RT_LIBS := -lev -lpthread
RT_CFLAGS = $(BASE_CFLAGS) -fPIC $(CFLAGS)
# Beyond tools/deps' base set: SQLite for the offload example.
RT_DEPS_STAMP := $(O)/.rt-deps-ok

EXAMPLES := hello gather fetch echo_server echo_client queue timeout offload
EXAMPLE_LIBS_fetch := -lhttp_parser
EXAMPLE_LIBS_offload := -lsqlite3
IO_SUITES := $(patsubst test/io/%.c,%,$(wildcard test/io/test_*.c))

.PHONY: lib examples check-io check-io-suites check-fetch demo install-lib uninstall-lib

all: lib examples io-bins

# ---- the library, once per continuation backend (the ABI depends on it);
# the installed one is the default (switch) build ----
define rt_rules
$(O)/rt/$(1)/%.o: src/%.c $(RT_HDRS) | $(DEPS_STAMP)
	$$(call say,CC,$$@)
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(RT_CFLAGS) $$(LC_FLAGS_$(1)) -c $$< -o $$@

$(O)/rt/$(1)/libasync.a: $(patsubst src/%.c,$(O)/rt/$(1)/%.o,$(RT_SRCS))
	$$(call say,AR,$$@)
	@rm -f $$@
	$$(Q)$$(AR) rcs $$@ $$^

$(O)/io/$(1)/%.o: test/io/%.c $(RT_HDRS) test/io/iotest.h | $(DEPS_STAMP)
	$$(call say,CC,$$@)
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(BASE_CFLAGS) $$(LC_FLAGS_$(1)) $$(CFLAGS) -Itest/io -c $$< -o $$@

$(O)/io/$(1)/test_%: $(O)/io/$(1)/test_%.o $(O)/io/$(1)/iotest.o $(O)/rt/$(1)/libasync.a
	$$(call say,LD,$$@)
	$$(Q)$$(CC) $$(LDFLAGS) $$^ -o $$@ $$(CMOCKA_LIBS) $$(LDLIBS) $(RT_LIBS)

IO_TESTS_$(1) := $$(addprefix $(O)/io/$(1)/,$(IO_SUITES))
endef
$(foreach b,$(LC_BACKENDS),$(eval $(call rt_rules,$(b))))
IO_TESTS := $(foreach b,$(LC_BACKENDS),$(IO_TESTS_$(b)))

$(O)/libasync.a: $(O)/rt/switch/libasync.a
	$(Q)cp $< $@

$(O)/libasync.so: $(patsubst src/%.c,$(O)/rt/switch/%.o,$(RT_SRCS))
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -shared -Wl,-soname,libasync.so.0 $^ -o $@ $(RT_LIBS)

lib: $(O)/libasync.a $(O)/libasync.so
io-bins: $(IO_TESTS)

# ---- examples ----
$(RT_DEPS_STAMP): $(DEPS_STAMP)
	$(Q)tools/deps libsqlite3-dev
	@mkdir -p $(@D) && touch $@

$(O)/examples/%.o: examples/%.c $(RT_HDRS) | $(DEPS_STAMP) $(RT_DEPS_STAMP)
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(BASE_CFLAGS) $(CFLAGS) -c $< -o $@

$(O)/examples/%: $(O)/examples/%.o $(O)/libasync.a
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@ $(EXAMPLE_LIBS_$*) $(LDLIBS) $(RT_LIBS)

examples: $(addprefix $(O)/examples/,$(EXAMPLES))

# ---- tests ----
check: check-io
check-io: check-io-suites check-fetch

check-io-suites: $(IO_TESTS)
	@fail=0; total=0; \
	for t in $(IO_TESTS); do \
	  total=$$((total+1)); \
	  if CMOCKA_MESSAGE_OUTPUT=stdout timeout 300 $(TEST_WRAPPER) ./$$t > $$t.log 2>&1; then \
	    printf '  PASS     %s (%s)\n' "$$t" "$$(grep -c '^\[       OK \]' $$t.log) tests"; \
	  else \
	    fail=$$((fail+1)); printf '  FAIL     %s\n' "$$t"; cat $$t.log; \
	  fi; \
	done; \
	echo "io suites: $$((total-fail))/$$total passed"; \
	test $$fail -eq 0

check-fetch: $(O)/examples/fetch
	$(Q)tools/deps python3
	$(Q)tools/deps nginx || echo "  (nginx could not be installed: fetch.sh skips it)"
	$(Q)test/io/fetch.sh $(O)

# ---- the tour ----
demo: $(DEPS_STAMP)
	$(Q)tools/deps python3
	$(Q)$(MAKE) --no-print-directory -j2 examples
	$(Q)tools/demo/run $(O)

# ---- install ----
install: install-lib
install-lib: lib
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib
	install -m 644 src/async_ev.h $(DESTDIR)$(PREFIX)/include/async_ev.h
	install -m 644 $(O)/libasync.a $(DESTDIR)$(PREFIX)/lib/libasync.a
	install -m 755 $(O)/libasync.so $(DESTDIR)$(PREFIX)/lib/libasync.so.0
	ln -sf libasync.so.0 $(DESTDIR)$(PREFIX)/lib/libasync.so

uninstall: uninstall-lib
uninstall-lib:
	rm -f $(DESTDIR)$(PREFIX)/include/async_ev.h $(DESTDIR)$(PREFIX)/lib/libasync.a \
	      $(DESTDIR)$(PREFIX)/lib/libasync.so $(DESTDIR)$(PREFIX)/lib/libasync.so.0
