/*
 * MultiProcessor Specification 1.4 tables, for kernels booted without
 * ACPI: the floating pointer in the first KiB of the EBDA (where the BIOS
 * data area says the EBDA is) and the configuration table in the BIOS
 * area at X86_MPTABLE_CFG_ADDR, because 64 processor entries do not fit in
 * the EBDA's 1 KiB. Virtual-wire mode (no IMCR): the 8259 reaches LINT0
 * as ExtINT, NMI reaches LINT1, ISA IRQs go to the IOAPIC pin of the same
 * number except IRQ0 (the PIT) which is wired to pin 2, as on PCs. PCI
 * bus 0 INTx goes where x86_pci_intx_gsi() says: one I/O interrupt entry
 * per slot and pin, the same table the DSDT's _PRT gives ACPI kernels.
 */
#include "x86_priv.h"

#include <errno.h>
#include <string.h>

#define MP_SPEC_REV	4	/* 1.4 */
#define MP_LAPIC_VER	0x14
#define MP_IOAPIC_VER	0x11
#define MP_BUS_PCI	0
#define MP_BUS_ISA	1
#define MP_POL_LOW	0x3		/* I/O interrupt flags, bits 0-1: active low */
#define MP_TRIG_LEVEL	(0x3 << 2)	/* bits 2-3: level-triggered */
#define MP_PCI_INTS	((X86_PCI_SLOT_MAX - X86_PCI_SLOT_MIN + 1) * X86_PCI_INTX_PINS)

enum mp_entry_type { MP_PROC, MP_BUS, MP_IOAPIC, MP_IOINT, MP_LINT };
enum mp_int_type { MP_INT, MP_NMI, MP_SMI, MP_EXTINT };

struct mp_fptr {
	char sig[4];		/* "_MP_" */
	uint32_t cfg_addr;
	uint8_t length;		/* in 16-byte units */
	uint8_t spec_rev;
	uint8_t checksum;
	uint8_t feature[5];	/* 0: config table present; IMCRP clear */
} __attribute__((packed));

struct mp_cfg {
	char sig[4];		/* "PCMP" */
	uint16_t length;	/* header and entries */
	uint8_t spec_rev;
	uint8_t checksum;
	char oem[8];
	char product[12];
	uint32_t oem_table;
	uint16_t oem_table_size, entry_count;
	uint32_t lapic_addr;
	uint16_t ext_length;
	uint8_t ext_checksum, reserved;
} __attribute__((packed));

struct mp_proc {
	uint8_t type, apic_id, apic_ver, flags;	/* flags: 1 enabled, 2 BSP */
	uint32_t signature, features;
	uint32_t reserved[2];
} __attribute__((packed));

struct mp_bus {
	uint8_t type, id;
	char name[6];
} __attribute__((packed));

struct mp_ioapic {
	uint8_t type, id, ver, flags;	/* flags: 1 enabled */
	uint32_t addr;
} __attribute__((packed));

/* I/O and local interrupt assignment entries share one layout. */
struct mp_int {
	uint8_t type, int_type;
	uint16_t flags;		/* polarity, trigger: 0 = bus default */
	uint8_t src_bus, src_irq, dst_id, dst_pin;
} __attribute__((packed));

_Static_assert(sizeof(struct mp_fptr) == 16, "MP floating pointer");
_Static_assert(sizeof(struct mp_cfg) == 44, "MP config header");
_Static_assert(sizeof(struct mp_proc) == 20, "MP processor entry");
_Static_assert(sizeof(struct mp_int) == 8, "MP interrupt entry");

#define MP_CFG_MAX (sizeof(struct mp_cfg) + X86_MAX_CPUS * sizeof(struct mp_proc) + \
		    2 * sizeof(struct mp_bus) + sizeof(struct mp_ioapic) + \
		    (18 + MP_PCI_INTS) * sizeof(struct mp_int))

/* 64 CPUs and 124 PCI entries: 2484 bytes, well inside the e820 hole. */
_Static_assert(X86_MPTABLE_CFG_ADDR + MP_CFG_MAX <= X86_HIMEM_START &&
	       X86_MPTABLE_CFG_ADDR >= X86_EBDA_START && MP_CFG_MAX <= UINT16_MAX,
	       "MP config table: reserved memory, 16-bit length");
/* srcbusirq holds the device number in bits 2-6 and the pin in bits 0-1. */
_Static_assert(X86_PCI_SLOT_MAX < 32 && X86_PCI_INTX_PINS == 4, "MP PCI source IRQ");

uint8_t x86_checksum(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint8_t sum = 0;

	while (len--)
		sum += *p++;
	return (uint8_t)-sum;
}

/* Appends entries to a table being built; counts them. */
struct mp_buf {
	uint8_t data[MP_CFG_MAX];
	size_t len;
	unsigned count;
};

static void mp_add(struct mp_buf *b, const void *entry, size_t len)
{
	memcpy(b->data + b->len, entry, len);
	b->len += len;
	b->count++;
}

static void mp_add_cpus(struct mp_buf *b, unsigned ncpus)
{
	for (unsigned i = 0; i < ncpus; i++) {
		struct mp_proc p = {
			.type = MP_PROC, .apic_id = (uint8_t)i, .apic_ver = MP_LAPIC_VER,
			.flags = 1 | (i == 0 ? 2 : 0),
			.signature = 0x600,	/* family 6 */
			.features = 0x201,	/* FPU, APIC */
		};
		mp_add(b, &p, sizeof(p));
	}
}

static void mp_add_int(struct mp_buf *b, uint8_t type, uint8_t int_type,
		       uint8_t irq, uint8_t dst_id, uint8_t pin)
{
	struct mp_int e = { .type = type, .int_type = int_type, .src_bus = MP_BUS_ISA,
			    .src_irq = irq, .dst_id = dst_id, .dst_pin = pin };

	mp_add(b, &e, sizeof(e));
}

/*
 * PCI bus 0 INTx, slot by slot, INTA..INTD: source IRQ (slot << 2) | pin
 * (MP spec 1.4, D.3), level-triggered and active-low, spelled out rather
 * than left to the PCI bus default.
 */
static void mp_add_pci_ints(struct mp_buf *b, uint8_t ioapic_id)
{
	for (unsigned slot = X86_PCI_SLOT_MIN; slot <= X86_PCI_SLOT_MAX; slot++) {
		for (unsigned pin = 0; pin < X86_PCI_INTX_PINS; pin++) {
			struct mp_int e = {
				.type = MP_IOINT, .int_type = MP_INT,
				.flags = MP_POL_LOW | MP_TRIG_LEVEL, .src_bus = MP_BUS_PCI,
				.src_irq = (uint8_t)(slot << 2 | pin), .dst_id = ioapic_id,
				.dst_pin = (uint8_t)x86_pci_intx_gsi(slot, pin),
			};
			mp_add(b, &e, sizeof(e));
		}
	}
}

static void mp_add_chipset(struct mp_buf *b, unsigned ncpus)
{
	const struct mp_bus pci = { MP_BUS, MP_BUS_PCI, "PCI   " };
	const struct mp_bus isa = { MP_BUS, MP_BUS_ISA, "ISA   " };
	const struct mp_ioapic io = { MP_IOAPIC, (uint8_t)ncpus, MP_IOAPIC_VER, 1,
				      (uint32_t)X86_IOAPIC_ADDR };

	mp_add(b, &pci, sizeof(pci));
	mp_add(b, &isa, sizeof(isa));
	mp_add(b, &io, sizeof(io));
	for (uint8_t irq = 0; irq < 16; irq++) {
		if (irq == 2)	/* the cascade: pin 2 carries IRQ0 */
			continue;
		mp_add_int(b, MP_IOINT, MP_INT, irq, (uint8_t)ncpus, irq == 0 ? 2 : irq);
	}
	mp_add_pci_ints(b, (uint8_t)ncpus);
	mp_add_int(b, MP_LINT, MP_EXTINT, 0, 0xff, 0);
	mp_add_int(b, MP_LINT, MP_NMI, 0, 0xff, 1);
}

static void mp_fill_header(struct mp_buf *b)
{
	struct mp_cfg *c = (struct mp_cfg *)b->data;

	memcpy(c->sig, "PCMP", 4);
	c->length = (uint16_t)b->len;
	c->spec_rev = MP_SPEC_REV;
	memcpy(c->oem, "VMM     ", 8);
	memcpy(c->product, "VMM-X86     ", 12);
	c->entry_count = (uint16_t)b->count;
	c->lapic_addr = (uint32_t)X86_LAPIC_ADDR;
	c->checksum = x86_checksum(b->data, b->len);
}

int x86_mptable_setup(struct gmem *gm, unsigned ncpus)
{
	static const struct mp_cfg hdr_zero;
	struct mp_buf b = { .len = sizeof(hdr_zero) };
	struct mp_fptr f = { .sig = "_MP_", .cfg_addr = (uint32_t)X86_MPTABLE_CFG_ADDR,
			     .length = 1, .spec_rev = MP_SPEC_REV };

	if (ncpus == 0 || ncpus > X86_MAX_CPUS)
		return -EINVAL;
	memset(b.data, 0, sizeof(hdr_zero));
	mp_add_cpus(&b, ncpus);
	mp_add_chipset(&b, ncpus);
	mp_fill_header(&b);
	f.checksum = x86_checksum(&f, sizeof(f));
	if (gmem_write(gm, X86_MPTABLE_ADDR, &f, sizeof(f)) != 0 ||
	    gmem_write(gm, X86_MPTABLE_CFG_ADDR, b.data, b.len) != 0)
		return -EFAULT;
	return 0;
}
