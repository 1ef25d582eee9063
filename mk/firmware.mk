# SPDX-License-Identifier: MIT
# mk/firmware.mk - async.h on microcontrollers (included by the Makefile).
#
## cross          the core and the example firmware for every FW_TARGETS, then the size report
## size           the size report (core vs its 4 KiB budget, firmware, reference apps, per coroutine, RAM)
## check-target   the core's suites on emulated Cortex-M3 and rv32imac (QEMU) and ATmega1284P (simavr)
## check-firmware boot the firmware images on QEMU and simavr, check their LEDs blink as designed, measure their stacks
## deps-target    install the cross toolchains, QEMU and simavr (Debian)
## firmware-clean remove the cross and on-target builds
#
#   make cross          core + example firmware for every FW_TARGETS, then `size`
#   make size           the size report: per target, the core alone ("every
#                       function in async.h" at -Os) against its budget,
#                       the example firmware (flash and RAM), the four
#                       reference apps (firmware/ref.c), the code of one
#                       coroutine and of one await, and what one task and
#                       each primitive cost in RAM
#   make check-target   the core's suites (and test/target/test_*.c) on an
#                       emulated Cortex-M3 (qemu-system-arm -M mps2-an385),
#                       rv32imac (qemu-system-riscv32 -M virt) and
#                       ATmega1284P (simavr, test/target/avrsim.c)
#   make check-firmware boot the firmware images on QEMU (Cortex-M on the
#                       MPS2 boards, rv32imac on sifive_e, the FE310 of
#                       the HiFive1 Rev B) and simavr (the ATmega328P of
#                       an Arduino Uno), check that their LEDs blink as
#                       designed, and measure each one's deepest stack
#
# Variables: ARM_PREFIX, RV_PREFIX, AVR_PREFIX (toolchain prefixes), HOSTCC
# (builds the simavr harness), QEMU_ARM, QEMU_RV,
# QEMU_TIMEOUT (seconds per test image), SIZE_STRICT (1, the default:
# `size` fails when the core is over its 4 KiB Cortex-M0+ budget; 0: it
# only says so), FW_TARGETS, TARGET_CONFIGS.

ARM_PREFIX ?= arm-none-eabi-
RV_PREFIX ?= riscv64-unknown-elf-
AVR_PREFIX ?= avr-
HOSTCC ?= gcc
QEMU_ARM ?= qemu-system-arm
QEMU_RV ?= qemu-system-riscv32
QEMU_TIMEOUT ?= 120
SIZE_STRICT ?= 1
# The whole core on Cortex-M0+ at -Os (.text), decided in issue 14.
CORE_BUDGET_M0PLUS := 4096
# Defined before any rule names it: prerequisites expand as they are read.
AVRSIM := $(O)/target/avrsim

.PHONY: cross size check-target check-firmware firmware-clean deps-target

# Only `make deps-target` installs them; the rules probe.  (newlib and
# picolibc: only their headers, for <string.h> and <setjmp.h> in
# test/testlib.h; nothing links a C library.)
TARGET_PKGS := gcc-arm-none-eabi libnewlib-arm-none-eabi gcc-riscv64-unknown-elf \
	picolibc-riscv64-unknown-elf qemu-system-arm qemu-system-misc \
	gcc-avr avr-libc binutils-avr simavr libsimavr-dev libelf-dev
deps-target:
	$(Q)tools/deps $(TARGET_PKGS)
PROBE_CMD_arm-gcc = $(ARM_PREFIX)gcc --version
PROBE_WHAT_arm-gcc = $(ARM_PREFIX)gcc
PROBE_PKG_arm-gcc = gcc-arm-none-eabi
PROBE_DEPS_arm-gcc = deps-target
PROBE_CMD_rv-gcc = $(RV_PREFIX)gcc --version
PROBE_WHAT_rv-gcc = $(RV_PREFIX)gcc
PROBE_PKG_rv-gcc = gcc-riscv64-unknown-elf
PROBE_DEPS_rv-gcc = deps-target
PROBE_CMD_arm-libc = printf '$(HASH)include <string.h>\n$(HASH)include <setjmp.h>\n' | $(ARM_PREFIX)gcc -mcpu=cortex-m3 -mthumb -E -x c - -o /dev/null
PROBE_WHAT_arm-libc = newlib's headers for $(ARM_PREFIX)gcc
PROBE_PKG_arm-libc = libnewlib-arm-none-eabi
PROBE_DEPS_arm-libc = deps-target
PROBE_CMD_rv-libc = test -f $(RV_LIBC_INCLUDE)/setjmp.h
PROBE_WHAT_rv-libc = picolibc's headers ($(RV_LIBC_INCLUDE))
PROBE_PKG_rv-libc = picolibc-riscv64-unknown-elf
PROBE_DEPS_rv-libc = deps-target
PROBE_CMD_qemu-arm = $(QEMU_ARM) --version
PROBE_WHAT_qemu-arm = $(QEMU_ARM)
PROBE_PKG_qemu-arm = qemu-system-arm
PROBE_DEPS_qemu-arm = deps-target
PROBE_CMD_qemu-rv = $(QEMU_RV) --version
PROBE_WHAT_qemu-rv = $(QEMU_RV)
PROBE_PKG_qemu-rv = qemu-system-misc
PROBE_DEPS_qemu-rv = deps-target
PROBE_CMD_avr-gcc = $(AVR_PREFIX)gcc --version
PROBE_WHAT_avr-gcc = $(AVR_PREFIX)gcc
PROBE_PKG_avr-gcc = gcc-avr
PROBE_DEPS_avr-gcc = deps-target
PROBE_CMD_avr-libc = printf '$(HASH)include <avr/io.h>\n$(HASH)include <setjmp.h>\n' | $(AVR_PREFIX)gcc -mmcu=atmega328p -E -x c - -o /dev/null
PROBE_WHAT_avr-libc = avr-libc for $(AVR_PREFIX)gcc
PROBE_PKG_avr-libc = avr-libc
PROBE_DEPS_avr-libc = deps-target
# the harness test/target/avrsim.c links libsimavr.a, which needs libelf
PROBE_CMD_libsimavr = $(call probe_prog,$(HASH)include <sim_avr.h>,(void)avr_make_mcu_by_name("atmega328p")) | \
	$(HOSTCC) -isystem /usr/include/simavr -x c - -o /dev/null -lsimavr -lelf
PROBE_WHAT_libsimavr = simavr's library (sim_avr.h, -lsimavr, -lelf)
PROBE_PKG_libsimavr = libsimavr-dev libelf-dev
PROBE_DEPS_libsimavr = deps-target
# Per target prefix: what a cross build of that target needs.
NEED_XCC_$(ARM_PREFIX) := $(PROBE)/arm-gcc
NEED_XCC_$(RV_PREFIX) := $(PROBE)/rv-gcc
NEED_XCC_$(AVR_PREFIX) := $(PROBE)/avr-gcc $(PROBE)/avr-libc

# Flags every cross build shares.  -ffreestanding: no hosted library is
# assumed; loop-pattern distribution off so GCC does not turn our copy
# loops into memcpy/memset calls that nothing provides (-nostdlib).
XCFLAGS = -std=c99 $(WARN) -Os -g -ffreestanding -ffunction-sections -fdata-sections \
	-fno-tree-loop-distribute-patterns -I. -Iport -MMD -MP

# ======================================================================
# Cross builds: the core alone and the example firmware, per target.
# ======================================================================
FW_TARGETS ?= cortex-m0plus cortex-m4 rv32imac atmega328p

FW_PREFIX_cortex-m0plus := $(ARM_PREFIX)
FW_ARCH_cortex-m0plus := -mcpu=cortex-m0plus -mthumb -mfloat-abi=soft
FW_LDS_cortex-m0plus := firmware/ld/mps2_an383.ld
FW_SRCS_cortex-m0plus := firmware/startup_cm.c firmware/board_mps2.c
FW_CONF_cortex-m0plus :=
# QEMU has no Cortex-M0+ MPS2 image; the M3 one runs ARMv6-M code unchanged
FW_QEMU_cortex-m0plus := mps2-an385

FW_PREFIX_cortex-m4 := $(ARM_PREFIX)
FW_ARCH_cortex-m4 := -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
FW_LDS_cortex-m4 := firmware/ld/mps2_an386.ld
FW_SRCS_cortex-m4 := firmware/startup_cm.c firmware/board_mps2.c
FW_CONF_cortex-m4 :=
FW_QEMU_cortex-m4 := mps2-an386

FW_PREFIX_rv32imac := $(RV_PREFIX)
# -misa-spec=2.2: the ISA spec where "i" still includes the CSR
# instructions (zicsr), as on the FE310; the default 20191213 spec splits
# them out and -march=rv32imac_zicsr would miss the rv32imac/ilp32 libgcc
# multilib.
FW_ARCH_rv32imac := -march=rv32imac -mabi=ilp32 -misa-spec=2.2 -mcmodel=medlow
FW_LDS_rv32imac := firmware/ld/fe310.ld
FW_SRCS_rv32imac := firmware/startup_rv.S firmware/board_fe310.c
# the FE310's CLINT timer counts a 32768 Hz clock: it is the tick (tickless)
FW_CONF_rv32imac := -DASYNC_CONF_TICK_HZ=32768

# The same firmware for QEMU's sifive_e (make check-firmware only): QEMU
# 7's model of that board counts mtime at 10 MHz, not at the FE310's
# 32768 Hz, so this image takes its tick rate from the emulator.  Built
# at 32768 Hz it would see each 10 ms sleep as 33 us of emulated time,
# shorter than a pass: the loop would never reach WFI and the check
# would not see the tickless sleep it is meant to see.
FW_BOOT_TARGETS := rv32imac-qemu
FW_PREFIX_rv32imac-qemu := $(FW_PREFIX_rv32imac)
FW_ARCH_rv32imac-qemu := $(FW_ARCH_rv32imac)
FW_LDS_rv32imac-qemu := $(FW_LDS_rv32imac)
FW_SRCS_rv32imac-qemu := $(FW_SRCS_rv32imac)
FW_CONF_rv32imac-qemu := -DASYNC_CONF_TICK_HZ=10000000
FW_QEMU_rv32imac-qemu := sifive_e,revb=true

# Arduino Uno: ATmega328P at 16 MHz (32 KiB flash, 2 KiB RAM), booted
# on simavr by check-firmware (test/target/avrsim.c).  avr-libc's start-up
# code and linker script, as for any AVR program.
FW_PREFIX_atmega328p := $(AVR_PREFIX)
FW_ARCH_atmega328p := -mmcu=atmega328p -DF_CPU=16000000UL
FW_LINK_atmega328p :=
FW_SRCS_atmega328p := firmware/board_uno.c
FW_CONF_atmega328p :=
FW_AVRSIM_atmega328p := atmega328p

# Link flags: -nostdlib, our start-up code and linker script (Arm, RISC-V).
FW_LINK_DEFAULT = -nostdlib -Lfirmware/ld -T $(FW_LDS_$(1))
fw_link = $(if $(filter undefined,$(origin FW_LINK_$(1))),$(call FW_LINK_DEFAULT,$(1)),$(FW_LINK_$(1)))

FW_APP_SRCS := firmware/app.c firmware/port.c firmware/core.c

# $(1) = target
define fw_rules
FW_CC_$(1) := $$(FW_PREFIX_$(1))gcc
FW_OBJS_$(1) := $$(patsubst firmware/%,$(O)/cross/$(1)/%.o,$$(FW_SRCS_$(1)) $(FW_APP_SRCS))

$(O)/cross/$(1)/%.c.o: firmware/%.c async.h $(wildcard port/*.h) firmware/board.h | $(NEED_XCC_$(FW_PREFIX_$(1)))
	$$(call say,CC,$$@)
	@mkdir -p $$(@D)
	$$(Q)$$(FW_CC_$(1)) $$(FW_ARCH_$(1)) $$(XCFLAGS) $$(FW_CONF_$(1)) -Ifirmware -c $$< -o $$@

$(O)/cross/$(1)/%.S.o: firmware/%.S | $(NEED_XCC_$(FW_PREFIX_$(1)))
	$$(call say,AS,$$@)
	@mkdir -p $$(@D)
	$$(Q)$$(FW_CC_$(1)) $$(FW_ARCH_$(1)) $$(XCFLAGS) $$(FW_CONF_$(1)) -c $$< -o $$@

# sizeof() of every object, read back from symbol sizes (nothing runs).
$(O)/cross/$(1)/sizes.o: firmware/sizes.c async.h port/async_bm.h | $(NEED_XCC_$(FW_PREFIX_$(1)))
	$$(call say,CC,$$@)
	@mkdir -p $$(@D)
	$$(Q)$$(FW_CC_$(1)) $$(FW_ARCH_$(1)) $$(XCFLAGS) $$(FW_CONF_$(1)) -c $$< -o $$@

# Linked with -nostdlib: no C library, no startup files; libgcc only for
# the compiler's helpers (division on the M0+, for instance).
$(O)/cross/$(1)/firmware.elf: $$(FW_OBJS_$(1)) $$(FW_LDS_$(1)) $$(if $$(FW_LDS_$(1)),firmware/ld/cortex_m.ld)
	$$(call say,LD,$$@)
	$$(Q)$$(FW_CC_$(1)) $$(FW_ARCH_$(1)) $$(call fw_link,$(1)) \
		-Wl,--gc-sections -Wl,-Map,$$(@:.elf=.map) $$(FW_OBJS_$(1)) -lgcc -o $$@

FW_ELFS += $(O)/cross/$(1)/firmware.elf
FW_SIZE_DEPS += $(O)/cross/$(1)/firmware.elf $(O)/cross/$(1)/core.c.o $(O)/cross/$(1)/sizes.o

# The reference apps (firmware/ref.c with REF_APP = 1 to 4), linked as
# the firmware is, with the same board, port and core objects.
$(O)/cross/$(1)/ref%.app.o: firmware/ref.c async.h $(wildcard port/*.h) firmware/board.h | $(NEED_XCC_$(FW_PREFIX_$(1)))
	$$(call say,CC,$$@)
	@mkdir -p $$(@D)
	$$(Q)$$(FW_CC_$(1)) $$(FW_ARCH_$(1)) $$(XCFLAGS) $$(FW_CONF_$(1)) -Ifirmware -DREF_APP=$$* -c $$< -o $$@

FW_REF_OBJS_$(1) := $$(patsubst firmware/%,$(O)/cross/$(1)/%.o,$$(FW_SRCS_$(1)) firmware/port.c firmware/core.c)
$(O)/cross/$(1)/ref%.elf: $(O)/cross/$(1)/ref%.app.o $$(FW_REF_OBJS_$(1)) $$(FW_LDS_$(1))
	$$(call say,LD,$$@)
	$$(Q)$$(FW_CC_$(1)) $$(FW_ARCH_$(1)) $$(call fw_link,$(1)) \
		-Wl,--gc-sections -Wl,-Map,$$(@:.elf=.map) $$(filter %.o,$$^) -lgcc -o $$@

# Generated coroutines with 1 and 11 awaits (firmware/coro-gen.sh).
$(O)/cross/$(1)/coro%.gen.o: $(O)/cross/coro%.gen.c async.h | $(NEED_XCC_$(FW_PREFIX_$(1)))
	$$(call say,CC,$$@)
	@mkdir -p $$(@D)
	$$(Q)$$(FW_CC_$(1)) $$(FW_ARCH_$(1)) $$(XCFLAGS) $$(FW_CONF_$(1)) -c $$< -o $$@

FW_SIZE_DEPS += $$(foreach n,$(FW_REF_APPS),$(O)/cross/$(1)/ref$$(n).elf) \
	$(O)/cross/$(1)/coro1.gen.o $(O)/cross/$(1)/coro11.gen.o
endef

FW_REF_APPS := 1 2 3 4
$(O)/cross/coro%.gen.c: firmware/coro-gen.sh
	$(call say,GEN,$@)
	@mkdir -p $(@D)
	$(Q)firmware/coro-gen.sh $* > $@
$(foreach t,$(FW_TARGETS) $(FW_BOOT_TARGETS),$(eval $(call fw_rules,$(t))))

cross: $(FW_ELFS)
	@$(MAKE) --no-print-directory size

# Booted on QEMU (FW_QEMU_t: the machine) or simavr (FW_AVRSIM_t: the part).
FW_BOOTABLE := $(foreach t,$(FW_TARGETS) $(FW_BOOT_TARGETS),$(if $(FW_QEMU_$(t))$(FW_AVRSIM_$(t)),$(t)))
# Also booted: the two largest reference apps (blinky, event, queue, and
# a gather within a timeout: by async_gather, and by a group), for what
# they do and their stack.
FW_BOOT_REF := ref3.elf ref4.elf
check-firmware: $(foreach t,$(FW_BOOTABLE),$(O)/cross/$(t)/firmware.elf $(addprefix $(O)/cross/$(t)/,$(FW_BOOT_REF))) \
		$(if $(filter atmega%,$(FW_BOOTABLE)),$(AVRSIM)) | $(PROBE)/qemu-arm $(PROBE)/qemu-rv
	$(Q)fail=0; $(foreach t,$(FW_BOOTABLE),$(foreach i,firmware.elf:example $(addsuffix :ref,$(FW_BOOT_REF)),\
	  QEMU=$(QEMU_ARM) QEMU_RV=$(QEMU_RV) AVRSIM=$(AVRSIM) \
	  ARM_NM=$(ARM_PREFIX)nm RV_NM=$(RV_PREFIX)nm AVR_NM=$(AVR_PREFIX)nm \
	  firmware/boot-check.sh $(FW_QEMU_$(t))$(FW_AVRSIM_$(t)) \
	    $(O)/cross/$(t)/$(word 1,$(subst :, ,$(i))) $(word 2,$(subst :, ,$(i))) || fail=1;)) \
	test $$fail -eq 0

size: $(FW_SIZE_DEPS)
	$(Q)SIZE_STRICT=$(SIZE_STRICT) BUDGET=$(CORE_BUDGET_M0PLUS) firmware/size-report.sh $(O)/cross \
		$(foreach t,$(FW_TARGETS),$(t):$(FW_PREFIX_$(t)))

# ======================================================================
# The core's suites on an emulated Cortex-M3 (QEMU mps2-an385) and an
# emulated rv32imac (QEMU virt).  Every test/test_*.c except
# HOST_ONLY_SUITES, plus test/target/test_*.c on Arm, each linked into its
# own image with the cmocka shim and run under QEMU (semihosting on Arm,
# the UART and the test finisher on virt); test/target/run.sh adds up the
# results.
# ======================================================================
# Configurations: both continuation backends on the Cortex-M3, the
# Cortex-M0+ build (ARMv6-M code, which the M3 runs unchanged): there
# ASYNC_CONF_ATOMICS defaults to 0, so posts from interrupts go through
# the port's PRIMASK critical section instead of LDREX/STREX; and rv32imac
# on QEMU's virt board (qemu-system-riscv32) under both backends (rv32:
# labels, rv32sw: switch), where posts use the A extension's atomics.  The interrupt suites are per architecture:
# test/target/test_irq.c on Arm, test/target/test_irq_rv.c on RISC-V.
# The ATmega1284P (16 KiB of RAM, 128 KiB of flash: room for the largest
# suite) under simavr, through test/target/avrsim.c: both backends with
# 32-bit ticks (avr, avr-labels) and the switch backend with 16-bit ticks
# (avr-t16).  8-bit loads: every tick read there is several loads.
# The bare-metal default leaves out the extras and the task registry
# (ASYNC_CONF_EXTRAS, ASYNC_CONF_TASK_LIST): labels runs the extras
# without the registry, rv32sw both.
TARGET_CONFIGS ?= switch labels m0plus rv32 rv32sw avr avr-labels avr-t16
AVR_ARCH_TEST := -mmcu=atmega1284p -DF_CPU=16000000UL
TGT_ARCH_M3 := -mcpu=cortex-m3 -mthumb -mfloat-abi=soft
TGT_ARCH_switch := $(TGT_ARCH_M3)
TGT_FLAGS_switch := -DASYNC_CONF_LC=ASYNC_LC_SWITCH
TGT_ARCH_labels := $(TGT_ARCH_M3)
TGT_FLAGS_labels := -DASYNC_CONF_LC=ASYNC_LC_LABELS -DASYNC_CONF_EXTRAS=1
TGT_ARCH_m0plus := -mcpu=cortex-m0plus -mthumb -mfloat-abi=soft
TGT_FLAGS_m0plus := -DASYNC_CONF_LC=ASYNC_LC_SWITCH
TGT_ARCH_rv32 := $(FW_ARCH_rv32imac)
# picolibc's headers only (string.h, setjmp.h): nothing links a C library
RV_LIBC_INCLUDE ?= /usr/lib/picolibc/riscv64-unknown-elf/include
TGT_FLAGS_rv32 := -DASYNC_CONF_LC=ASYNC_LC_LABELS -isystem $(RV_LIBC_INCLUDE)
TGT_ARCH_rv32sw := $(FW_ARCH_rv32imac)
TGT_FLAGS_rv32sw := -DASYNC_CONF_LC=ASYNC_LC_SWITCH -DASYNC_CONF_EXTRAS=1 -DASYNC_CONF_TASK_LIST=1 \
	-isystem $(RV_LIBC_INCLUDE)

TGT_ARCH_avr := $(AVR_ARCH_TEST)
TGT_FLAGS_avr := -DASYNC_CONF_LC=ASYNC_LC_SWITCH
TGT_ARCH_avr-labels := $(AVR_ARCH_TEST)
TGT_FLAGS_avr-labels := -DASYNC_CONF_LC=ASYNC_LC_LABELS
TGT_ARCH_avr-t16 := $(AVR_ARCH_TEST)
TGT_FLAGS_avr-t16 := -DASYNC_CONF_LC=ASYNC_LC_SWITCH -DASYNC_CONF_TICK_BITS=16

TGT_CC_ARM := $(ARM_PREFIX)gcc
TGT_CC_RV := $(RV_PREFIX)gcc
TGT_CC_AVR := $(AVR_PREFIX)gcc
NEED_TGT_$(TGT_CC_ARM) := $(PROBE)/arm-gcc $(PROBE)/arm-libc
NEED_TGT_$(TGT_CC_RV) := $(PROBE)/rv-gcc $(PROBE)/rv-libc
NEED_TGT_$(TGT_CC_AVR) := $(PROBE)/avr-gcc $(PROBE)/avr-libc
# The suites prove every refusal, NULL arguments among them, so they run
# with the argument checks on (ASYNC_CONF_CHECKS=1), which bare-metal
# targets leave off by default: the same code less those tests.  `make
# size` and check-firmware build the default.
TGT_CFLAGS = $(XCFLAGS) -DASYNC_TEST_SHIM -DASYNC_CONF_CHECKS=1 -Itest -Itest/target
TARGET_SUITES := $(filter-out $(HOST_ONLY_SUITES),$(CORE_SUITES))
TARGET_ONLY_SUITES := $(patsubst test/target/%.c,%,$(wildcard test/target/test_*.c))
TGT_SUPPORT := impl testlib runner libc
TGT_SUPPORT_AVR := impl testlib runner

# $(1) = configuration; $(2) = compiler, $(3) = startup object (none:
# the C library's), $(4) = link flags (the .ld files among them are
# prerequisites), $(5) = the target-only suites it runs, $(6) = support
# objects
define tgt_startup
$(O)/target/$(1)/$(3).o: firmware/$(3).* | $(NEED_TGT_$(2))
	$$(call say,CC,$$@)
	@mkdir -p $$(@D)
	$$(Q)$(2) $$(TGT_ARCH_$(1)) $$(TGT_CFLAGS) -c $$< -o $$@
endef
define tgt_rules
$(O)/target/$(1)/%.o: test/%.c async.h port/async_bm.h test/testlib.h test/target/cmocka_shim.h | $(NEED_TGT_$(2))
	$$(call say,CC,$$@)
	@mkdir -p $$(@D)
	$$(Q)$(2) $$(TGT_ARCH_$(1)) $$(TGT_CFLAGS) $$(TGT_FLAGS_$(1)) \
		'-DCMSHIM_SUITE="$$*/$(1)"' -c $$< -o $$@

$(O)/target/$(1)/%.o: test/target/%.c async.h port/async_bm.h test/testlib.h test/target/cmocka_shim.h | $(NEED_TGT_$(2))
	$$(call say,CC,$$@)
	@mkdir -p $$(@D)
	$$(Q)$(2) $$(TGT_ARCH_$(1)) $$(TGT_CFLAGS) $$(TGT_FLAGS_$(1)) -fno-builtin \
		'-DCMSHIM_SUITE="$$*/$(1)"' -c $$< -o $$@

$(if $(3),$(eval $(call tgt_startup,$(1),$(2),$(3))))

$(O)/target/$(1)/test_%.elf: $(O)/target/$(1)/test_%.o \
		$$(addprefix $(O)/target/$(1)/,$$(addsuffix .o,$(6) $(3))) $(filter %.ld,$(4))
	$$(call say,LD,$$@)
	$$(Q)$(2) $$(TGT_ARCH_$(1)) $(4) -Wl,--gc-sections $$(filter %.o,$$^) -lgcc -o $$@

TGT_ELFS += $$(foreach s,$(TARGET_SUITES) $(5),$(O)/target/$(1)/$$(s).elf)
endef
TGT_ARM_LD := -nostdlib -T test/target/mps2_an385.ld -Lfirmware/ld
TGT_RV_LD := -nostdlib -T test/target/rv_virt.ld
# avr-libc's start-up code (vectors, stack, .data and .bss) and its
# string functions: an AVR image is linked as any AVR program is.
TGT_AVR_LD :=
TGT_ARM_CONFIGS := $(filter-out rv32% avr%,$(TARGET_CONFIGS))
$(foreach c,$(TGT_ARM_CONFIGS),$(eval $(call tgt_rules,$(c),$(TGT_CC_ARM),startup_cm,$(TGT_ARM_LD),$(filter-out \
	%_rv %_avr,$(TARGET_ONLY_SUITES)),$(TGT_SUPPORT))))
$(foreach c,$(filter rv32%,$(TARGET_CONFIGS)),$(eval $(call \
	tgt_rules,$(c),$(TGT_CC_RV),startup_rv,$(TGT_RV_LD),$(filter %_rv,$(TARGET_ONLY_SUITES)),$(TGT_SUPPORT))))
$(foreach c,$(filter avr%,$(TARGET_CONFIGS)),$(eval $(call \
	tgt_rules,$(c),$(TGT_CC_AVR),,$(TGT_AVR_LD),$(filter %_avr,$(TARGET_ONLY_SUITES)),$(TGT_SUPPORT_AVR))))

# The simavr harness the AVR images run in (a host program; AVRSIM is
# set at the top, before check-firmware names it as a prerequisite).
$(AVRSIM): test/target/avrsim.c | $(PROBE)/libsimavr
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(HOSTCC) -std=c99 -D_POSIX_C_SOURCE=200809L $(WARN) -O2 -isystem /usr/include/simavr \
		$< -o $@ -lsimavr -lelf

check-target: $(TGT_ELFS) $(if $(filter avr%,$(TARGET_CONFIGS)),$(AVRSIM)) | $(PROBE)/qemu-arm $(PROBE)/qemu-rv
	$(Q)QEMU=$(QEMU_ARM) QEMU_RV=$(QEMU_RV) QEMU_TIMEOUT=$(QEMU_TIMEOUT) AVRSIM=$(AVRSIM) \
		test/target/run.sh $(TGT_ELFS)

firmware-clean:
	rm -rf $(O)/cross $(O)/target
