/*
 * monitor/pci.c reached through ECAM (arm64's generic host bridge): the
 * same configuration space as through 0xCF8/0xCFC (which fuzz-vpci
 * covers), decoded from the offset in bus 0's 1 MiB: device << 15 |
 * function << 12 | register. Every access goes through the real trap bus.
 */
#include <errno.h>
#include <string.h>

#include "../check.h"
#include "pci.h"
#include "trapbus.h"

#define ECAM 0x3f000000ULL

static struct trapbus tb;
static struct pci_host ph;

static uint64_t ecam(unsigned dev, unsigned fn, unsigned reg, unsigned len, bool write, uint64_t v)
{
	struct trap t = { .bus = TRAP_MMIO, .len = (uint8_t)len, .is_write = write,
			  .addr = ECAM + ((uint64_t)dev << 15 | fn << 12 | reg) };

	if (write)
		memcpy(t.data, &v, len);
	trapbus_dispatch(&tb, &t);
	return trap_value(&t);
}

static void test_ecam(void)
{
	struct pci_host_cfg cfg = { .ecam = true, .ecam_base = ECAM, .mmio_start = 0x10000000,
				    .mmio_end = 0x3f000000 };
	struct pci_func f;
	int slot;

	CHECK(trapbus_init(&tb) == 0 && pci_host_init(&ph, &tb, &cfg) == 0, "ECAM host bridge");
	memset(&f, 0, sizeof(f));
	pci_cfg_put16(&f, 0x00, 0x1af4);
	pci_cfg_put16(&f, 0x02, 0x1042);
	f.wmask[0x04] = 0x06;
	pci_func_set_bar(&f, 0, 0x4000, true);
	slot = pci_func_add(&ph, &f);
	CHECK(slot == 1, "first function in slot 1 (got %d)", slot);

	CHECK_EQ(ecam(1, 0, 0, 4, false, 0), 0x10421af4, "vendor and device id, one dword");
	CHECK_EQ(ecam(1, 0, 2, 2, false, 0), 0x1042, "device id, a word at offset 2");
	CHECK_EQ(ecam(1, 0, 1, 1, false, 0), 0x1a, "vendor id's high byte");
	CHECK_EQ(ecam(0, 0, 0, 2, false, 0) != 0xffff, 1, "the host bridge at 00:00.0");
	CHECK_EQ(ecam(2, 0, 0, 4, false, 0), 0xffffffff, "an empty slot reads all-ones");
	CHECK_EQ(ecam(1, 1, 0, 4, false, 0), 0xffffffff, "function 1 of slot 1: all-ones");
	CHECK_EQ(ecam(1, 0, 0x100, 4, false, 0), 0xffffffff, "extended space: all-ones");
	CHECK_EQ(ecam(1, 0, 0x10, 4, false, 0) & ~0xfULL, 0x10000000, "BAR0 from the window");
	ecam(1, 0, 0x04, 2, true, 0);
	CHECK_EQ(ecam(1, 0, 0x04, 2, false, 0), 0, "command register written (decoding off)");
	CHECK_EQ(pci_bar_addr(&f, 0), PCI_BAR_NONE, "BAR0 no longer decodes");
	ecam(1, 0, 0x04, 2, true, 0x06);
	CHECK_EQ(pci_bar_addr(&f, 0), 0x10000000, "decoding on again");
	ecam(1, 0, 0x00, 4, true, 0);
	CHECK_EQ(ecam(1, 0, 0, 4, false, 0), 0x10421af4, "ids are read-only");
	ecam(1, 0, 0x100, 4, true, 0x12345678);
	CHECK_EQ(ecam(1, 0, 0x04, 2, false, 0), 0x06, "a write past 256 bytes changes nothing");
	/* Misaligned or odd-sized: not served (the bus answers an unclaimed MMIO read with 0). */
	CHECK_EQ(ecam(1, 0, 1, 2, false, 0), 0, "a misaligned word is not served");
	CHECK_EQ(ecam(1, 0, 0, 8, false, 0), 0, "an 8-byte access is not served");
	CHECK_EQ(atomic_load(&tb.stats.unclaimed_reads[TRAP_MMIO]), 2, "both counted as unclaimed");
	/* Bus 1 lies outside the 1 MiB region (bus-range <0 0>): nobody answers. */
	CHECK_EQ(ecam(32, 0, 0, 4, false, 0), 0, "bus 1, past the region: unclaimed");
	CHECK_EQ(atomic_load(&tb.stats.unclaimed_reads[TRAP_MMIO]), 3, "counted as unclaimed");

	pci_func_remove(&ph, &f);
	pci_host_destroy(&ph, &tb);
	CHECK(atomic_load(&tb.map[TRAP_MMIO])->n == 0, "the ECAM region is gone");
	trapbus_destroy(&tb);
}

int main(void)
{
	test_ecam();
	return check_done();
}
