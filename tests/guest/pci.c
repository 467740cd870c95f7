/*
 * pci: configuration mechanism #1 at 0xCF8/0xCFC, as Linux's
 * pci_check_type1() and a bus-0 scan see it.
 *
 * Command line keys:
 *   expect_pci_functions=N  (optional) functions present on bus 0; the
 *                           bare machine has only the host bridge (1)
 *
 * Checks: 0xCF8 latches 0x80000000; 00:00.0 has a vendor other than
 * 0xFFFF/0x0000, class 06/00 (host bridge), header type 0, and the same
 * ids through 16-bit and 8-bit reads of 0xCFC..0xCFF; 00:1f.0 is absent
 * (vendor 0xFFFF, whole dword all ones).
 */
#include "rt.h"

static void check_type1(void)
{
	uint32_t saved, v;

	outb(0xcfb, 0x01);
	saved = inl(0xcf8);
	outl(0xcf8, 0x80000000u);
	v = inl(0xcf8);
	outl(0xcf8, saved);
	t_expect(v == 0x80000000u, "0xCF8 reads back 0x%08x", v);
}

static void check_host_bridge(void)
{
	uint32_t id = pci_cfg_read32(0, 0, 0, 0x00);
	uint32_t class = pci_cfg_read32(0, 0, 0, 0x08);
	uint8_t hdr = pci_cfg_read8(0, 0, 0, 0x0e);

	t_info("00:00.0 %04x:%04x class %06x rev %02x", id & 0xffff, id >> 16,
	       class >> 8, class & 0xff);
	t_expect((id & 0xffff) != 0xffff && (id & 0xffff) != 0,
		 "00:00.0 present, vendor 0x%04x", id & 0xffff);
	t_expect((class >> 16) == 0x0600, "00:00.0 class %02x/%02x (host bridge)",
		 class >> 24, (class >> 16) & 0xff);
	t_expect((hdr & 0x7f) == 0, "00:00.0 header type 0x%02x", hdr);
	t_expect(pci_cfg_read16(0, 0, 0, 0) == (id & 0xffff) &&
		 pci_cfg_read16(0, 0, 0, 2) == id >> 16,
		 "16-bit reads agree with the dword");
	t_expect(pci_cfg_read8(0, 0, 0, 1) == ((id >> 8) & 0xff) &&
		 pci_cfg_read8(0, 0, 0, 3) == id >> 24,
		 "8-bit reads agree with the dword");
}

static void check_bus0(void)
{
	uint32_t v = pci_cfg_read32(0, 0x1f, 0, 0);
	unsigned dev, fn, found = 0;
	uint64_t want;

	t_expect(v == 0xffffffffu, "00:1f.0 absent (0x%08x)", v);
	for (dev = 0; dev < 32; dev++) {
		uint8_t hdr = pci_cfg_read8(0, dev, 0, 0x0e);

		for (fn = 0; fn < ((hdr & 0x80) ? 8u : 1u); fn++) {
			v = pci_cfg_read32(0, dev, fn, 0);
			if ((v & 0xffff) == 0xffff)
				continue;
			found++;
			t_info("00:%02x.%u %04x:%04x", dev, fn, v & 0xffff,
			       v >> 16);
		}
	}
	if (cmdline_get_u64("expect_pci_functions", &want))
		t_expect(found == want, "%u functions on bus 0, expected %lu",
			 found, want);
}

int main(const void *zero_page);
int main(const void *zero_page)
{
	bp_init(zero_page);
	t_begin("pci");
	check_type1();
	check_host_bridge();
	check_bus0();
	return 0;
}
