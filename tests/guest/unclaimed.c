/*
 * unclaimed: accesses nobody handles. Port reads return all ones, MMIO
 * reads in the 32-bit hole return zeros, writes are dropped (DESIGN.md,
 * trap bus). The VM keeps running. No command line keys.
 */
#include "rt.h"

#define PORT 0x2e0
#define HOLE 0xd0000000UL

static void check_pio(void)
{
	uint8_t b = inb(PORT);
	uint16_t w = inw(PORT);
	uint32_t l = inl(PORT);

	t_expect(b == 0xff, "inb(0x%x) 0x%02x", PORT, b);
	t_expect(w == 0xffff, "inw(0x%x) 0x%04x", PORT, w);
	t_expect(l == 0xffffffffu, "inl(0x%x) 0x%08x", PORT, l);
	outb(PORT, 0x12);
	outl(PORT, 0x12345678);
	b = inb(PORT);
	l = inl(PORT + 4);
	t_expect(b == 0xff && l == 0xffffffffu,
		 "writes dropped: inb 0x%02x, inl(0x%x) 0x%08x", b, PORT + 4, l);
}

static void check_mmio(void)
{
	uint8_t b = mmio_read8(HOLE);
	uint32_t l = mmio_read32(HOLE + 0x1000);
	uint64_t q = mmio_read64(HOLE + 0x10);

	t_expect(b == 0, "8-bit read at 0x%lx: 0x%02x", HOLE, b);
	t_expect(l == 0, "32-bit read at 0x%lx: 0x%08x", HOLE + 0x1000, l);
	t_expect(q == 0, "64-bit read at 0x%lx: 0x%lx", HOLE + 0x10, q);
	mmio_write32(HOLE, 0xdeadbeef);
	mmio_write64(HOLE + 8, 0x0123456789abcdefUL);
	l = mmio_read32(HOLE);
	q = mmio_read64(HOLE + 8);
	t_expect(l == 0 && q == 0, "writes dropped: 0x%08x 0x%lx", l, q);
}

int main(const void *zero_page);
int main(const void *zero_page)
{
	bp_init(zero_page);
	t_begin("unclaimed");
	check_pio();
	check_mmio();
	t_info("still running");
	return 0;
}
