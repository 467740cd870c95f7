/*
 * e820: the memory map in the zero page.
 *
 * Command line:
 *   expect_mem=SIZE  (required) the --mem the monitor was given; bytes or
 *                    with a K/M/G suffix. The monitor reserves
 *                    [X86_EBDA_START = 0x9fc00, 1 MiB) and makes the rest
 *                    of RAM usable (below the 32-bit hole and, past it,
 *                    from 4 GiB), so usable RAM = SIZE - (1 MiB - 0x9fc00).
 *
 * Also: entries sorted and non-overlapping, none empty, known types, low
 * RAM from 0, the 640K-1M hole not usable, nothing usable over the IOAPIC/
 * LAPIC window, this guest's own image inside usable RAM.
 */
#include "rt.h"

#define EBDA_START 0x9fc00UL
#define HIMEM      0x100000UL

static void check_order(unsigned n)
{
	unsigned i, bad_order = 0, empty = 0, bad_type = 0;

	for (i = 0; i < n; i++) {
		struct e820 e = bp_e820(i);

		printf("e820: [%016lx-%016lx] type %u\n", e.addr,
		       e.addr + e.size - 1, e.type);
		if (!e.size)
			empty++;
		if (e.type < E820_RAM || e.type > 20)
			bad_type++;
		if (i && bp_e820(i - 1).addr + bp_e820(i - 1).size > e.addr)
			bad_order++;
	}
	t_expect(n >= 2 && n <= BP_E820_MAX, "%u entries", n);
	t_expect(!bad_order, "sorted, non-overlapping (%u violations)", bad_order);
	t_expect(!empty, "no empty entries (%u)", empty);
	t_expect(!bad_type, "known types (%u unknown)", bad_type);
}

/* No E820_RAM byte in [lo, hi). */
static bool none_usable(uint64_t lo, uint64_t hi)
{
	unsigned i, n = bp_e820_count();

	for (i = 0; i < n; i++) {
		struct e820 e = bp_e820(i);

		if (e.type == E820_RAM && e.addr < hi && e.addr + e.size > lo)
			return false;
	}
	return true;
}

static void check_layout(void)
{
	uint64_t img = (uintptr_t)__image_start;
	uint64_t img_len = (uintptr_t)__image_end - img;

	t_expect(bp_e820_covers(0, EBDA_START), "[0, 0x9fc00) usable");
	t_expect(none_usable(EBDA_START, HIMEM), "[0x9fc00, 1M) not usable");
	t_expect(none_usable(IOAPIC_BASE, 1UL << 32),
		 "nothing usable in [0xfec00000, 4G)");
	t_expect(bp_e820_covers(img, img_len),
		 "guest image [0x%lx, 0x%lx) in usable RAM", img, img + img_len);
}

static void check_total(void)
{
	uint64_t mem, usable = bp_e820_usable();

	if (!t_expect(cmdline_get_u64("expect_mem", &mem),
		      "expect_mem= on the command line"))
		return;
	t_expect(mem > HIMEM && usable == mem - (HIMEM - EBDA_START),
		 "usable %lu bytes, expected %lu (expect_mem %lu = %lu MiB)",
		 usable, mem - (HIMEM - EBDA_START), mem, mem >> 20);
}

int main(const void *zero_page);
int main(const void *zero_page)
{
	bp_init(zero_page);
	t_begin("e820");
	check_order(bp_e820_count());
	check_layout();
	check_total();
	return 0;
}
