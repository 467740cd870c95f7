/*
 * initrd: the ramdisk the monitor loaded (--initrd), found through the zero
 * page (ramdisk_image/ramdisk_size plus their ext_ halves).
 *
 * Command line keys (both required):
 *   initrd_size=N    file size in bytes
 *   initrd_fnv=HEX   FNV-1a 32-bit hash of the file (offset basis 0x811c9dc5,
 *                    prime 0x01000193), e.g. initrd_fnv=5b2c1a0f
 *
 * Also: the ramdisk is page aligned, ends below 4 GiB, lies inside one
 * usable e820 entry, overlaps neither this guest's image, the zero page
 * nor the command line, and (bzImage) ends at or below initrd_addr_max.
 *
 * Hashing costs a few emulated instructions per byte: keep the file small
 * (tens of KiB).
 */
#include "rt.h"

static uint32_t fnv1a(const uint8_t *p, uint64_t n)
{
	uint32_t h = 0x811c9dc5u;

	while (n--) {
		h ^= *p++;
		h *= 0x01000193u;
	}
	return h;
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static void check_placement(uint64_t addr, uint64_t size)
{
	uint64_t img = (uintptr_t)__image_start;
	uint64_t cl = bp_cmdline_addr();

	t_expect(!(addr & 0xfff), "address 0x%lx page aligned", addr);
	t_expect(addr + size <= (1UL << 32) && addr + size >= addr,
		 "[0x%lx, 0x%lx) below 4 GiB", addr, addr + size);
	t_expect(bp_e820_covers(addr, size), "inside usable e820 RAM");
	t_expect(!overlaps(addr, size, img, (uintptr_t)__image_end - img),
		 "clear of the guest image");
	t_expect(!overlaps(addr, size, bp_addr(), 4096), "clear of the zero page");
	t_expect(!overlaps(addr, size, cl, strlen(bp_cmdline()) + 1),
		 "clear of the command line");
	if (bp_boot_protocol() >= 0x0203)
		t_expect(addr + size - 1 <= mem32(bp_addr() + BP_HDR_INITRD_MAX),
			 "ends below initrd_addr_max 0x%x",
			 mem32(bp_addr() + BP_HDR_INITRD_MAX));
}

int main(const void *zero_page);
int main(const void *zero_page)
{
	uint64_t addr, size, want_size, want_fnv;
	char buf[24];
	uint32_t h;

	bp_init(zero_page);
	t_begin("initrd");
	addr = bp_ramdisk_addr();
	size = bp_ramdisk_size();
	t_info("ramdisk at 0x%lx, %lu bytes", addr, size);
	if (!t_expect(addr && size, "ramdisk present"))
		return 0;
	check_placement(addr, size);
	if (t_expect(cmdline_get_u64("initrd_size", &want_size),
		     "initrd_size= on the command line"))
		t_expect(size == want_size, "size %lu, expected %lu", size,
			 want_size);
	if (!t_expect(cmdline_get("initrd_fnv", buf, sizeof(buf)) &&
		      parse_hex(buf, &want_fnv), "initrd_fnv= on the command line"))
		return 0;
	if (size > (64u << 20) || !bp_e820_covers(addr, size)) {
		t_fail("not hashing an implausible ramdisk");
		return 0;
	}
	h = fnv1a((const uint8_t *)(uintptr_t)addr, size);
	t_expect(h == want_fnv, "FNV-1a 0x%08x, expected 0x%08lx", h, want_fnv);
	return 0;
}
