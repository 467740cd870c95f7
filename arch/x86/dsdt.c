/*
 * The DSDT's AML (what acpi.c puts after the DSDT header): \_S5_, then
 * \_SB with the PCI host bridge PCI0 (its _CRS windows and the _PRT that
 * routes INTx as x86_pci_intx_gsi() does) and the legacy PnP devices
 * COM1, RTC, KBD and MOU with their ports and ISA IRQs. Hand-assembled
 * (ACPI 6.0 section 20, "AML Specification") by the small emitters below;
 * `iasl -d` in the unit tests disassembles and recompiles it.
 */
#include "x86_priv.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "util.h"

/* IRQNoFlags has a 16-bit mask of ISA IRQs; IO's _LEN is one byte. */
_Static_assert(X86_COM1_IRQ < 16 && X86_RTC_IRQ < 16 && X86_I8042_KBD_IRQ < 16 &&
	       X86_I8042_AUX_IRQ < 16, "legacy IRQs are ISA IRQs");
_Static_assert(X86_COM1_PORTS <= 0xff && X86_RTC_PORTS <= 0xff, "IO descriptor _LEN");

/* DSDT, first object (AML): Name (_S5_, Package (4) { 5, 5, 0, 0 }) */
static const uint8_t dsdt_s5[] = {
	0x08,				/* NameOp */
	'_', 'S', '5', '_',		/* NameSeg "_S5_" (root scope) */
	0x12,				/* PackageOp */
	0x08,				/* PkgLength: 8 bytes, this one included */
	0x04,				/* NumElements */
	0x0a, X86_ACPI_S5_SLP_TYP,	/* BytePrefix: SLP_TYPa */
	0x0a, X86_ACPI_S5_SLP_TYP,	/* BytePrefix: SLP_TYPb */
	0x00,				/* ZeroOp: reserved */
	0x00,				/* ZeroOp: reserved */
};

/* AML opcodes and prefixes used below (ACPI 6.0 section 20.3). */
enum {
	AML_ZERO = 0x00, AML_ONE = 0x01, AML_NAME = 0x08,
	AML_BYTE = 0x0a, AML_WORD = 0x0b, AML_DWORD = 0x0c, AML_QWORD = 0x0e,
	AML_SCOPE = 0x10, AML_BUFFER = 0x11, AML_PACKAGE = 0x12,
	AML_EXT = 0x5b, AML_EXT_DEVICE = 0x82,	/* DeviceOp is ExtOpPrefix 0x82 */
};
#define AML_PKG_MAX 4	/* longest PkgLength encoding */

/*
 * An AML byte stream built into a fixed buffer. Emitters never write past
 * cap: the first thing that does not fit sets overflow and nothing more is
 * written, so callers check once at the end.
 */
struct aml {
	uint8_t *p;
	size_t len, cap;
	bool overflow;
};

static void aml_put(struct aml *a, const void *src, size_t n)
{
	if (a->overflow || n > a->cap - a->len) {
		a->overflow = true;
		return;
	}
	memcpy(a->p + a->len, src, n);
	a->len += n;
}

static void aml_byte(struct aml *a, uint8_t b)
{
	aml_put(a, &b, 1);
}

/* n bytes of v, little-endian (every multi-byte AML and resource field). */
static void aml_le(struct aml *a, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		aml_byte(a, (uint8_t)(v >> (8 * i)));
}

/* A NameSeg: exactly four characters, '_'-padded by the caller. */
static void aml_nameseg(struct aml *a, const char seg[4])
{
	aml_put(a, seg, 4);
}

/* Integer in its shortest encoding, as iasl writes it. */
static void aml_int(struct aml *a, uint64_t v)
{
	if (v <= 1) {
		aml_byte(a, v ? AML_ONE : AML_ZERO);
	} else if (v <= 0xff) {
		aml_byte(a, AML_BYTE);
		aml_le(a, v, 1);
	} else if (v <= 0xffff) {
		aml_byte(a, AML_WORD);
		aml_le(a, v, 2);
	} else if (v <= 0xffffffff) {
		aml_byte(a, AML_DWORD);
		aml_le(a, v, 4);
	} else {
		aml_byte(a, AML_QWORD);
		aml_le(a, v, 8);
	}
}

/*
 * Start a PkgLength-prefixed body: reserve the longest encoding and return
 * where it starts; aml_pkg_end writes the real one and closes the gap.
 */
static size_t aml_pkg_begin(struct aml *a)
{
	size_t start = a->len;

	aml_put(a, (const uint8_t[AML_PKG_MAX]){ 0 }, AML_PKG_MAX);
	return start;
}

/* Bytes of the PkgLength for a body of `body` bytes (it counts itself). */
static size_t aml_pkg_bytes(size_t body)
{
	if (body + 1 <= 0x3f)		/* 6 bits */
		return 1;
	if (body + 2 <= 0xfff)		/* 4 + 8 bits */
		return 2;
	if (body + 3 <= 0xfffff)	/* 4 + 16 bits */
		return 3;
	return 4;			/* 4 + 24 bits */
}

/*
 * One PkgLength byte holds the length in bits 0-5; longer forms put the
 * count of following bytes in bits 6-7, the low nibble in bits 0-3 and the
 * rest in the following bytes.
 */
static void aml_pkg_end(struct aml *a, size_t start)
{
	size_t body = a->len - start - AML_PKG_MAX, n = aml_pkg_bytes(body), total = body + n;
	uint8_t *p = a->p + start;

	if (a->overflow)
		return;
	if (n == 1) {
		p[0] = (uint8_t)total;
	} else {
		p[0] = (uint8_t)((n - 1) << 6 | (total & 0xf));
		for (size_t i = 1; i < n; i++)
			p[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	}
	memmove(p + n, p + AML_PKG_MAX, body);
	a->len -= AML_PKG_MAX - n;
}

/* Name (seg, v) */
static void aml_name_int(struct aml *a, const char seg[4], uint64_t v)
{
	aml_byte(a, AML_NAME);
	aml_nameseg(a, seg);
	aml_int(a, v);
}

/*
 * Name (seg, EisaId ("AAAhhhh")): three letters of 5 bits each ('A' = 1)
 * and four hex digits, packed big-endian into a DWordConst (always a
 * DWord, even when the value is small: that is how iasl writes it).
 */
static void aml_name_eisaid(struct aml *a, const char seg[4], const char id[8])
{
	uint32_t v = (uint32_t)(id[0] - '@') << 26 | (uint32_t)(id[1] - '@') << 21 |
		     (uint32_t)(id[2] - '@') << 16;

	for (unsigned i = 3; i < 7; i++)
		v |= (uint32_t)(id[i] <= '9' ? id[i] - '0' : id[i] - 'A' + 10) << (4 * (6 - i));
	aml_byte(a, AML_NAME);
	aml_nameseg(a, seg);
	aml_byte(a, AML_DWORD);
	aml_le(a, __builtin_bswap32(v), 4);
}

/* Name (seg, Buffer () { bytes }): ResourceTemplate is such a buffer. */
static void aml_name_buffer(struct aml *a, const char seg[4], const uint8_t *b, size_t n)
{
	size_t pkg;

	aml_byte(a, AML_NAME);
	aml_nameseg(a, seg);
	aml_byte(a, AML_BUFFER);
	pkg = aml_pkg_begin(a);
	aml_int(a, n);			/* BufferSize */
	aml_put(a, b, n);
	aml_pkg_end(a, pkg);
}

/*
 * Resource descriptors (ACPI 6.0 section 6.4) for the devices' _CRS.
 * Address space descriptors are all "ResourceProducer, PosDecode,
 * MinFixed, MaxFixed" windows of exactly [min, max]: granularity and
 * translation 0, length max - min + 1.
 */
enum crs_kind {
	CRS_BUS,	/* WordBusNumber */
	CRS_IO_PORTS,	/* IO (Decode16): ports [min, max] the device decodes */
	CRS_IO_WINDOW,	/* WordIO, EntireRange */
	CRS_MEM_WINDOW,	/* DWordMemory, NonCacheable, ReadWrite */
	CRS_ISA_IRQ,	/* IRQNoFlags: ISA IRQ min (= max), edge, active-high */
};

struct crs_entry {
	enum crs_kind kind;
	uint32_t min, max;
};

#define CRS_WORD_ADDR	0x88	/* large item: Word Address Space Descriptor */
#define CRS_DWORD_ADDR	0x87	/* large item: DWord Address Space Descriptor */
#define CRS_IRQ_NOFLAGS	0x22	/* small item 0x04 (IRQ), 2 bytes: mask only */
#define CRS_IO		0x47	/* small item 0x08 (I/O port), 7 bytes */
#define CRS_END		0x79	/* small item 0x0f (End Tag), 1 byte */
#define CRS_FIXED_WINDOW 0x0c	/* general flags: _MAF, _MIF; producer, positive decode */
#define CRS_SPACE_MEM	0
#define CRS_SPACE_IO	1
#define CRS_SPACE_BUS	2
#define CRS_IO_ENTIRE	0x03	/* IO type flags: _RNG both ISA and non-ISA ranges */
#define CRS_MEM_RW	0x01	/* memory type flags: _RW; _MEM 0 = non-cacheable */

/* The Word (size 2) or DWord (size 4) address space descriptor of e. */
static void crs_addr(struct aml *a, unsigned size, uint8_t space, uint8_t tflags,
		     const struct crs_entry *e)
{
	aml_byte(a, size == 2 ? CRS_WORD_ADDR : CRS_DWORD_ADDR);
	aml_le(a, 3 + 5 * size, 2);		/* length after this field */
	aml_byte(a, space);
	aml_byte(a, CRS_FIXED_WINDOW);
	aml_byte(a, tflags);
	aml_le(a, 0, size);			/* _GRA */
	aml_le(a, e->min, size);		/* _MIN */
	aml_le(a, e->max, size);		/* _MAX */
	aml_le(a, 0, size);			/* _TRA */
	aml_le(a, (uint64_t)e->max - e->min + 1, size);	/* _LEN */
}

static void crs_entry(struct aml *a, const struct crs_entry *e)
{
	switch (e->kind) {
	case CRS_BUS:
		crs_addr(a, 2, CRS_SPACE_BUS, 0, e);
		break;
	case CRS_IO_PORTS:
		aml_byte(a, CRS_IO);
		aml_byte(a, 0x01);			/* decodes 16 address bits */
		aml_le(a, e->min, 2);			/* _MIN */
		aml_le(a, e->min, 2);			/* _MAX: fixed at _MIN */
		aml_byte(a, 1);				/* _ALN */
		aml_byte(a, (uint8_t)(e->max - e->min + 1));	/* _LEN */
		break;
	case CRS_IO_WINDOW:
		crs_addr(a, 2, CRS_SPACE_IO, CRS_IO_ENTIRE, e);
		break;
	case CRS_MEM_WINDOW:
		crs_addr(a, 4, CRS_SPACE_MEM, CRS_MEM_RW, e);
		break;
	case CRS_ISA_IRQ:
		/* No flags byte: edge-triggered, active-high, exclusive. */
		aml_byte(a, CRS_IRQ_NOFLAGS);
		aml_le(a, 1u << e->min, 2);		/* _INT: one bit per IRQ 0..15 */
		break;
	}
}

/*
 * \_SB.PCI0._CRS: bus 0 only, the config ports (Linux drops exactly
 * 0xCF8-0xCFF from a host bridge's windows), all other I/O ports, and the
 * 32-bit window BARs are pre-assigned from. A 64-bit window above RAM can
 * join later as a QWordMemory entry.
 */
static const struct crs_entry pci0_crs[] = {
	{ CRS_BUS, 0, 0 },
	{ CRS_IO_PORTS, 0x0cf8, 0x0cff },	/* config mechanism #1 */
	{ CRS_IO_WINDOW, 0x0000, 0x0cf7 },
	{ CRS_IO_WINDOW, 0x0d00, 0xffff },
	{ CRS_MEM_WINDOW, (uint32_t)X86_PCI_MMIO_START, (uint32_t)(X86_PCI_MMIO_END - 1) },
};

/* Name (_CRS, ResourceTemplate () { e[0..n), EndTag }) */
static void aml_name_crs(struct aml *a, const struct crs_entry *e, size_t n)
{
	uint8_t buf[128];
	struct aml crs = { .p = buf, .cap = sizeof(buf) };

	for (size_t i = 0; i < n; i++)
		crs_entry(&crs, &e[i]);
	aml_byte(&crs, CRS_END);
	aml_byte(&crs, 0);		/* checksum 0: "treat as correct" */
	a->overflow |= crs.overflow;
	aml_name_buffer(a, "_CRS", crs.p, crs.len);
}

/*
 * Name (_PRT, Package () { Package () { 0xSSSSFFFF, pin, Zero, GSI }, ... })
 * for every slot and pin x86_pci_intx_gsi() covers. Source Zero is the
 * "GSI form" (ACPI 6.0 section 6.2.13): no link device, the last field is
 * the GSI itself, and the OS takes it as level-triggered, active-low.
 * Linux looks an entry up by (slot << 16 | 0xFFFF, the function's
 * interrupt pin - 1).
 */
static void aml_pci0_prt(struct aml *a)
{
	size_t prt, entry;

	aml_byte(a, AML_NAME);
	aml_nameseg(a, "_PRT");
	aml_byte(a, AML_PACKAGE);
	prt = aml_pkg_begin(a);
	aml_byte(a, PRT_ENTRIES);			/* NumElements */
	for (unsigned slot = X86_PCI_SLOT_MIN; slot <= X86_PCI_SLOT_MAX; slot++) {
		for (unsigned pin = 0; pin < X86_PCI_INTX_PINS; pin++) {
			aml_byte(a, AML_PACKAGE);
			entry = aml_pkg_begin(a);
			aml_byte(a, 4);			/* NumElements */
			aml_int(a, (uint64_t)slot << 16 | 0xffff);	/* _ADR: any function */
			aml_int(a, pin);
			aml_int(a, 0);			/* Source: none, GSI form */
			aml_int(a, x86_pci_intx_gsi(slot, pin));	/* Source Index: GSI */
			aml_pkg_end(a, entry);
		}
	}
	aml_pkg_end(a, prt);
}

/* Device (seg) { ...: returns the PkgLength start for aml_pkg_end. */
static size_t aml_device_begin(struct aml *a, const char seg[4])
{
	size_t dev;

	aml_byte(a, AML_EXT);
	aml_byte(a, AML_EXT_DEVICE);
	dev = aml_pkg_begin(a);
	aml_nameseg(a, seg);
	return dev;
}

/*
 * Device (PCI0): the PCI host bridge at segment 0, bus 0, with its
 * windows (_CRS) and INTx routing (_PRT). Functions that use MSI-X never
 * consult the _PRT; it is their INTx fallback.
 */
static void aml_pci0(struct aml *a)
{
	size_t dev = aml_device_begin(a, "PCI0");

	/*
	 * PNP0A03 only: a _CID of PNP0A08 would promise a PCIe root with
	 * ECAM (an MCFG) and an _OSC, none of which exist here.
	 */
	aml_name_eisaid(a, "_HID", "PNP0A03");	/* PCI host bridge */
	aml_name_int(a, "_UID", 0);
	aml_name_int(a, "_SEG", 0);		/* segment group 0 */
	aml_name_int(a, "_BBN", 0);		/* base bus number */
	aml_name_crs(a, pci0_crs, ARRAY_SIZE(pci0_crs));
	aml_pci0_prt(a);
	aml_pkg_end(a, dev);
}

/*
 * A fixed legacy device: no _STA (so present and enabled), no _SRS or
 * _PRS (so not reconfigurable), only what it decodes in _CRS.
 */
struct pnp_dev {
	char name[4];			/* NameSeg, '_'-padded */
	char hid[8];			/* EisaId */
	int uid;			/* _UID, or -1 for none */
	size_t ncrs;
	struct crs_entry crs[3];
};

#define PNP_PORTS(port, n)	{ CRS_IO_PORTS, (port), (port) + (n) - 1 }
#define PNP_IRQ(irq)		{ CRS_ISA_IRQ, (irq), (irq) }
/* .crs and its count from one list, so that they cannot disagree. */
#define PNP_CRS(...)							\
	.ncrs = sizeof((const struct crs_entry[]){ __VA_ARGS__ }) /		\
		sizeof(struct crs_entry),				\
	.crs = { __VA_ARGS__ }

/*
 * The devices monitor/machine.c puts at these ports and IRQs, with the
 * EisaIds Linux's drivers match: 8250_pnp (PNP0501), rtc_cmos (PNP0B00)
 * and i8042's PnP probe, which takes the data port from the keyboard's
 * first one-port IO, the command port from its second, the keyboard IRQ
 * from it and the AUX IRQ from the mouse (PNP0F13); a keyboard without a
 * mouse device reads as "AUX port disabled".
 */
static const struct pnp_dev pnp_devs[] = {
	{ "COM1", "PNP0501", 1,		/* 16550A-compatible UART */
	  PNP_CRS(PNP_PORTS(X86_COM1_PORT, X86_COM1_PORTS), PNP_IRQ(X86_COM1_IRQ)) },
	{ "RTC_", "PNP0B00", -1,	/* AT real-time clock */
	  PNP_CRS(PNP_PORTS(X86_RTC_PORT, X86_RTC_PORTS), PNP_IRQ(X86_RTC_IRQ)) },
	{ "KBD_", "PNP0303", -1,	/* IBM enhanced keyboard (i8042) */
	  PNP_CRS(PNP_PORTS(X86_I8042_DATA_PORT, 1), PNP_PORTS(X86_I8042_CMD_PORT, 1),
		  PNP_IRQ(X86_I8042_KBD_IRQ)) },
	{ "MOU_", "PNP0F13", -1,	/* PS/2 mouse: the i8042's AUX port */
	  PNP_CRS(PNP_IRQ(X86_I8042_AUX_IRQ)) },
};

/* Device (name) { Name (_HID, EisaId (hid)) [Name (_UID, uid)] Name (_CRS, ...) } */
static void aml_pnp_dev(struct aml *a, const struct pnp_dev *p)
{
	size_t dev = aml_device_begin(a, p->name);

	aml_name_eisaid(a, "_HID", p->hid);
	if (p->uid >= 0)
		aml_name_int(a, "_UID", (uint64_t)p->uid);
	aml_name_crs(a, p->crs, p->ncrs);
	aml_pkg_end(a, dev);
}

/* Scope (\_SB) { Device (PCI0) { ... } Device (COM1) { ... } ... } */
static void aml_sb(struct aml *a)
{
	size_t scope;

	aml_byte(a, AML_SCOPE);
	scope = aml_pkg_begin(a);
	aml_nameseg(a, "_SB_");		/* at the root: no '\' prefix needed */
	aml_pci0(a);
	for (size_t i = 0; i < ARRAY_SIZE(pnp_devs); i++)
		aml_pnp_dev(a, &pnp_devs[i]);
	aml_pkg_end(a, scope);
}

int x86_dsdt_aml(uint8_t *buf, size_t cap, size_t *len)
{
	struct aml a = { .p = buf, .cap = cap };

	aml_put(&a, dsdt_s5, sizeof(dsdt_s5));
	aml_sb(&a);
	if (a.overflow)
		return -ENOSPC;
	*len = a.len;
	return 0;
}
