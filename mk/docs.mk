# SPDX-License-Identifier: MIT
# The documentation tests.  Included by the top Makefile.
#
#   make check-docs    tools/doctest: every code block of README.md and
#                      docs/*.md checked the way its marker says (C compiled
#                      with the strict flags and, where quick, run; shell
#                      lines run in a scratch directory, make lines checked
#                      with make -n), and every public name of the headers
#                      found in its reference document.  Part of
#                      `make check`; about 20 s.

DOCTEST_CFLAGS = -std=c99 $(WARN) -Werror -O2 -g $(CFLAGS) \
    $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-omit-frame-pointer)

.PHONY: check-docs
check: check-docs
check-docs: lib examples
	@command -v python3 >/dev/null 2>&1 || tools/deps python3
	$(Q)tools/doctest --build $(O) --cc "$(CC)" --cflags "$(DOCTEST_CFLAGS)"
