# SPDX-License-Identifier: MIT
# The documentation tests (tools/doctest).  Included by the top Makefile.
#
## check-docs     every code block, link and public name of README.md and docs/*.md checked (~20 s; part of check)
#
# tools/doctest checks each code block the way its marker says (C
# compiled with the strict flags and, where quick, run; shell lines run
# in a scratch directory; make lines checked with make -n), every link
# (inside the repository, to a file and heading that exist), the version
# README.md states, and that every public name of the headers appears in
# its reference document.  docs/reliability.md lists the markers.

# Warnings are errors here whatever WERROR says: a program in the
# documentation is copied by readers, so it must be clean.
DOCTEST_CFLAGS = -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 -g $(CPPFLAGS) $(CFLAGS) \
    $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-omit-frame-pointer)

.PHONY: check-docs
check: check-docs
# lib and examples: what the documents build and run; model-bins: what
# the tools/model lines of docs/reliability.md would otherwise build.
check-docs: lib examples model-bins | $(NEED_PY)
	$(Q)tools/doctest --build $(O) --cc "$(CC)" --cflags "$(DOCTEST_CFLAGS)"
