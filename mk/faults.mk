# SPDX-License-Identifier: MIT
# Faults: the libFuzzer targets for the libev layer (stream framing, the
# HTTP client's response handling, the HTTP server's request path, the
# TLS record layer) and the fault and load suite of examples/echo_server.
# Included by the top Makefile (before
# mk/reliability.mk and mk/runtime.mk, so prerequisites here name their
# files directly rather than through those fragments' variables).
#
## check-faults   load, system-call faults and network faults (CI: .ci/steps/54-faults.sh)
## check-faults-load     echo_server under resets, descriptor exhaustion and slow readers (~20 s)
## check-faults-syscalls io suites, echo_server and fetch under random system-call faults (~1 min)
## check-faults-netns    echo and fetch across two network namespaces, lossy link (root; ~40 s)
## faults-bins    build the fault suites' programs
#
#   make fuzz          also runs fuzz/fuzz_stream.c, fuzz/fuzz_fetch.c,
#                      fuzz/fuzz_tls.c (the TLS client's record layer) and
#                      fuzz/fuzz_http.c (the HTTP server's request path)
#                      (mk/reliability.mk's loop over fuzz/fuzz_*.c)
#   make check-faults  test/faults/run: echo_server under 10,000 resets,
#                      descriptor exhaustion and slow readers; then
#                      test/faults/syscalls: the io suites, echo_server
#                      and fetch under random system-call faults
#                      (test/faults/shim.c, LD_PRELOAD); then
#                      test/faults/netns: echo and fetch across two
#                      network namespaces with loss, delay, reordering
#                      and a link outage (not part of `make check`: CI
#                      runs it in .ci/steps/54-faults.sh)
#
# The io suites link test/faults/shim.c too: their tests arm one fault at
# a time (EAGAIN, EINTR, short transfers, failing pthread_create...) to
# reach the paths a healthy kernel never takes.

FAULT_RT_SRCS := $(wildcard src/*.c)
FAULT_RT_HDRS := async.h src/async_ev.h src/async_tls.h

# ---- fuzz targets that link the libev layer (explicit rules: they take
# precedence over mk/reliability.mk's pattern rule for fuzz_%) ----
$(O)/fuzz/fuzz_stream: fuzz/fuzz_stream.c fuzz/fuzz_input.h $(FAULT_RT_SRCS) $(FAULT_RT_HDRS) | $(NEED_FUZZ) $(NEED_EV) $(PROBE)/openssl
	$(call say,FUZZCC,$@)
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $< $(FAULT_RT_SRCS) -o $@ -lev -lhttp_parser -pthread -lssl -lcrypto

$(O)/fuzz/fuzz_tls: fuzz/fuzz_tls.c $(FAULT_RT_SRCS) $(FAULT_RT_HDRS) | $(NEED_FUZZ) $(NEED_EV) $(PROBE)/openssl
	$(call say,FUZZCC,$@)
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $< $(FAULT_RT_SRCS) -o $@ -lev -lhttp_parser -pthread -lssl -lcrypto

$(O)/fuzz/fuzz_fetch $(O)/fuzz/fuzz_http: $(O)/fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_input.h $(FAULT_RT_SRCS) $(FAULT_RT_HDRS) src/async_http.h | $(NEED_FUZZ) $(NEED_EV) $(PROBE)/http_parser $(PROBE)/openssl
	$(call say,FUZZCC,$@)
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $< $(FAULT_RT_SRCS) -o $@ -lev -lhttp_parser -pthread -lssl -lcrypto

# ---- the fault and load suites (test/faults/) ----
.PHONY: faults-bins check-faults check-faults-load check-faults-syscalls check-faults-netns
$(O)/faults/loadgen: test/faults/loadgen.c | $(NEED_CC)
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(filter-out -MMD -MP,$(BASE_CFLAGS)) $(CFLAGS) $< -o $@ $(LDFLAGS)

# The system-call shim: GNU C without -Wpedantic (it speaks glibc's own
# prototypes, see its opening comment); position-independent, so the same
# object links into the io suites and into libfaults.so for LD_PRELOAD.
# Never instrumented: preloaded into a sanitizer build it sits before the
# sanitizer's runtime, and into plain programs (timeout, env) too.
SHIM_CFLAGS = -std=gnu99 -Wall -Wextra -Werror $(OPT) -fPIC $(filter-out -fsanitize%,$(CFLAGS))
$(O)/faults/shim.o: test/faults/shim.c test/faults/shim.h | $(NEED_CC)
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(SHIM_CFLAGS) -c $< -o $@

$(O)/faults/libfaults.so: $(O)/faults/shim.o
	$(call say,LD,$@)
	$(Q)$(CC) -shared $< -o $@ -ldl -lpthread

# Every io suite links the shim (an extra prerequisite: mk/runtime.mk's
# link rule takes $$^).
$(foreach b,$(LC_BACKENDS),$(foreach t,$(patsubst test/io/%.c,%,$(wildcard test/io/test_*.c)),\
    $(eval $(O)/io/$(b)/$(t): $(O)/faults/shim.o)))

# The impaired link of test/faults/netns on kernels without netem.
$(O)/faults/netbridge: test/faults/netbridge.c | $(NEED_CC)
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -std=gnu99 -Wall -Wextra -Werror $(OPT) $(CFLAGS) $< -o $@ $(LDFLAGS)

faults-bins: $(O)/faults/loadgen $(O)/faults/libfaults.so $(O)/faults/netbridge \
    $(O)/examples/echo_server $(O)/examples/echo_client $(O)/examples/fetch io-bins

# Nothing here installs: the network step needs iproute2 (`make
# deps-faults`), and says SKIP, with the reason, without it or root.
.PHONY: deps-faults
deps-faults:
	$(Q)tools/deps iproute2 python3

check-faults: check-faults-load check-faults-syscalls check-faults-netns
check-faults-load: faults-bins
	$(Q)test/faults/run $(O)
check-faults-syscalls: faults-bins | $(NEED_PY)
	$(Q)test/faults/syscalls $(O)
check-faults-netns: faults-bins | $(NEED_PY)
	$(Q)test/faults/netns $(O)
