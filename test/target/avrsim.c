/* SPDX-License-Identifier: MIT */
/*
 * avrsim.c - run an AVR image on simavr (libsimavr) for the on-target
 * tests and the firmware check: what QEMU's semihosting, -icount and
 * -trace give the Arm and RISC-V images.
 *
 *   avrsim [-m MCU] [-f HZ] [-c CYCLES] [-p PIN]... [-n N] [-i PIN@US=V]...
 *          [-S ADDR] IMAGE.elf
 *
 *   -m MCU       the part (default atmega1284p)
 *   -f HZ        its clock (default 16000000)
 *   -c CYCLES    give up after this many emulated cycles: exit 124
 *   -p PIN       trace an I/O pin (B5 = PORTB bit 5): one line
 *                "PIN B5 <level> <cycle>" when it is first driven and
 *                one per change
 *   -n N         stop (exit 0) once the first traced pin changed N times
 *                (its first level is no change)
 *   -i PIN@US=V  drive input pin PIN to level V at US microseconds of
 *                emulated time (a button press)
 *   -S ADDR      paint the RAM from data address ADDR (the end of .bss)
 *                to RAMEND with 0xC5 before reset, and at the end print
 *                "STACK <bytes> of <bytes>": how far down from RAMEND the
 *                stack ever reached (the lowest byte no longer 0xC5), of
 *                the RAM that was free for it
 *
 * The image talks to the host through two general-purpose I/O registers
 * that no test or firmware uses otherwise:
 *   GPIOR0  each byte written is a character of output (stdout)
 *   GPIOR1  the byte written is the exit status; the run ends there
 * Any other end is reported: SLEEP with interrupts masked (the part can
 * never wake: exit 3), a crash (invalid opcode or jump: exit 4).
 *
 * Emulated time only: simavr's sleep callback would wait out a SLEEP on
 * the host's clock; here a SLEEP jumps straight to the next timer event,
 * so a run takes the same emulated cycles on any host, however loaded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sim_avr.h>
#include <sim_elf.h>
#include <sim_io.h>
#include <avr_ioport.h>

#define GPIOR0_DATA 0x3E /* I/O 0x1E on the ATmega328P and 1284P */
#define GPIOR1_DATA 0x4A /* I/O 0x2A */
#define PAINT 0xC5
#define MAX_PINS 8    /* traced pins */
#define MAX_DRIVES 32 /* scheduled input changes */

struct pin {
    char port;
    int bit;
    avr_irq_t *irq;
    unsigned changes;
    int level; /* last level seen, -1 before the first */
};

struct drive {
    struct pin pin;
    unsigned long us;
    int level;
};

static avr_t *avr;
static struct pin traced[MAX_PINS];
static int ntraced;
static struct drive drives[MAX_DRIVES];
static int ndrives;
static unsigned stop_after;
static int exit_status = -1;

static void usage(void)
{
    fprintf(stderr, "usage: avrsim [-m MCU] [-f HZ] [-c CYCLES] [-p PIN]... [-n N] "
                    "[-i PIN@US=V]... [-S ADDR] IMAGE.elf\n");
    exit(2);
}

static void console_write(avr_t *a, avr_io_addr_t addr, uint8_t v, void *param)
{
    (void)param;
    a->data[addr] = v;
    putchar(v);
}

static void exit_write(avr_t *a, avr_io_addr_t addr, uint8_t v, void *param)
{
    (void)param;
    a->data[addr] = v;
    exit_status = v;
}

/* Sleep in emulated time only (see the opening comment). */
static void sleep_none(avr_t *a, avr_cycle_count_t how_long)
{
    (void)a;
    (void)how_long;
}

static void parse_pin(const char *s, struct pin *p)
{
    if (s[0] < 'A' || s[0] > 'L' || s[1] < '0' || s[1] > '7')
        usage();
    p->port = s[0];
    p->bit = s[1] - '0';
}

static avr_irq_t *pin_irq(const struct pin *p)
{
    avr_irq_t *irq = avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ(p->port), p->bit);
    if (!irq) {
        fprintf(stderr, "avrsim: no pin %c%d on %s\n", p->port, p->bit, avr->mmcu);
        exit(2);
    }
    return irq;
}

static void pin_changed(struct avr_irq_t *irq, uint32_t value, void *param)
{
    struct pin *p = param;
    (void)irq;
    if ((int)value == p->level)
        return; /* a write that changed nothing */
    if (p->level >= 0)
        p->changes++;
    p->level = (int)value;
    printf("PIN %c%d %u %llu\n", p->port, p->bit, (unsigned)value,
           (unsigned long long)avr->cycle);
}

static avr_cycle_count_t drive_now(avr_t *a, avr_cycle_count_t when, void *param)
{
    struct drive *d = param;
    (void)a;
    (void)when;
    avr_raise_irq(d->pin.irq, (uint32_t)d->level);
    return 0; /* once */
}

/* elf_read_firmware() with its progress lines ("Loaded N .text...") kept
 * off stdout, which carries only the image's output and our reports.  */
static int load_quietly(const char *file, elf_firmware_t *fw)
{
    int saved, rc;
    fflush(stdout);
    saved = dup(1);
    if (saved >= 0)
        dup2(2, 1);
    rc = elf_read_firmware(file, fw);
    fflush(stdout);
    if (saved >= 0) {
        dup2(saved, 1);
        close(saved);
    }
    return rc;
}

/* The deepest the stack went: RAMEND down to the lowest repainted byte. */
static void report_stack(unsigned long from)
{
    unsigned long a = from;
    while (a <= avr->ramend && avr->data[a] == PAINT)
        a++;
    printf("STACK %lu of %lu\n", (unsigned long)avr->ramend + 1 - a,
           (unsigned long)avr->ramend + 1 - from);
}

int main(int argc, char **argv)
{
    const char *mcu = "atmega1284p";
    unsigned long hz = 16000000;
    unsigned long long max_cycles = 0;
    unsigned long paint_from = 0;
    elf_firmware_t fw;
    int i, status;

    for (i = 1; i < argc - 1; i += 2) { /* options come in pairs */
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "-m"))
            mcu = v;
        else if (!strcmp(a, "-f"))
            hz = strtoul(v, NULL, 0);
        else if (!strcmp(a, "-c"))
            max_cycles = strtoull(v, NULL, 0);
        else if (!strcmp(a, "-n"))
            stop_after = (unsigned)strtoul(v, NULL, 0);
        else if (!strcmp(a, "-S"))
            paint_from = strtoul(v, NULL, 0);
        else if (!strcmp(a, "-p") && ntraced < MAX_PINS)
            parse_pin(v, &traced[ntraced++]);
        else if (!strcmp(a, "-i") && ndrives < MAX_DRIVES) {
            struct drive *d = &drives[ndrives++];
            const char *at = strchr(v, '@'), *eq = strchr(v, '=');
            if (!at || !eq)
                usage();
            parse_pin(v, &d->pin);
            d->us = strtoul(at + 1, NULL, 0);
            d->level = atoi(eq + 1);
        } else
            usage();
    }
    if (i != argc - 1)
        usage();

    memset(&fw, 0, sizeof fw);
    if (load_quietly(argv[argc - 1], &fw) != 0) {
        fprintf(stderr, "avrsim: cannot load %s\n", argv[argc - 1]);
        return 2;
    }
    avr = avr_make_mcu_by_name(mcu);
    if (!avr) {
        fprintf(stderr, "avrsim: simavr does not know %s\n", mcu);
        return 2;
    }
    avr_init(avr);
    avr->frequency = (uint32_t)hz;
    avr->sleep = sleep_none;
    avr->gdb_port = 0; /* a crash ends the run instead of waiting for gdb */
    avr->log = LOG_ERROR;
    avr_load_firmware(avr, &fw);
    avr_register_io_write(avr, GPIOR0_DATA, console_write, NULL);
    avr_register_io_write(avr, GPIOR1_DATA, exit_write, NULL);
    if (paint_from) {
        if (paint_from > avr->ramend)
            usage();
        memset(avr->data + paint_from, PAINT, avr->ramend + 1 - paint_from);
    }
    for (i = 0; i < ntraced; i++) {
        traced[i].level = -1;
        avr_irq_register_notify(pin_irq(&traced[i]), pin_changed, &traced[i]);
    }
    for (i = 0; i < ndrives; i++) {
        drives[i].pin.irq = pin_irq(&drives[i].pin);
        avr_cycle_timer_register_usec(avr, (uint32_t)drives[i].us, drive_now, &drives[i]);
    }

    for (;;) {
        int state = avr_run(avr);
        if (exit_status >= 0) {
            status = exit_status;
            break;
        }
        if (stop_after && ntraced && traced[0].changes >= stop_after) {
            status = 0;
            break;
        }
        if (state == cpu_Done) {
            printf("avrsim: stopped at pc 0x%05x: SLEEP with interrupts masked\n",
                   (unsigned)avr->pc);
            status = 3;
            break;
        }
        if (state == cpu_Crashed) {
            printf("avrsim: crashed at pc 0x%05x, cycle %llu\n", (unsigned)avr->pc,
                   (unsigned long long)avr->cycle);
            status = 4;
            break;
        }
        if (max_cycles && avr->cycle >= max_cycles) {
            printf("avrsim: gave up after %llu cycles\n", (unsigned long long)avr->cycle);
            status = 124;
            break;
        }
    }
    if (paint_from)
        report_stack(paint_from);
    fflush(stdout);
    fprintf(stderr, "avrsim: %llu cycles\n", (unsigned long long)avr->cycle);
    avr_terminate(avr);
    return status;
}
