/*
 * Runtime for the freestanding test guests.
 *
 * The guests run at CPL0 in long mode with interrupts masked, entered by the
 * monitor through the Linux 64-bit boot protocol (%rsi = zero page). Every
 * instruction is emulated at about a microsecond on this project's machines
 * (see /work/shared/MACHINE.md), so everything here is small and direct:
 * no SSE/x87, no int/iret, no traps.
 *
 * Reporting convention, shared by every guest and read by the integration
 * tests: each check prints "ok <guest>: <what>" or "FAIL <guest>: <what>";
 * the end prints "PASS <guest>" if nothing failed, else
 * "FAIL <guest>: <n> of <m> checks failed", then the guest powers off.
 */
#ifndef VMM_TEST_GUEST_RT_H
#define VMM_TEST_GUEST_RT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- port and memory-mapped I/O ---------------------------------------- */

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;

	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* The guest identity-maps the low 4 GiB, so a physical address is a pointer. */
static inline uint8_t mmio_read8(uint64_t pa)
{
	return *(volatile uint8_t *)(uintptr_t)pa;
}

static inline uint32_t mmio_read32(uint64_t pa)
{
	return *(volatile uint32_t *)(uintptr_t)pa;
}

static inline uint64_t mmio_read64(uint64_t pa)
{
	return *(volatile uint64_t *)(uintptr_t)pa;
}

static inline void mmio_write8(uint64_t pa, uint8_t v)
{
	*(volatile uint8_t *)(uintptr_t)pa = v;
}

static inline void mmio_write32(uint64_t pa, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)pa = v;
}

static inline void mmio_write64(uint64_t pa, uint64_t v)
{
	*(volatile uint64_t *)(uintptr_t)pa = v;
}

/* Plain (non-volatile) reads of firmware tables and the zero page. */
static inline uint8_t mem8(uint64_t pa)
{
	return *(const uint8_t *)(uintptr_t)pa;
}

static inline uint16_t mem16(uint64_t pa)
{
	return *(const uint16_t *)(uintptr_t)pa;
}

static inline uint32_t mem32(uint64_t pa)
{
	return *(const uint32_t *)(uintptr_t)pa;
}

static inline uint64_t mem64(uint64_t pa)
{
	return *(const uint64_t *)(uintptr_t)pa;
}

static inline void cpu_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

/* Stop this vCPU for good (IF is 0, so nothing wakes it). */
__attribute__((noreturn)) void cpu_halt_forever(void);

/* ---- freestanding libc bits (the compiler may emit calls to these) ------ */

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);

/* ---- console: 8250 at 0x3F8, polled ------------------------------------ */

#define COM1 0x3f8

/*
 * Route console output (default true). The uart guest turns it off while
 * the UART is in loopback mode, where a transmitted byte would come back
 * into the receive buffer instead of reaching the monitor's stdout.
 */
void con_enable(bool on);
void con_putc(char c);
void con_puts(const char *s);

/*
 * printf subset: %s %c %d %i %u %x %X %p %% with optional '0' flag, width
 * and 'l'/'ll' length (%ld %lu %lx ...). Unknown conversions are printed
 * verbatim. Returns nothing: the console cannot fail.
 */
void printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vprintf(const char *fmt, va_list ap);

/* ---- checks and the end of a run --------------------------------------- */

/* Name used in "ok/FAIL/PASS <name>" lines; set first thing in main(). */
void t_begin(const char *guest_name);

/*
 * Count a check; print "ok <guest>: <what>" if ok, "FAIL <guest>: <what>"
 * otherwise. `what` is a printf format describing the check and the values
 * seen. Returns ok, so a guest can skip checks that depend on this one.
 */
bool t_expect(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Record a failure that is not a yes/no comparison. */
void t_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print a line prefixed with the guest name (informational). */
void t_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Failures so far. */
unsigned t_failures(void);

/*
 * Print "PASS <guest>" if no check failed, else
 * "FAIL <guest>: <n> of <m> checks failed", then power off.
 */
__attribute__((noreturn)) void t_end(void);

/* ---- power ------------------------------------------------------------- */

/*
 * ACPI S5 through PM1a_CNT (port 0x604, SLP_TYP 5, SLP_EN). If the VM is
 * still running a while later (5000 reads of PM1a_STS), print a FAIL line,
 * try the i8042 reset, then halt for good: the harness's timeout catches
 * that.
 */
__attribute__((noreturn)) void power_off(void);

/*
 * Pulse the reset line through the i8042 (0xFE to port 0x64), waiting
 * (bounded) for its input buffer to drain first, as Linux's reboot does.
 * Returns only if the VM is still running a while later (5000 status reads).
 */
void i8042_reset(void);

/* ---- boot_params (the zero page) --------------------------------------- */

/* Offsets from Linux's arch/x86/include/uapi/asm/bootparam.h. */
#define BP_ACPI_RSDP_ADDR     0x070	/* u64 */
#define BP_EXT_RAMDISK_IMAGE  0x0c0	/* u32, bits 63:32 */
#define BP_EXT_RAMDISK_SIZE   0x0c4	/* u32, bits 63:32 */
#define BP_EXT_CMD_LINE_PTR   0x0c8	/* u32, bits 63:32 */
#define BP_E820_ENTRIES       0x1e8	/* u8 */
#define BP_HDR_SETUP_SECTS    0x1f1	/* u8 */
#define BP_HDR_BOOT_FLAG      0x1fe	/* u16, 0xAA55 */
#define BP_HDR_HEADER         0x202	/* u32, "HdrS" */
#define BP_HDR_VERSION        0x206	/* u16 */
#define BP_HDR_TYPE_OF_LOADER 0x210	/* u8 */
#define BP_HDR_LOADFLAGS      0x211	/* u8 */
#define BP_HDR_RAMDISK_IMAGE  0x218	/* u32 */
#define BP_HDR_RAMDISK_SIZE   0x21c	/* u32 */
#define BP_HDR_CMD_LINE_PTR   0x228	/* u32 */
#define BP_HDR_INITRD_MAX     0x22c	/* u32 */
#define BP_HDR_CMDLINE_SIZE   0x238	/* u32 */
#define BP_E820_TABLE         0x2d0	/* 128 x struct e820 (20 bytes) */
#define BP_E820_MAX           128

#define HDRS_MAGIC 0x53726448u	/* "HdrS" little-endian */

#define E820_RAM      1
#define E820_RESERVED 2
#define E820_ACPI     3
#define E820_NVS      4

struct e820 {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

/* Remember the zero page; start.S passes it to main(), main() calls this. */
void bp_init(const void *zero_page);
uint64_t bp_addr(void);
const char *bp_cmdline(void);	/* "" if cmd_line_ptr is 0 */
uint64_t bp_cmdline_addr(void);
uint64_t bp_ramdisk_addr(void);
uint64_t bp_ramdisk_size(void);
uint64_t bp_rsdp_addr(void);
/* Header version if the zero page carries a setup header ("HdrS"), else 0. */
uint16_t bp_boot_protocol(void);
unsigned bp_e820_count(void);	/* clamped to BP_E820_MAX */
struct e820 bp_e820(unsigned i);
/* Sum of E820_RAM sizes. */
uint64_t bp_e820_usable(void);
/* True if [addr, addr+len) lies inside one E820_RAM entry. */
bool bp_e820_covers(uint64_t addr, uint64_t len);

/* The guest image as linked (link.ld): [image_start, image_end). */
extern char __image_start[], __image_end[];

/* ---- command line ------------------------------------------------------ */

/*
 * Find "key=value" among the space-separated words of the command line.
 * Copies the value (NUL-terminated, truncated to size-1) into buf and
 * returns true if the key is there; a bare "key" gives "".
 */
bool cmdline_get(const char *key, char *buf, size_t size);

/*
 * Parse the value of `key` as an unsigned number: decimal, or hex with 0x,
 * with an optional K/M/G/T suffix (powers of 1024). Returns false if the key
 * is missing or the value malformed (then *out is untouched).
 */
bool cmdline_get_u64(const char *key, uint64_t *out);

/* True if `key` is absent from the command line or its comma list has item. */
bool cmdline_list_has(const char *key, const char *item);

/* The same parser on its own: returns false on a malformed number. */
bool parse_u64(const char *s, uint64_t *out);
/* Hex without prefix (0x accepted too). */
bool parse_hex(const char *s, uint64_t *out);

/* ---- ACPI -------------------------------------------------------------- */

/* Sum of len bytes from pa (checksummed tables sum to 0). */
uint8_t acpi_sum(uint64_t pa, uint64_t len);

/*
 * RSDP from boot_params.acpi_rsdp_addr, else scanned for in 0xE0000-0xFFFFF.
 * Returns its address or 0.
 */
uint64_t acpi_find_rsdp(void);

/*
 * Table with signature sig (4 chars) through the XSDT (revision >= 2) or
 * the RSDT; "DSDT" is found through the FADT. Returns its address or 0.
 */
uint64_t acpi_find_table(const char *sig);

struct madt_info {
	unsigned lapics;		/* enabled LAPIC + x2APIC entries */
	unsigned lapics_disabled;
	unsigned ioapics;
	uint32_t first_lapic_id;	/* of the first enabled entry */
	uint32_t lapic_addr;		/* MADT header field */
	uint32_t ioapic_addr;		/* first IOAPIC entry */
	uint32_t ioapic_gsi_base;
	unsigned overrides;		/* interrupt source overrides */
	uint32_t irq4_gsi;		/* ISA IRQ 4 after overrides */
};

/* Walk the MADT; returns false if there is none. */
bool acpi_madt(struct madt_info *mi);

/* ---- MP table (Intel MultiProcessor Specification 1.4) ----------------- */

/* "_MP_" on a 16-byte boundary: EBDA (BDA 0x40E, else 0x9FC00), 0xF0000. */
uint64_t mp_find_fps(void);

struct mp_info {
	uint64_t fps;		/* floating pointer structure */
	uint64_t table;		/* "PCMP" configuration table, 0 if none */
	bool fps_sum_ok;
	bool table_sum_ok;
	unsigned cpus;		/* processor entries with EN set */
	unsigned cpus_disabled;	/* processor entries without EN */
	unsigned bsp_count;	/* entries with BP set */
	uint8_t bsp_lapic_id;
	unsigned ioapics;
	uint32_t lapic_addr;
};

bool mp_walk(struct mp_info *mi);

/* ---- local APIC and IOAPIC --------------------------------------------- */

#define LAPIC_BASE  0xfee00000UL
#define IOAPIC_BASE 0xfec00000UL

uint32_t lapic_read(uint32_t reg);
void lapic_write(uint32_t reg, uint32_t v);
uint8_t lapic_id(void);
/* Software-enable through SVR (spurious vector 0xFF), TPR 0. */
void lapic_enable(void);
bool lapic_irr(uint8_t vector);
bool lapic_isr(uint8_t vector);
void lapic_eoi(void);

uint32_t ioapic_read(uint8_t reg);
void ioapic_write(uint8_t reg, uint32_t v);
/* Pins the IOAPIC has (from its version register). */
unsigned ioapic_pins(void);
/* Fixed delivery, physical destination, active high, edge, unmasked. */
void ioapic_route(unsigned pin, uint8_t vector, uint8_t dest_apic_id);
void ioapic_mask(unsigned pin);

/* ---- PCI configuration mechanism #1 ------------------------------------ */

uint32_t pci_cfg_read32(unsigned bus, unsigned dev, unsigned fn, unsigned reg);
uint16_t pci_cfg_read16(unsigned bus, unsigned dev, unsigned fn, unsigned reg);
uint8_t pci_cfg_read8(unsigned bus, unsigned dev, unsigned fn, unsigned reg);
void pci_cfg_write32(unsigned bus, unsigned dev, unsigned fn, unsigned reg,
		     uint32_t v);

/* ---- CMOS RTC ---------------------------------------------------------- */

uint8_t cmos_read(uint8_t reg);
void cmos_write(uint8_t reg, uint8_t v);

struct rtc_time {
	unsigned sec, min, hour, mday, mon, year;	/* year: ful, e.g. 2025 */
};

/*
 * Read the clock the way Linux's mc146818_get_time does: wait (bounded)
 * for UIP to clear, read, reread until two reads agree; decode BCD or
 * binary and 12/24 h per register B, century from register 0x32 when it
 * holds a plausible value (else 20xx). Returns false if UIP never cleared.
 */
bool rtc_read(struct rtc_time *t);

/* Seconds since 1970-01-01 00:00 UTC. */
uint64_t rtc_to_unix(const struct rtc_time *t);

#endif
