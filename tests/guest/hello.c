/*
 * hello: the default guest (README), built as an ELF and as a bzImage.
 * A banner, then one quick look at each thing the monitor provides.
 *
 * Command line keys (all optional):
 *   expect_mem=SIZE   total RAM given with --mem; usable e820 RAM must be
 *                     SIZE minus the 640K-1M hole   (mem=SIZE works too)
 *   expect_cpus=N     enabled LAPICs in the MADT
 */
#include "rt.h"

/* e820 leaves [X86_EBDA_START, 1 MiB) reserved (arch/x86/boot.h). */
#define LOW_HOLE (0x100000 - 0x9fc00)

static void check_boot(void)
{
	uint16_t proto = bp_boot_protocol();

	/* vmm-monitor fills a setup header for ELF kernels too. */
	if (proto)
		t_info("zero page has a setup header, boot protocol %u.%02u",
		       proto >> 8, proto & 0xff);
	else
		t_info("zero page has no setup header");
	t_expect(bp_addr() == 0x7000, "zero page at 0x%lx", bp_addr());
	printf("hello: cmdline: [%s]\n", bp_cmdline());
	t_expect(bp_cmdline_addr() != 0, "cmd_line_ptr 0x%lx",
		 bp_cmdline_addr());
}

static void check_mem(void)
{
	uint64_t usable = bp_e820_usable(), mem;

	t_expect(bp_e820_count() > 0, "%u e820 entries", bp_e820_count());
	if (cmdline_get_u64("expect_mem", &mem) || cmdline_get_u64("mem", &mem))
		t_expect(usable == mem - LOW_HOLE,
			 "usable RAM %lu bytes, expected %lu (%lu MiB - 640K..1M)",
			 usable, mem - LOW_HOLE, mem >> 20);
	else
		t_expect(usable > 0, "usable RAM %lu bytes (%lu MiB)", usable,
			 usable >> 20);
}

static void check_cpus(void)
{
	struct madt_info mi;
	uint64_t want;

	if (!t_expect(acpi_madt(&mi), "MADT found"))
		return;
	if (cmdline_get_u64("expect_cpus", &want))
		t_expect(mi.lapics == want, "%u CPUs in the MADT, expected %lu",
			 mi.lapics, want);
	else
		t_expect(mi.lapics >= 1, "%u CPUs in the MADT", mi.lapics);
}

static void check_rtc(void)
{
	struct rtc_time t;

	if (!t_expect(rtc_read(&t), "RTC readable (UIP clears)"))
		return;
	t_expect(t.year >= 2024 && t.year < 2100 && t.mon >= 1 && t.mon <= 12 &&
		 t.mday >= 1 && t.mday <= 31 && t.hour < 24 && t.min < 60 &&
		 t.sec < 60,
		 "RTC %u-%02u-%02u %02u:%02u:%02u UTC", t.year, t.mon, t.mday,
		 t.hour, t.min, t.sec);
}

static void check_uart(void)
{
	uint8_t a, b;

	outb(COM1 + 7, 0xa5);
	a = inb(COM1 + 7);
	outb(COM1 + 7, 0x5a);
	b = inb(COM1 + 7);
	t_expect(a == 0xa5 && b == 0x5a, "UART scratch register 0x%02x 0x%02x",
		 a, b);
}

static void check_acpi_power(void)
{
	uint64_t fadt = acpi_find_table("FACP");

	if (t_expect(fadt != 0, "FADT found"))
		t_expect(mem32(fadt + 64) == 0x604, "FADT PM1a_CNT_BLK 0x%x",
			 mem32(fadt + 64));
}

int main(const void *zero_page);
int main(const void *zero_page)
{
	bp_init(zero_page);
	t_begin("hello");
	printf("\nhello: vmm test guest, running at %p\n", (void *)main);
	check_boot();
	check_mem();
	check_cpus();
	check_rtc();
	check_uart();
	check_acpi_power();
	if (!t_failures())
		printf("hello: all checks passed\n");
	else
		printf("hello: %u checks failed\n", t_failures());
	t_end();
}
