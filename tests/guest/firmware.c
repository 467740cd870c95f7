/*
 * Firmware tables the monitor builds: ACPI (RSDP, RSDT/XSDT, FADT, MADT,
 * DSDT) and the MP table. Every walk is bounded by the lengths the tables
 * declare and by a hard cap, so a broken table gives a FAIL, not a hang.
 */
#include "rt.h"

#define ACPI_HDR_LEN 36
#define ACPI_MAX_TABLE (1u << 20)	/* sanity cap on a declared length */

uint8_t acpi_sum(uint64_t pa, uint64_t len)
{
	uint8_t s = 0;

	while (len--)
		s += mem8(pa++);
	return s;
}

static bool sig_is(uint64_t pa, const char *sig, size_t n)
{
	return !memcmp((const void *)(uintptr_t)pa, sig, n);
}

uint64_t acpi_find_rsdp(void)
{
	uint64_t pa = bp_rsdp_addr();

	if (pa && pa < (1UL << 32) && sig_is(pa, "RSD PTR ", 8))
		return pa;
	for (pa = 0xe0000; pa < 0x100000; pa += 16)
		if (sig_is(pa, "RSD PTR ", 8) && !acpi_sum(pa, 20))
			return pa;
	return 0;
}

/* Address of entry i of the RSDT/XSDT at root, entries of esz bytes. */
static uint64_t root_entry(uint64_t root, unsigned esz, unsigned i)
{
	uint64_t e = root + ACPI_HDR_LEN + (uint64_t)i * esz;

	return esz == 8 ? mem64(e) : mem32(e);
}

uint64_t acpi_find_table(const char *sig)
{
	uint64_t rsdp = acpi_find_rsdp(), root, fadt;
	unsigned esz, i, n, len;

	if (!rsdp)
		return 0;
	if (!memcmp(sig, "DSDT", 4)) {
		fadt = acpi_find_table("FACP");
		if (!fadt)
			return 0;
		if (mem32(fadt + 4) >= 148 && mem64(fadt + 140))
			return mem64(fadt + 140);	/* X_DSDT */
		return mem32(fadt + 40);
	}
	if (mem8(rsdp + 15) >= 2 && mem64(rsdp + 24)) {
		root = mem64(rsdp + 24), esz = 8;
	} else {
		root = mem32(rsdp + 16), esz = 4;
	}
	if (!root || root >= (1UL << 32))
		return 0;
	len = mem32(root + 4);
	if (len < ACPI_HDR_LEN || len > ACPI_MAX_TABLE)
		return 0;
	n = (len - ACPI_HDR_LEN) / esz;
	for (i = 0; i < n; i++) {
		uint64_t t = root_entry(root, esz, i);

		if (t && t < (1UL << 32) && sig_is(t, sig, 4))
			return t;
	}
	return 0;
}

static void madt_entry(uint64_t e, struct madt_info *mi)
{
	uint32_t flags;

	switch (mem8(e)) {
	case 0:		/* processor local APIC */
	case 9:		/* processor local x2APIC */
		flags = mem8(e) ? mem32(e + 8) : mem32(e + 4);
		if (!(flags & 1)) {
			mi->lapics_disabled++;
			break;
		}
		if (!mi->lapics)
			mi->first_lapic_id = mem8(e) ? mem32(e + 4) : mem8(e + 3);
		mi->lapics++;
		break;
	case 1:		/* IOAPIC */
		if (!mi->ioapics) {
			mi->ioapic_addr = mem32(e + 4);
			mi->ioapic_gsi_base = mem32(e + 8);
		}
		mi->ioapics++;
		break;
	case 2:		/* interrupt source override */
		mi->overrides++;
		if (mem8(e + 2) == 0 && mem8(e + 3) == 4)
			mi->irq4_gsi = mem32(e + 4);
		break;
	}
}

bool acpi_madt(struct madt_info *mi)
{
	uint64_t madt = acpi_find_table("APIC"), e, end;

	memset(mi, 0, sizeof(*mi));
	mi->irq4_gsi = 4;
	if (!madt)
		return false;
	end = madt + mem32(madt + 4);
	if (end - madt > ACPI_MAX_TABLE)
		return false;
	mi->lapic_addr = mem32(madt + 36);
	for (e = madt + 44; e + 2 <= end; e += mem8(e + 1)) {
		if (mem8(e + 1) < 2 || e + mem8(e + 1) > end)
			break;	/* malformed: stop rather than loop */
		madt_entry(e, mi);
	}
	return true;
}

/* ---- MP table ---------------------------------------------------------- */

static uint64_t mp_scan(uint64_t start, uint64_t len)
{
	uint64_t pa;

	for (pa = start; pa + 16 <= start + len; pa += 16)
		if (sig_is(pa, "_MP_", 4) && !acpi_sum(pa, 16))
			return pa;
	return 0;
}

uint64_t mp_find_fps(void)
{
	uint64_t ebda = (uint64_t)mem16(0x40e) << 4, pa = 0;

	if (ebda >= 0x80000 && ebda < 0xa0000)
		pa = mp_scan(ebda, 1024);
	if (!pa)
		pa = mp_scan(0x9fc00, 1024);
	if (!pa)
		pa = mp_scan(0xf0000, 0x10000);
	return pa;
}

static void mp_entries(uint64_t t, struct mp_info *mi)
{
	uint64_t e = t + 44, end = t + mem16(t + 4);
	unsigned i, n = mem16(t + 34);

	for (i = 0; i < n && e < end; i++) {
		switch (mem8(e)) {
		case 0:		/* processor, 20 bytes */
			if (mem8(e + 3) & 1)
				mi->cpus++;
			else
				mi->cpus_disabled++;
			if (mem8(e + 3) & 2) {
				mi->bsp_count++;
				mi->bsp_lapic_id = mem8(e + 1);
			}
			e += 20;
			break;
		case 2:		/* IOAPIC */
			mi->ioapics++;
			e += 8;
			break;
		default:	/* bus, I/O and local interrupt: 8 bytes */
			e += 8;
			break;
		}
	}
}

bool mp_walk(struct mp_info *mi)
{
	memset(mi, 0, sizeof(*mi));
	mi->fps = mp_find_fps();
	if (!mi->fps)
		return false;
	mi->fps_sum_ok = !acpi_sum(mi->fps, 16 * (uint64_t)mem8(mi->fps + 8));
	mi->table = mem32(mi->fps + 4);
	if (!mi->table || !sig_is(mi->table, "PCMP", 4)) {
		mi->table = 0;
		return true;
	}
	mi->table_sum_ok = !acpi_sum(mi->table, mem16(mi->table + 4));
	mi->lapic_addr = mem32(mi->table + 36);
	mp_entries(mi->table, mi);
	return true;
}
