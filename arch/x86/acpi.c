/*
 * ACPI tables (ACPI 6.0 layouts), all inside [X86_ACPI_ADDR, +ACPI_SIZE):
 * RSDP (revision 2) -> RSDT and XSDT -> FADT and MADT; FADT -> FACS, DSDT.
 * The machine is a PC in ACPI mode from the start (SMI_CMD 0): a PM1a
 * event/control block at fixed ports, the SCI on IRQ 9, no PM timer, no
 * GPE blocks, an i8042 (which also serves as the reset register) and no
 * VGA. The DSDT holds \_S5_, so that the OS can power off by writing
 * SLP_TYP|SLP_EN to PM1a_CNT, and the PCI host bridge \_SB.PCI0: with ACPI
 * on, Linux enumerates PCI only below host bridges in the namespace and
 * never falls back to scanning bus 0 itself; its _PRT routes INTx the way
 * x86_pci_intx_gsi() and the MP table do. Next to it the legacy devices
 * (\_SB.COM1, RTC, KBD, MOU) with their ports and ISA IRQs: ACPI Linux
 * finds them through PnP (drivers/pnp/pnpacpi), as on real firmware, and
 * its 8250, rtc_cmos and i8042 drivers bind to those PnP devices.
 *
 * The DSDT's AML comes from dsdt.c.
 */
#include "x86_priv.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "util.h"

/* Offsets of each table from X86_ACPI_ADDR (FACS needs 64-byte alignment). */
enum {
	ACPI_RSDP = 0x000,
	ACPI_RSDT = 0x040,
	ACPI_XSDT = 0x080,
	ACPI_FACS = 0x0c0,
	ACPI_FADT = 0x100,
	ACPI_DSDT = 0x240,
	ACPI_MADT = 0xc00,
	ACPI_SIZE = 0xf00,
};

struct acpi_hdr {
	char sig[4];
	uint32_t length;
	uint8_t revision, checksum;
	char oem_id[6], oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

struct acpi_rsdp {
	char sig[8];		/* "RSD PTR " */
	uint8_t checksum;	/* over the first 20 bytes */
	char oem_id[6];
	uint8_t revision;	/* 2: has the XSDT fields */
	uint32_t rsdt;
	uint32_t length;
	uint64_t xsdt;
	uint8_t ext_checksum;	/* over all 36 bytes */
	uint8_t reserved[3];
} __attribute__((packed));

struct acpi_gas {		/* Generic Address Structure */
	uint8_t space, bit_width, bit_offset, access_size;
	uint64_t addr;
} __attribute__((packed));

struct acpi_fadt {
	struct acpi_hdr h;
	uint32_t facs, dsdt;
	uint8_t reserved0, pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt, pm1b_evt, pm1a_cnt, pm1b_cnt, pm2_cnt, pm_tmr, gpe0, gpe1;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;
	uint8_t gpe0_len, gpe1_len, gpe1_base, cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_facs, x_dsdt;
	struct acpi_gas x_pm1a_evt, x_pm1b_evt, x_pm1a_cnt, x_pm1b_cnt, x_pm2_cnt;
	struct acpi_gas x_pm_tmr, x_gpe0, x_gpe1, sleep_ctl, sleep_sts;
	uint64_t hypervisor_id;
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_hdr) == 36, "ACPI header");
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP");
_Static_assert(offsetof(struct acpi_fadt, pm1a_evt) == 56, "FADT PM1a_EVT_BLK");
_Static_assert(offsetof(struct acpi_fadt, iapc_boot_arch) == 109, "FADT IAPC_BOOT_ARCH");
_Static_assert(offsetof(struct acpi_fadt, flags) == 112, "FADT flags");
_Static_assert(offsetof(struct acpi_fadt, x_dsdt) == 140, "FADT X_DSDT");
_Static_assert(offsetof(struct acpi_fadt, x_pm1a_cnt) == 172, "FADT X_PM1a_CNT_BLK");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT (ACPI 6.0)");
_Static_assert(ACPI_FADT + sizeof(struct acpi_fadt) <= ACPI_DSDT, "FADT overlaps DSDT");
/* MADT: header, LAPIC address and flags, CPUs, IOAPIC, 2 overrides, NMI. */
_Static_assert(ACPI_MADT + 44 + X86_MAX_CPUS * 8 + 12 + 2 * 10 + 6 <= ACPI_SIZE, "MADT");
_Static_assert(X86_ACPI_ADDR + ACPI_SIZE <= X86_MPTABLE_CFG_ADDR, "ACPI overlaps MP table");
/*
 * DSDT: header, \_S5_ and PCI0 without _PRT (under 200 bytes), the legacy
 * devices (under 200), then the _PRT: Name, PackageOp, PkgLength, count,
 * and per (slot, pin) at most 13 bytes: PackageOp, PkgLength, count, DWord
 * address, Byte pin, Zero, Byte GSI. acpi_dsdt() still checks the real
 * size.
 */
_Static_assert(PRT_ENTRIES <= 0xff, "_PRT: NumElements is one byte");
_Static_assert(ACPI_DSDT + 36 + 200 + 200 + 9 + PRT_ENTRIES * 13 <= ACPI_MADT, "DSDT slot");
/* The PCI window must be outside RAM and below the IOAPIC and LAPIC pages. */
_Static_assert(X86_PCI_MMIO_START >= X86_MMIO_HOLE_START &&
	       X86_PCI_MMIO_END <= X86_IOAPIC_ADDR &&
	       X86_PCI_MMIO_START < X86_PCI_MMIO_END, "PCI MMIO window");

#define FADT_WBINVD		(1u << 0)
#define FADT_PROC_C1		(1u << 2)
#define FADT_PWR_BUTTON		(1u << 4)	/* no fixed-feature power button */
#define FADT_SLP_BUTTON		(1u << 5)	/* no fixed-feature sleep button */
#define FADT_FIX_RTC		(1u << 6)	/* no RTC wake status in PM1 */
#define FADT_RESET_REG_SUP	(1u << 10)
#define BOOT_ARCH_LEGACY	(1u << 0)	/* ISA/LPC devices (UART, RTC) */
#define BOOT_ARCH_8042		(1u << 1)
#define BOOT_ARCH_NO_VGA	(1u << 2)
#define GAS_SYSTEM_IO		1

/* Fill a table header; the checksum is set by acpi_seal once it is whole. */
static void acpi_header(void *table, const char *sig, uint32_t len, uint8_t rev)
{
	struct acpi_hdr *h = table;

	memcpy(h->sig, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, "VMM   ", 6);
	memcpy(h->oem_table_id, "VMMX86  ", 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, "VMM ", 4);
	h->creator_revision = 1;
}

static void acpi_seal(void *table)
{
	struct acpi_hdr *h = table;

	h->checksum = 0;
	h->checksum = x86_checksum(table, h->length);
}

static void acpi_rsdp(uint8_t *buf)
{
	struct acpi_rsdp *r = (void *)(buf + ACPI_RSDP);

	memcpy(r->sig, "RSD PTR ", 8);
	memcpy(r->oem_id, "VMM   ", 6);
	r->revision = 2;
	r->rsdt = (uint32_t)(X86_ACPI_ADDR + ACPI_RSDT);
	r->length = sizeof(*r);
	r->xsdt = X86_ACPI_ADDR + ACPI_XSDT;
	r->checksum = x86_checksum(r, 20);
	r->ext_checksum = x86_checksum(r, sizeof(*r));
}

/* RSDT and XSDT: both list the FADT and the MADT. */
static void acpi_sdts(uint8_t *buf)
{
	const uint32_t tables[] = { X86_ACPI_ADDR + ACPI_FADT, X86_ACPI_ADDR + ACPI_MADT };
	uint8_t *rsdt = buf + ACPI_RSDT, *xsdt = buf + ACPI_XSDT;

	acpi_header(rsdt, "RSDT", 36 + 4 * (unsigned)ARRAY_SIZE(tables), 1);
	acpi_header(xsdt, "XSDT", 36 + 8 * (unsigned)ARRAY_SIZE(tables), 1);
	for (unsigned i = 0; i < (unsigned)ARRAY_SIZE(tables); i++) {
		uint64_t x = tables[i];

		memcpy(rsdt + 36 + 4 * i, &tables[i], 4);
		memcpy(xsdt + 36 + 8 * i, &x, 8);
	}
	acpi_seal(rsdt);
	acpi_seal(xsdt);
}

/* FACS: no checksum; waking vectors and global lock stay zero. */
static void acpi_facs(uint8_t *buf)
{
	uint8_t *f = buf + ACPI_FACS;
	uint32_t len = 64;

	memcpy(f, "FACS", 4);
	memcpy(f + 4, &len, 4);
	f[32] = 2;			/* version */
}

static struct acpi_gas acpi_io(uint16_t port, uint8_t bytes)
{
	return (struct acpi_gas){ .space = GAS_SYSTEM_IO, .bit_width = (uint8_t)(bytes * 8),
				  .addr = port };
}

static void acpi_fadt(uint8_t *buf)
{
	struct acpi_fadt *f = (void *)(buf + ACPI_FADT);

	acpi_header(f, "FACP", sizeof(*f), 6);
	f->facs = (uint32_t)(X86_ACPI_ADDR + ACPI_FACS);
	f->dsdt = (uint32_t)(X86_ACPI_ADDR + ACPI_DSDT);
	f->x_dsdt = f->dsdt;	/* X_FIRMWARE_CTRL must be 0 when FIRMWARE_CTRL is set */
	f->sci_int = X86_ACPI_SCI_IRQ;
	f->pm1a_evt = X86_ACPI_PM1A_EVT;
	f->pm1a_cnt = X86_ACPI_PM1A_CNT;
	f->pm1_evt_len = 4;
	f->pm1_cnt_len = 2;
	f->x_pm1a_evt = acpi_io(X86_ACPI_PM1A_EVT, 4);
	f->x_pm1a_cnt = acpi_io(X86_ACPI_PM1A_CNT, 2);
	f->p_lvl2_lat = 101;		/* > 100: no C2 */
	f->p_lvl3_lat = 1001;		/* > 1000: no C3 */
	f->iapc_boot_arch = BOOT_ARCH_LEGACY | BOOT_ARCH_8042 | BOOT_ARCH_NO_VGA;
	/* A fixed-feature power button (no FADT_PWR_BUTTON): PM1's PWRBTN, vmm-ctl powerdown */
	f->flags = FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_FIX_RTC |
		   FADT_RESET_REG_SUP;
	f->reset_reg = acpi_io(X86_I8042_CMD_PORT, 1);	/* i8042 command port ... */
	f->reset_value = 0xfe;			/* ... "pulse reset line" */
	acpi_seal(f);
}

/*
 * DSDT: \_S5_, then \_SB with PCI0 and the legacy devices. -ENOSPC if the
 * AML outgrows its slot.
 */
static int acpi_dsdt(uint8_t *buf)
{
	uint8_t *d = buf + ACPI_DSDT;
	size_t len;
	int err = x86_dsdt_aml(d + 36, ACPI_MADT - ACPI_DSDT - 36, &len);

	if (err)
		return err;
	acpi_header(d, "DSDT", (uint32_t)(36 + len), 2);
	acpi_seal(d);
	return 0;
}

/* Appends MADT entries (type, length, body). */
static uint8_t *madt_add(uint8_t *p, uint8_t type, const void *body, uint8_t len)
{
	p[0] = type;
	p[1] = (uint8_t)(len + 2);
	memcpy(p + 2, body, len);
	return p + 2 + len;
}

static uint8_t *madt_irq_override(uint8_t *p, uint8_t irq, uint32_t gsi, uint16_t flags)
{
	uint8_t iso[8] = { 0, irq };	/* bus 0 (ISA), source IRQ */

	memcpy(iso + 2, &gsi, 4);
	memcpy(iso + 6, &flags, 2);
	return madt_add(p, 2, iso, sizeof(iso));
}

static uint8_t *madt_chipset(uint8_t *p, unsigned ncpus)
{
	uint8_t ioapic[10] = { (uint8_t)ncpus, 0 };	/* id, reserved */
	uint32_t addr = (uint32_t)X86_IOAPIC_ADDR;
	const uint8_t nmi[4] = { 0xff, 0, 0, 1 };	/* all CPUs, flags 0, LINT1 */

	memcpy(ioapic + 2, &addr, 4);			/* GSI base stays 0 */
	p = madt_add(p, 1, ioapic, sizeof(ioapic));
	p = madt_irq_override(p, 0, 2, 0);		/* PIT: pin 2, bus default */
	/* SCI: level, active high (polarity 01, trigger 11). */
	p = madt_irq_override(p, X86_ACPI_SCI_IRQ, X86_ACPI_SCI_IRQ, 0x000d);
	return madt_add(p, 4, nmi, sizeof(nmi));
}

static void acpi_madt(uint8_t *buf, unsigned ncpus)
{
	uint8_t *m = buf + ACPI_MADT, *p = m + 44;
	uint32_t lapic = (uint32_t)X86_LAPIC_ADDR, flags = 1;	/* PCAT_COMPAT: 8259s */

	memcpy(m + 36, &lapic, 4);
	memcpy(m + 40, &flags, 4);
	for (unsigned i = 0; i < ncpus; i++) {
		/* ACPI processor UID, APIC id, flags: enabled */
		const uint8_t cpu[6] = { (uint8_t)i, (uint8_t)i, 1, 0, 0, 0 };

		p = madt_add(p, 0, cpu, sizeof(cpu));
	}
	p = madt_chipset(p, ncpus);
	acpi_header(m, "APIC", (uint32_t)(p - m), 4);
	acpi_seal(m);
}

int x86_acpi_setup(struct gmem *gm, unsigned ncpus)
{
	uint8_t buf[ACPI_SIZE];
	int err;

	if (ncpus == 0 || ncpus > X86_MAX_CPUS)
		return -EINVAL;
	memset(buf, 0, sizeof(buf));
	acpi_rsdp(buf);
	acpi_sdts(buf);
	acpi_facs(buf);
	acpi_fadt(buf);
	err = acpi_dsdt(buf);
	if (err)
		return err;
	acpi_madt(buf, ncpus);
	return gmem_write(gm, X86_ACPI_ADDR, buf, sizeof(buf));
}
