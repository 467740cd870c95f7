/*
 * Firmware tables built by x86_boot_setup for 1, 2, 8 and 64 vCPUs: the MP
 * floating pointer and configuration table (MP spec 1.4) and the ACPI
 * RSDP/RSDT/XSDT/FADT/FACS/DSDT/MADT, parsed here from raw bytes at the
 * spec's offsets: signatures, checksums, CPU counts and every entry,
 * including PCI INTx routing (slots 1..31, INTA..INTD -> GSI 16..23), which
 * the MP table and the DSDT's _PRT must describe alike, and the DSDT's
 * legacy PnP devices (COM1, RTC, KBD, MOU) byte for byte.
 * (test_acpi_iasl has ACPICA's iasl and acpiexec read the same tables.)
 */
#include <errno.h>

#include "log.h"
#include "x86_test.h"

static uint8_t sum8(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

/* Everything the firmware tables occupy must be e820-reserved. */
static int in_reserved(uint64_t addr, uint64_t len)
{
	return addr >= X86_EBDA_START && addr + len <= X86_HIMEM_START;
}

/*
 * The routing rule, written out here rather than taken from the code under
 * test: PCI bus 0 slot s pin p (0 = INTA) -> GSI 16 + (s + p) % 8.
 */
#define PCI_SLOTS 31	/* 1..31 */
#define PCI_INTS (PCI_SLOTS * 4)
static unsigned want_gsi(unsigned slot, unsigned pin)
{
	return 16 + (slot + pin) % 8;
}

static void test_intx_rule(void)
{
	unsigned bad = 0;

	for (unsigned slot = 1; slot <= PCI_SLOTS; slot++)
		for (unsigned pin = 0; pin < 4; pin++)
			bad += x86_pci_intx_gsi(slot, pin) != want_gsi(slot, pin);
	CHECK(bad == 0 && x86_pci_intx_gsi(1, 0) == 17 && x86_pci_intx_gsi(7, 0) == 23 &&
	      x86_pci_intx_gsi(8, 0) == 16 && x86_pci_intx_gsi(31, 3) == 18,
	      "x86_pci_intx_gsi = 16 + (slot + pin) %% 8 for slots 1..31, INTA..INTD (%u bad)", bad);
	CHECK(X86_PCI_SLOT_MIN == 1 && X86_PCI_SLOT_MAX == PCI_SLOTS && X86_PCI_INTX_PINS == 4 &&
	      X86_PCI_INTX_GSI_BASE == 16 && X86_PCI_INTX_GSIS == 8 && X86_IOAPIC_PINS == 24,
	      "boot.h INTx constants: slots 1..31, 4 pins, GSIs 16..23 of the IOAPIC's 24");
}

/* The PC's legacy devices where every OS expects them (monitor and DSDT). */
static void test_legacy_constants(void)
{
	CHECK(X86_COM1_PORT == 0x3f8 && X86_COM1_PORTS == 8 && X86_COM1_IRQ == 4,
	      "boot.h: COM1 at 0x3F8, 8 ports, IRQ 4");
	CHECK(X86_RTC_PORT == 0x70 && X86_RTC_PORTS == 2 && X86_RTC_IRQ == 8,
	      "boot.h: RTC at 0x70, 2 ports, IRQ 8");
	CHECK(X86_I8042_DATA_PORT == 0x60 && X86_I8042_CMD_PORT == 0x64 &&
	      X86_I8042_KBD_IRQ == 1 && X86_I8042_AUX_IRQ == 12,
	      "boot.h: i8042 data 0x60, command 0x64, keyboard IRQ 1, AUX IRQ 12");
}

/* What the MP configuration table's entries add up to. */
struct mp_seen {
	unsigned n, cpus, bsp, idbad, ioapic, extint, nmi, unsorted;
	int pci_id, isa_id;			/* bus ids by name, -1 until seen */
	unsigned isa_int, isa_bad, pci_int, pci_bad, other_int;
	uint8_t pci_seen[32 * 4];		/* per (slot << 2 | pin) */
};

/*
 * An I/O interrupt entry: ISA ones are IRQ n on pin n but IRQ0 on pin 2;
 * PCI ones are INT, level and active-low (flags 0x000f), source IRQ
 * slot << 2 | pin, on the IOAPIC pin of the routing rule.
 */
static void mp_ioint(struct mp_seen *m, const uint8_t *e, unsigned ncpus)
{
	unsigned slot = e[5] >> 2, pin = e[5] & 3;

	if ((int)e[4] == m->isa_id) {
		m->isa_int++;
		m->isa_bad += e[6] != ncpus || e[7] != (e[5] == 0 ? 2 : e[5]) || e[5] == 2;
	} else if ((int)e[4] == m->pci_id) {
		m->pci_int++;
		m->pci_bad += e[1] != 0 || rd16(e + 2) != 0x000f || e[6] != ncpus ||
			      slot < 1 || slot > PCI_SLOTS || e[7] != want_gsi(slot, pin) ||
			      m->pci_seen[e[5] & 0x7f]++;
	} else {
		m->other_int++;
	}
}

static void mp_entry(struct mp_seen *m, const uint8_t *e, unsigned ncpus)
{
	switch (e[0]) {
	case 0:
		m->idbad += e[1] != m->cpus || !(e[3] & 1);
		m->bsp += (e[3] & 2) ? (e[1] == 0 ? 1 : 100) : 0;
		m->cpus++;
		break;
	case 1:
		if (memcmp(e + 2, "ISA   ", 6) == 0)
			m->isa_id = e[1];
		if (memcmp(e + 2, "PCI   ", 6) == 0)
			m->pci_id = e[1];
		break;
	case 2:
		m->ioapic += e[1] == ncpus && (e[3] & 1) && rd32(e + 4) == X86_IOAPIC_ADDR;
		break;
	case 3:
		mp_ioint(m, e, ncpus);
		break;
	case 4:
		m->extint += e[1] == 3 && e[6] == 0xff && e[7] == 0;
		m->nmi += e[1] == 1 && e[6] == 0xff && e[7] == 1;
		break;
	}
}

/* Two PCI entries byte for byte: slot 1 INTA and slot 31 INTD. */
static void check_mp_pci_exact(const uint8_t *e, const uint8_t *end, unsigned ncpus)
{
	const uint8_t first[8] = { 3, 0, 0x0f, 0, 0, 1 << 2 | 0, (uint8_t)ncpus, 17 };
	const uint8_t last[8] = { 3, 0, 0x0f, 0, 0, 31 << 2 | 3, (uint8_t)ncpus, 18 };
	const uint8_t slot8[8] = { 3, 0, 0x0f, 0, 0, 8 << 2 | 0, (uint8_t)ncpus, 16 };

	CHECK(memmem(e, (size_t)(end - e), first, 8) && memmem(e, (size_t)(end - e), last, 8) &&
	      memmem(e, (size_t)(end - e), slot8, 8),
	      "MP PCI entries: bus 0 slot 1 INTA -> pin 17, slot 8 INTA -> 16, slot 31 INTD -> 18,"
	      " level, active-low");
}

static void check_mp_entries(const uint8_t *e, const uint8_t *end, unsigned ncpus,
			     unsigned count)
{
	struct mp_seen m = { .pci_id = -1, .isa_id = -1 };
	const uint8_t *start = e;
	unsigned last_type = 0;

	while (e < end) {
		m.unsorted += e[0] < last_type;
		last_type = e[0];
		mp_entry(&m, e, ncpus);
		e += e[0] == 0 ? 20 : 8;
		m.n++;
	}
	CHECK_EQ(m.n, count, "MP entry count matches the header");
	CHECK_EQ(m.unsorted, 0, "MP entries sorted by type (MP spec 4.3)");
	CHECK_EQ(m.cpus, ncpus, "MP processor entries");
	CHECK(m.idbad == 0 && m.bsp == 1, "MP CPUs enabled, APIC id = index, BSP flag only on 0");
	CHECK(m.ioapic == 1 && m.isa_id >= 0, "MP IOAPIC (id ncpus) and ISA bus");
	CHECK(m.pci_id == 0 && m.isa_id != m.pci_id, "MP bus 0 is \"PCI   \", ISA bus id %d distinct",
	      m.isa_id);
	CHECK(m.isa_int == 15 && m.isa_bad == 0,
	      "MP ISA IRQs 0-15 but 2, IRQ0 -> pin 2 (%u, %u bad)", m.isa_int, m.isa_bad);
	CHECK(m.pci_int == PCI_INTS && m.pci_bad == 0 && m.other_int == 0,
	      "MP PCI bus: %u I/O interrupt entries (want %u), each (slot, pin) once, "
	      "level/low to pin 16 + (slot + pin) %% 8 (%u bad, %u on no bus)",
	      m.pci_int, PCI_INTS, m.pci_bad, m.other_int);
	check_mp_pci_exact(start, end, ncpus);
	CHECK(m.extint == 1 && m.nmi == 1, "MP ExtINT on LINT0, NMI on LINT1");
}

static void check_mptable(const struct gmem *gm, const struct x86_boot_info *bi, unsigned ncpus)
{
	const uint8_t *f = gpa(gm, bi->mptable_addr, 16), *c;
	uint16_t len;

	CHECK_EQ(bi->mptable_addr, X86_MPTABLE_ADDR, "MP floating pointer address");
	CHECK_EQ(rd16(gpa(gm, 0x40e, 2)) << 4, X86_MPTABLE_ADDR, "BDA EBDA pointer");
	CHECK(memcmp(f, "_MP_", 4) == 0 && f[8] == 1 && f[9] == 4 && sum8(f, 16) == 0 && f[11] == 0,
	      "MP floating pointer: signature, length, rev 1.4, checksum, config table present");
	c = gpa(gm, rd32(f + 4), 44);
	len = rd16(c + 4);
	CHECK(memcmp(c, "PCMP", 4) == 0 && c[6] == 4, "MP config table signature, rev");
	CHECK(in_reserved(rd32(f + 4), len), "MP config table in reserved memory");
	CHECK_EQ(sum8(gpa(gm, rd32(f + 4), len), len), 0, "MP config table checksum");
	CHECK_EQ(rd32(c + 36), X86_LAPIC_ADDR, "MP local APIC address");
	check_mp_entries(c + 44, c + len, ncpus, rd16(c + 34));
}

/* A table at addr: signature, checksum, inside reserved memory. */
static const uint8_t *acpi_table(const struct gmem *gm, uint64_t addr, const char *sig)
{
	const uint8_t *t = gpa(gm, addr, 36);
	uint32_t len = rd32(t + 4);

	CHECK(memcmp(t, sig, 4) == 0, "%s signature at 0x%llx", sig, (unsigned long long)addr);
	CHECK(len >= 36 && in_reserved(addr, len) && sum8(gpa(gm, addr, len), len) == 0,
	      "%s length %u, in reserved memory, checksum", sig, len);
	return t;
}

/*
 * PCI0._PRT in raw AML: NameOp "_PRT", PackageOp, a two-byte PkgLength,
 * 124 elements; each Package (4) { DWord 0xSSSSFFFF, pin, Zero, Byte GSI }
 * in slot-then-pin order, in the shortest encodings (pin 0/1 as ZeroOp/
 * OneOp, 2/3 with BytePrefix), so 11 or 12 bytes after the PackageOp.
 */
static void check_dsdt_prt(const uint8_t *aml, size_t len)
{
	const uint8_t *p = memmem(aml, len, "\x08_PRT", 5), *end = aml + len;
	unsigned bad = 0, n = 0;

	CHECK(p && p + 9 <= end && p[5] == 0x12 && (p[6] >> 6) == 1 && p[8] == PCI_INTS,
	      "DSDT: Name (_PRT, Package (%u)) with a 2-byte PkgLength", PCI_INTS);
	if (!p || p + 9 > end)
		return;
	p += 9;
	for (unsigned slot = 1; slot <= PCI_SLOTS; slot++) {
		for (unsigned pin = 0; pin < 4; pin++, n++) {
			uint8_t want[13] = { 0x12, 0, 4, 0x0c, 0xff, 0xff, (uint8_t)slot, 0 };
			size_t k = 8;

			if (pin <= 1) {
				want[k++] = (uint8_t)pin;		/* ZeroOp / OneOp */
			} else {
				want[k++] = 0x0a;
				want[k++] = (uint8_t)pin;
			}
			want[k++] = 0;					/* Source: Zero */
			want[k++] = 0x0a;
			want[k++] = (uint8_t)want_gsi(slot, pin);
			want[1] = (uint8_t)(k - 1);			/* PkgLength */
			if (p + k > end || memcmp(p, want, k) != 0) {
				bad++;
				break;
			}
			p += k;
		}
	}
	CHECK(bad == 0 && n == PCI_INTS,
	      "DSDT: _PRT entries, slots 1..31 x INTA..INTD -> GSI 16 + (slot + pin) %% 8, "
	      "exact bytes (%u of %u checked)", n, PCI_INTS);
}

/*
 * The host bridge in raw AML (test_acpi_iasl has ACPICA read it all):
 * DeviceOp PCI0 with Name (_HID, EisaId ("PNP0A03")), and a _CRS whose
 * DWordMemory window is X86_PCI_MMIO_START .. X86_PCI_MMIO_END - 1.
 */
static void check_dsdt_pci0(const uint8_t *aml, size_t len)
{
	static const uint8_t hid[] = { 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03 };
	const uint8_t *dev = memmem(aml, len, "PCI0", 4);
	const uint32_t range[2] = { X86_PCI_MMIO_START, X86_PCI_MMIO_END - 1 };
	int devop = 0;

	/* DeviceOp (0x5b 0x82), a PkgLength of 1 to 4 bytes, then the name. */
	for (size_t n = 1; dev && n <= 4 && (size_t)(dev - aml) >= n + 2; n++)
		devop |= dev[-(long)n - 2] == 0x5b && dev[-(long)n - 1] == 0x82;
	CHECK(devop && memmem(dev, len - (size_t)(dev - aml), hid, sizeof(hid)),
	      "DSDT: Device (PCI0) with _HID EisaId(\"PNP0A03\") = 0x030ad041");
	CHECK(memmem(aml, len, "_CRS", 4) && memmem(aml, len, range, sizeof(range)),
	      "DSDT: PCI0._CRS names the MMIO window 0x%llx-0x%llx",
	      X86_PCI_MMIO_START, X86_PCI_MMIO_END - 1);
	check_dsdt_prt(aml, len);
}

/*
 * The legacy devices in raw AML, written out from the spec: each is
 * DeviceOp (5b 82), a one-byte PkgLength, the NameSeg, Name (_HID,
 * DWordConst EisaId), COM1's Name (_UID, One), and Name (_CRS, Buffer)
 * holding IO descriptors (47: Decode16, min, max, align 1, length),
 * IRQNoFlags (22: 16-bit IRQ mask) and the EndTag (79 00).
 */
static const uint8_t legacy_aml[] = {
	0x5b, 0x82, 0x2b, 'C', 'O', 'M', '1',
	0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01,		/* PNP0501 */
	0x08, '_', 'U', 'I', 'D', 0x01,
	0x08, '_', 'C', 'R', 'S', 0x11, 0x10, 0x0a, 0x0d,
	0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08,			/* 0x3F8, 8 */
	0x22, 0x10, 0x00, 0x79, 0x00,					/* IRQ 4 */
	0x5b, 0x82, 0x25, 'R', 'T', 'C', '_',
	0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0b, 0x00,		/* PNP0B00 */
	0x08, '_', 'C', 'R', 'S', 0x11, 0x10, 0x0a, 0x0d,
	0x47, 0x01, 0x70, 0x00, 0x70, 0x00, 0x01, 0x02,			/* 0x70, 2 */
	0x22, 0x00, 0x01, 0x79, 0x00,					/* IRQ 8 */
	0x5b, 0x82, 0x2d, 'K', 'B', 'D', '_',
	0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x03, 0x03,		/* PNP0303 */
	0x08, '_', 'C', 'R', 'S', 0x11, 0x18, 0x0a, 0x15,
	0x47, 0x01, 0x60, 0x00, 0x60, 0x00, 0x01, 0x01,			/* 0x60, 1 */
	0x47, 0x01, 0x64, 0x00, 0x64, 0x00, 0x01, 0x01,			/* 0x64, 1 */
	0x22, 0x02, 0x00, 0x79, 0x00,					/* IRQ 1 */
	0x5b, 0x82, 0x1d, 'M', 'O', 'U', '_',
	0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0f, 0x13,		/* PNP0F13 */
	0x08, '_', 'C', 'R', 'S', 0x11, 0x08, 0x0a, 0x05,
	0x22, 0x00, 0x10, 0x79, 0x00,					/* IRQ 12 */
};

/* A PkgLength at p (ACPI 6.0 section 20.2.4); *n gets its size in bytes. */
static size_t pkg_length(const uint8_t *p, size_t *n)
{
	size_t len = p[0] & 0x3f;

	*n = 1 + (p[0] >> 6);
	if (*n > 1)
		len = p[0] & 0x0f;
	for (size_t i = 1; i < *n; i++)
		len |= (size_t)p[i] << (4 + 8 * (i - 1));
	return len;
}

/*
 * After \_S5_ (s5_len bytes), Scope (\_SB) runs to the end of the table,
 * and the table ends with exactly the four legacy devices.
 */
static void check_dsdt_legacy(const uint8_t *aml, size_t len, size_t s5_len)
{
	const uint8_t *sc = aml + s5_len;
	size_t n = 0, scope = 0;

	if (len > s5_len + 8 && sc[0] == 0x10)
		scope = pkg_length(sc + 1, &n);
	CHECK(scope && 1 + scope == len - s5_len && memcmp(sc + 1 + n, "_SB_", 4) == 0,
	      "DSDT: Scope (\\_SB) right after \\_S5_, to the end of the table");
	CHECK(len >= sizeof(legacy_aml) &&
	      memcmp(aml + len - sizeof(legacy_aml), legacy_aml, sizeof(legacy_aml)) == 0,
	      "DSDT: \\_SB ends with Device (COM1) PNP0501 _UID 1 IO 0x3F8/8 IRQ 4, "
	      "RTC PNP0B00 IO 0x70/2 IRQ 8, KBD PNP0303 IO 0x60/1 0x64/1 IRQ 1, "
	      "MOU PNP0F13 IRQ 12, exact bytes");
}

static void check_fadt(const struct gmem *gm, const uint8_t *f)
{
	static const uint8_t s5[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04,
				      0x0a, X86_ACPI_S5_SLP_TYP, 0x0a, X86_ACPI_S5_SLP_TYP, 0, 0 };
	const uint8_t *d;

	CHECK(f[8] >= 5 && rd32(f + 4) >= 268, "FADT revision %u, length %u", f[8], rd32(f + 4));
	CHECK(rd32(f + 56) == X86_ACPI_PM1A_EVT && f[88] == 4, "FADT PM1a_EVT_BLK, len 4");
	CHECK(rd32(f + 64) == X86_ACPI_PM1A_CNT && f[89] == 2, "FADT PM1a_CNT_BLK, len 2");
	CHECK(rd64(f + 152) == X86_ACPI_PM1A_EVT && rd64(f + 176) == X86_ACPI_PM1A_CNT &&
	      f[148] == 1 && f[172] == 1, "FADT X_PM1a blocks in system I/O");
	CHECK(rd16(f + 46) == X86_ACPI_SCI_IRQ && rd32(f + 48) == 0, "FADT SCI_INT, SMI_CMD 0");
	CHECK(rd32(f + 76) == 0 && f[91] == 0, "FADT: no PM timer");
	CHECK(!(rd32(f + 112) & (1u << 20)), "FADT not HW_REDUCED_ACPI");
	CHECK((rd16(f + 109) & 0xe) == 0x6, "IAPC_BOOT_ARCH: 8042, no VGA, MSI allowed");
	CHECK(rd32(f + 40) == rd64(f + 140) && rd32(f + 36) != 0 && rd64(f + 132) == 0,
	      "FADT DSDT == X_DSDT; FIRMWARE_CTRL set, so X_FIRMWARE_CTRL 0");
	d = acpi_table(gm, rd64(f + 140), "DSDT");
	CHECK(rd32(d + 4) >= 36 + sizeof(s5) && memcmp(d + 36, s5, sizeof(s5)) == 0,
	      "DSDT: Name(_S5_, Package(4){%d, %d, 0, 0}) first, at the root",
	      X86_ACPI_S5_SLP_TYP, X86_ACPI_S5_SLP_TYP);
	check_dsdt_pci0(d + 36, rd32(d + 4) - 36);
	check_dsdt_legacy(d + 36, rd32(d + 4) - 36, sizeof(s5));
	CHECK(memcmp(gpa(gm, rd32(f + 36), 64), "FACS", 4) == 0 && rd32(f + 36) % 64 == 0,
	      "FACS signature, 64-byte aligned");
}

static void check_madt(const uint8_t *m, unsigned ncpus)
{
	const uint8_t *e = m + 44, *end = m + rd32(m + 4);
	unsigned cpus = 0, bad = 0, ioapic = 0, iso0 = 0, iso9 = 0, nmi = 0, pci = 0;

	CHECK_EQ(rd32(m + 36), X86_LAPIC_ADDR, "MADT local APIC address");
	for (; e + 2 <= end && e[1] >= 2; e += e[1]) {
		if (e[0] == 0) {
			bad += e[3] != cpus || !(rd32(e + 4) & 1) || e[1] != 8;
			cpus++;
		} else if (e[0] == 1) {
			ioapic += e[2] == ncpus && rd32(e + 4) == X86_IOAPIC_ADDR && rd32(e + 8) == 0;
		} else if (e[0] == 2) {
			iso0 += e[3] == 0 && rd32(e + 4) == 2;
			iso9 += e[3] == 9 && rd32(e + 4) == 9 && rd16(e + 8) == 0x000d;
			pci += rd32(e + 4) >= 16 && rd32(e + 4) < 24;
		} else if (e[0] == 4) {
			nmi += e[2] == 0xff && e[5] == 1;
		}
	}
	CHECK(e == end, "MADT entries fill the table exactly");
	CHECK(cpus == ncpus && bad == 0, "MADT %u local APICs enabled, id = index", cpus);
	CHECK_EQ(ioapic, 1, "MADT IOAPIC id ncpus, GSI base 0");
	CHECK(iso0 == 1 && iso9 == 1, "MADT overrides IRQ0 -> GSI2, IRQ9 level/high");
	CHECK_EQ(pci, 0, "MADT: no override onto the PCI INTx GSIs 16..23 (the _PRT says level/low)");
	CHECK_EQ(nmi, 1, "MADT local APIC NMI on LINT1");
}

static void check_acpi(const struct gmem *gm, const struct x86_boot_info *bi, unsigned ncpus)
{
	const uint8_t *r = gpa(gm, bi->rsdp_addr, 36), *x, *rs;
	const uint8_t *fadt = NULL, *madt = NULL;
	unsigned n;

	CHECK(memcmp(r, "RSD PTR ", 8) == 0 && r[15] == 2 && rd32(r + 20) == 36,
	      "RSDP signature, revision 2, length 36");
	CHECK(sum8(r, 20) == 0 && sum8(r, 36) == 0, "RSDP checksums");
	x = acpi_table(gm, rd64(r + 24), "XSDT");
	rs = acpi_table(gm, rd32(r + 16), "RSDT");
	n = (rd32(x + 4) - 36) / 8;
	CHECK(n == (rd32(rs + 4) - 36) / 4, "RSDT and XSDT list the same number of tables");
	for (unsigned i = 0; i < n; i++) {
		uint64_t a = rd64(x + 36 + 8 * i);
		const uint8_t *t = gpa(gm, a, 36);

		CHECK_EQ(rd32(rs + 36 + 4 * i), a, "RSDT entry = XSDT entry");
		if (memcmp(t, "FACP", 4) == 0)
			fadt = acpi_table(gm, a, "FACP");
		else if (memcmp(t, "APIC", 4) == 0)
			madt = acpi_table(gm, a, "APIC");
	}
	CHECK(fadt && madt, "XSDT lists a FADT and a MADT");
	if (fadt)
		check_fadt(gm, fadt);
	if (madt)
		check_madt(madt, ncpus);
}

/* Length of the ACPI table at addr, from its header. */
static uint64_t tlen(const struct gmem *gm, uint64_t addr)
{
	return rd32(gpa(gm, addr + 4, 4));
}

/*
 * No two firmware structures overlap: the DSDT grew with the _PRT and the
 * MP table with its PCI entries, so check every range against every other.
 */
static void check_layout(const struct gmem *gm, const struct x86_boot_info *bi)
{
	const uint8_t *r = gpa(gm, bi->rsdp_addr, 36), *x = gpa(gm, rd64(r + 24), 36);
	uint64_t rg[16][2], fadt = 0, mpcfg = rd32(gpa(gm, bi->mptable_addr + 4, 4));
	unsigned n = 0, overlaps = 0;

	rg[n][0] = bi->rsdp_addr, rg[n++][1] = 36;
	rg[n][0] = rd64(r + 24), rg[n++][1] = tlen(gm, rd64(r + 24));
	rg[n][0] = rd32(r + 16), rg[n++][1] = tlen(gm, rd32(r + 16));
	for (unsigned i = 0; i < (rd32(x + 4) - 36) / 8 && n < 8; i++) {
		uint64_t a = rd64(x + 36 + 8 * i);

		rg[n][0] = a, rg[n++][1] = tlen(gm, a);
		if (memcmp(gpa(gm, a, 4), "FACP", 4) == 0)
			fadt = a;
	}
	if (fadt) {
		rg[n][0] = rd32(gpa(gm, fadt + 36, 4)), rg[n++][1] = 64;
		rg[n][0] = rd64(gpa(gm, fadt + 140, 8)), rg[n][1] = tlen(gm, rg[n][0]), n++;
	}
	rg[n][0] = bi->mptable_addr, rg[n++][1] = 16;
	rg[n][0] = mpcfg, rg[n++][1] = rd16(gpa(gm, mpcfg + 4, 2));
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = i + 1; j < n; j++)
			overlaps += rg[i][0] < rg[j][0] + rg[j][1] && rg[j][0] < rg[i][0] + rg[i][1];
	CHECK(fadt && n == 9 && overlaps == 0,
	      "RSDP, XSDT, RSDT, FADT, MADT, FACS, DSDT, MP pointer and table: "
	      "%u ranges, %u overlaps", n, overlaps);
}

static void test_ncpus(const struct gmem *gm, unsigned ncpus)
{
	struct telf t;
	struct x86_boot_config cfg = { .kernel = t.bytes, .kernel_len = sizeof(t.bytes),
				       .cmdline = "", .ncpus = ncpus };
	struct x86_boot_info bi;

	printf("# %u vCPUs\n", ncpus);
	telf_build(&t);
	CHECK_EQ(x86_boot_setup((struct gmem *)gm, &cfg, &bi), 0, "x86_boot_setup");
	CHECK_EQ(bi.rsdp_addr, X86_ACPI_ADDR, "rsdp_addr");
	check_mptable(gm, &bi, ncpus);
	check_acpi(gm, &bi, ncpus);
	check_layout(gm, &bi);
}

int main(void)
{
	static const unsigned counts[] = { 1, 2, 8, 64, 3 };
	struct gmem gm;

	log_set_level(LOG_ERR);
	test_intx_rule();
	test_legacy_constants();
	if (test_gmem_new(&gm, 64 * MiB) != 0)
		CHECK_SKIP_ALL("cannot allocate 64 MiB");
	/* Last a smaller count over a larger one: stale entries must not show. */
	for (unsigned i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		test_ncpus(&gm, counts[i]);
	test_gmem_free(&gm);
	return check_done();
}
