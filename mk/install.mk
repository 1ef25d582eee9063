# SPDX-License-Identifier: MIT
# Installing: headers, libasync, the pkg-config and CMake packages
# (docs/install.md).  Included by the top Makefile.
#
## install        headers under INCLUDEDIR/async, libasync, pkg-config and CMake files (PREFIX LIBDIR INCLUDEDIR DESTDIR)
## uninstall      remove exactly what `make install` wrote, and the directories it created
## check-install  stage installs in a temporary DESTDIR, build and run consumers against them, uninstall
#
# Layout, for PREFIX=/usr LIBDIR=/usr/lib/x86_64-linux-gnu:
#   /usr/include/async/async.h, async_ev.h, async_tls.h, async_http.h, port/*.h
#   /usr/lib/x86_64-linux-gnu/libasync.a, libasync.so.VERSION,
#       libasync.so.MAJOR (the soname) -> libasync.so.VERSION,
#       libasync.so (for -lasync) -> libasync.so.VERSION
#   /usr/lib/x86_64-linux-gnu/pkgconfig/async.pc, async-ev.pc
#   /usr/lib/x86_64-linux-gnu/cmake/async/asyncConfig.cmake, asyncConfigVersion.cmake
# LIBDIR and INCLUDEDIR may be absolute or relative to PREFIX; the GNU
# names prefix, libdir and includedir work too.  Nothing here writes to
# the build directory but the list of directories install created
# ($(INSTALL_DIRS_LOG)), which `make uninstall` reads so it removes
# those and no others.

prefix ?= /usr/local
PREFIX ?= $(prefix)
LIBDIR ?= $(or $(libdir),$(PREFIX)/lib)
INCLUDEDIR ?= $(or $(includedir),$(PREFIX)/include)
DESTDIR ?=

under_prefix = $(if $(filter /%,$(1)),$(1),$(PREFIX)/$(1))
INST_LIBDIR = $(call under_prefix,$(LIBDIR))
INST_INCDIR = $(call under_prefix,$(INCLUDEDIR))
INST_HDRDIR = $(INST_INCDIR)/async
INST_PCDIR = $(INST_LIBDIR)/pkgconfig
INST_CMAKEDIR = $(INST_LIBDIR)/cmake/async
INSTALL_DIRS_LOG := $(O)/install-dirs

PORT_HDRS := $(wildcard port/*.h)
INSTALLED_HDRS = $(INST_HDRDIR)/async.h $(INST_HDRDIR)/async_ev.h $(INST_HDRDIR)/async_tls.h $(INST_HDRDIR)/async_http.h \
	$(addprefix $(INST_HDRDIR)/port/,$(notdir $(PORT_HDRS)))
INSTALLED_LIBS = $(addprefix $(INST_LIBDIR)/,libasync.a $(SHLIB) $(SONAME) libasync.so)
INSTALLED_DATA = $(INST_PCDIR)/async.pc $(INST_PCDIR)/async-ev.pc \
	$(INST_CMAKEDIR)/asyncConfig.cmake $(INST_CMAKEDIR)/asyncConfigVersion.cmake
# Directories that are the package's own (removed when empty whoever made them).
OWN_DIRS = $(INST_HDRDIR)/port $(INST_HDRDIR) $(INST_CMAKEDIR)

.PHONY: install uninstall check-install

# What the templates (tools/*.pc.in, cmake/*.cmake.in) receive.  In the
# .pc files paths under PREFIX are written as ${prefix}/..., in the CMake
# files relative to the CMake directory (relocatable).
space := $(subst ,, )
pc_path = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))
rel_path = $(shell realpath -s -m --relative-to='$(1)' '$(2)')
pointer_size = $(shell $(CC) $(CPPFLAGS) $(CFLAGS) -dM -E -x c /dev/null | sed -n 's/^.define __SIZEOF_POINTER__ //p')
INSTALL_SUBST = sed \
	-e 's|@PREFIX@|$(PREFIX)|g' \
	-e 's|@LIBDIR@|$(call pc_path,$(INST_LIBDIR))|g' \
	-e 's|@INCLUDEDIR@|$(call pc_path,$(INST_INCDIR))|g' \
	-e 's|@VERSION@|$(VERSION)|g' \
	-e 's|@VERSION_MAJOR@|$(VERSION_MAJOR)|g' \
	-e 's|@VERSION_MINOR@|$(VERSION_MINOR)|g' \
	-e "s|@ABI@|$$(cat $(O)/abi)|g" \
	-e 's|@CFLAGS@|$(strip -pthread $(ASYNC_CONFIG))|g' \
	-e 's|@COMPILE_DEFINITIONS@|$(subst $(space),;,$(patsubst -D%,%,$(strip $(ASYNC_CONFIG))))|g' \
	-e 's|@REL_INCLUDEDIR@|$(call rel_path,$(INST_CMAKEDIR),$(INST_HDRDIR))|g' \
	-e 's|@REL_LIBDIR@|$(call rel_path,$(INST_CMAKEDIR),$(INST_LIBDIR))|g' \
	-e 's|@SIZEOF_VOID_P@|$(pointer_size)|g'

# mkdirs_logged DIR...: create each directory and its missing parents,
# logging the ones it created.
mkdirs_logged = for d in $(1); do \
	  new=; p=$$d; while [ ! -d "$$p" ]; do new="$$p $$new"; p=$$(dirname "$$p"); done; \
	  for n in $$new; do mkdir -m 755 "$$n" && echo "$$n" >> $(INSTALL_DIRS_LOG); done; \
	done

install: lib $(O)/abi
	$(Q)$(call mkdirs_logged,$(addprefix $(DESTDIR),$(INST_HDRDIR)/port $(INST_PCDIR) $(INST_CMAKEDIR)))
	install -m 644 async.h src/async_ev.h src/async_tls.h src/async_http.h $(DESTDIR)$(INST_HDRDIR)/
	install -m 644 $(PORT_HDRS) $(DESTDIR)$(INST_HDRDIR)/port/
	install -m 644 $(O)/libasync.a $(DESTDIR)$(INST_LIBDIR)/
	install -m 755 $(O)/$(SHLIB) $(DESTDIR)$(INST_LIBDIR)/
	ln -sf $(SHLIB) $(DESTDIR)$(INST_LIBDIR)/$(SONAME)
	ln -sf $(SHLIB) $(DESTDIR)$(INST_LIBDIR)/libasync.so
	$(INSTALL_SUBST) tools/async.pc.in > $(DESTDIR)$(INST_PCDIR)/async.pc
	$(INSTALL_SUBST) tools/async-ev.pc.in > $(DESTDIR)$(INST_PCDIR)/async-ev.pc
	$(INSTALL_SUBST) cmake/asyncConfig.cmake.in > $(DESTDIR)$(INST_CMAKEDIR)/asyncConfig.cmake
	$(INSTALL_SUBST) cmake/asyncConfigVersion.cmake.in > $(DESTDIR)$(INST_CMAKEDIR)/asyncConfigVersion.cmake
	$(Q)chmod 644 $(addprefix $(DESTDIR),$(INSTALLED_DATA))

# Files first, then the package's own directories, then any directory
# `make install` logged as created, deepest first, once empty.
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED_HDRS) $(INSTALLED_LIBS) $(INSTALLED_DATA))
	$(Q)for d in $(addprefix $(DESTDIR),$(OWN_DIRS)); do \
	  if [ -d "$$d" ]; then rmdir "$$d" 2>/dev/null && echo "rmdir $$d" || true; fi; \
	done
	$(Q)if [ -f $(INSTALL_DIRS_LOG) ]; then \
	  tac $(INSTALL_DIRS_LOG) | while read -r d; do \
	    if [ -d "$$d" ] && rmdir "$$d" 2>/dev/null; then echo "rmdir $$d" >&2; \
	    elif [ -d "$$d" ]; then echo "$$d"; fi; \
	  done | tac > $(INSTALL_DIRS_LOG).new; \
	  if [ -s $(INSTALL_DIRS_LOG).new ]; then mv $(INSTALL_DIRS_LOG).new $(INSTALL_DIRS_LOG); \
	  else rm -f $(INSTALL_DIRS_LOG).new $(INSTALL_DIRS_LOG); fi; \
	fi

# Consumers of a staged install (test/install/run): pkg-config and CMake,
# C and C++, shared and static, and a program built for another
# configuration that must fail to link.  The script's own `make install`
# runs are not recursive makes of this one (named through STAGE_MAKE, not
# MAKE), so `make -n check` prints this line instead of running it.
STAGE_MAKE = $(MAKE)
check: check-install
check-install: lib $(O)/abi | $(PROBE)/pkg-config $(PROBE)/cmake $(NEED_CXX)
	$(Q)STAGE_MAKE='$(STAGE_MAKE)' O='$(O)' CC='$(CC)' CXX='$(CXX)' \
	  ASYNC_CONFIG='$(ASYNC_CONFIG)' V='$(V)' test/install/run
