# Faults: the libFuzzer targets for the libev layer (stream framing, the
# fetch example's response handling).  Included by the top Makefile
# (before mk/reliability.mk and mk/runtime.mk, so prerequisites here name
# their files directly rather than through those fragments' variables).
#
#   make fuzz          also runs fuzz/fuzz_stream.c and fuzz/fuzz_fetch.c
#                      (mk/reliability.mk's loop over fuzz/fuzz_*.c)

FAULT_RT_SRCS := $(wildcard src/*.c)
FAULT_RT_HDRS := async.h src/async_ev.h

# ---- fuzz targets that link the libev layer (explicit rules: they take
# precedence over mk/reliability.mk's pattern rule for fuzz_%) ----
$(O)/fuzz/fuzz_stream: fuzz/fuzz_stream.c $(FAULT_RT_SRCS) $(FAULT_RT_HDRS) | $(O)/.fuzz-deps-ok $(DEPS_STAMP)
	$(call say,FUZZCC,$@)
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $< $(FAULT_RT_SRCS) -o $@ -lev -lpthread

$(O)/fuzz/fuzz_fetch: fuzz/fuzz_fetch.c examples/http_response.h $(FAULT_RT_HDRS) | $(O)/.fuzz-deps-ok $(DEPS_STAMP)
	$(call say,FUZZCC,$@)
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $< -o $@ -lhttp_parser
