# SPDX-License-Identifier: MIT
# Faults: the libFuzzer targets for the libev layer (stream framing, the
# HTTP client's response handling, the HTTP server's request path, the
# TLS record layer) and the fault and load suite of examples/echo_server.
# Included by the top Makefile (before
# mk/reliability.mk and mk/runtime.mk, so prerequisites here name their
# files directly rather than through those fragments' variables).
#
## check-faults   echo_server under resets, descriptor exhaustion and slow readers (~20 s; CI)
## faults-bins    build the fault suite's load generator and echo_server
#
#   make fuzz          also runs fuzz/fuzz_stream.c, fuzz/fuzz_fetch.c,
#                      fuzz/fuzz_tls.c (the TLS client's record layer) and
#                      fuzz/fuzz_http.c (the HTTP server's request path)
#                      (mk/reliability.mk's loop over fuzz/fuzz_*.c)
#   make check-faults  test/faults/run: echo_server under 10,000 resets,
#                      descriptor exhaustion and slow readers (about 20 s;
#                      not part of `make check`: CI runs it in
#                      .ci/steps/54-faults.sh)

FAULT_RT_SRCS := $(wildcard src/*.c)
FAULT_RT_HDRS := async.h src/async_ev.h src/async_tls.h

# ---- fuzz targets that link the libev layer (explicit rules: they take
# precedence over mk/reliability.mk's pattern rule for fuzz_%) ----
$(O)/fuzz/fuzz_stream: fuzz/fuzz_stream.c $(FAULT_RT_SRCS) $(FAULT_RT_HDRS) | $(NEED_FUZZ) $(NEED_EV) $(PROBE)/openssl
	$(call say,FUZZCC,$@)
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $< $(FAULT_RT_SRCS) -o $@ -lev -lhttp_parser -pthread -lssl -lcrypto

$(O)/fuzz/fuzz_tls: fuzz/fuzz_tls.c $(FAULT_RT_SRCS) $(FAULT_RT_HDRS) | $(NEED_FUZZ) $(NEED_EV) $(PROBE)/openssl
	$(call say,FUZZCC,$@)
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $< $(FAULT_RT_SRCS) -o $@ -lev -lhttp_parser -pthread -lssl -lcrypto

$(O)/fuzz/fuzz_fetch $(O)/fuzz/fuzz_http: $(O)/fuzz/fuzz_%: fuzz/fuzz_%.c $(FAULT_RT_SRCS) $(FAULT_RT_HDRS) src/async_http.h | $(NEED_FUZZ) $(NEED_EV) $(PROBE)/http_parser $(PROBE)/openssl
	$(call say,FUZZCC,$@)
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $< $(FAULT_RT_SRCS) -o $@ -lev -lhttp_parser -pthread -lssl -lcrypto

# ---- the fault and load suite (test/faults/) ----
.PHONY: faults-bins check-faults
$(O)/faults/loadgen: test/faults/loadgen.c | $(NEED_CC)
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(filter-out -MMD -MP,$(BASE_CFLAGS)) $(CFLAGS) $< -o $@ $(LDFLAGS)

faults-bins: $(O)/faults/loadgen $(O)/examples/echo_server

check-faults: faults-bins
	$(Q)test/faults/run $(O)
