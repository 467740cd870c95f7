/* The CMOS RTC against the host clock, and the CMOS memory-size bytes. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "fakehost.h"

extern const struct device_class rtc_class;

static struct fakehost fh;
static struct device dev;

static uint8_t cmos_read(uint8_t reg)
{
	dev_out8(&dev, 0, reg);
	return dev_in8(&dev, 1);
}

static void cmos_write(uint8_t reg, uint8_t v)
{
	dev_out8(&dev, 0, reg);
	dev_out8(&dev, 1, v);
}

static int rtc_new(bool has_mem, uint64_t mem)
{
	struct fakespec fs;

	fakespec_init(&fs, "rtc");
	fakespec_add_pio(&fs, 0x70, 2);
	fakespec_add_irq(&fs, 8);
	fs.spec.mem_size = has_mem ? mem : 0;
	return fakehost_create(&fh, &dev, &rtc_class, &fs.spec, -1, -1);
}

static int from_bcd(uint8_t v)
{
	return (v >> 4) * 10 + (v & 0x0F);
}

static int rd(uint8_t reg, bool bcd)
{
	uint8_t v = cmos_read(reg);

	return bcd ? from_bcd(v) : v;
}

static int rd_hour(bool bcd, bool h24)
{
	uint8_t v = cmos_read(0x04);
	int h = bcd ? from_bcd(v & 0x7F) : v & 0x7F;

	if (h24)
		return bcd ? from_bcd(v) : v;
	return h % 12 + ((v & 0x80) ? 12 : 0);	/* 12-hour: 1-12, bit 7 PM */
}

/*
 * The guest's clock as a time_t (and its day-of-week register), read the
 * way Linux's mc146818_get_time does: outside UIP, until seconds are stable.
 */
static time_t rtc_time(int *wday)
{
	uint8_t b = cmos_read(0x0B), sec;
	bool bcd = !(b & 0x04), h24 = b & 0x02;
	struct tm tm;

	do {
		while (cmos_read(0x0A) & 0x80)
			;
		memset(&tm, 0, sizeof(tm));
		sec = cmos_read(0x00);
		tm.tm_sec = bcd ? from_bcd(sec) : sec;
		tm.tm_min = rd(0x02, bcd);
		tm.tm_hour = rd_hour(bcd, h24);
		if (wday)
			*wday = rd(0x06, bcd);
		tm.tm_mday = rd(0x07, bcd);
		tm.tm_mon = rd(0x08, bcd) - 1;
		tm.tm_year = rd(0x32, bcd) * 100 + rd(0x09, bcd) - 1900;
	} while (sec != cmos_read(0x00));
	return timegm(&tm);
}

static void check_time(const char *mode)
{
	struct tm host;
	time_t now = time(NULL), t;
	int wday;

	t = rtc_time(&wday);
	gmtime_r(&t, &host);
	CHECK(llabs((long long)(t - now)) <= 1, "%s: RTC within 1 s of host time (%lld vs %lld)",
	      mode, (long long)t, (long long)now);
	CHECK_EQ(wday, host.tm_wday + 1, "day of week");
}

static void test_bad_specs(void)
{
	struct fakespec fs;

	fakespec_init(&fs, "rtc");
	fakespec_add_pio(&fs, 0x70, 8);
	CHECK(fakehost_create(&fh, &dev, &rtc_class, &fs.spec, -1, -1) == -EINVAL,
	      "8-port region: -EINVAL");
	fakespec_init(&fs, "rtc");
	fakespec_add_pio(&fs, 0x70, 2);
	fakespec_add_irq(&fs, 8);
	fakespec_add_irq(&fs, 9);
	CHECK(fakehost_create(&fh, &dev, &rtc_class, &fs.spec, -1, -1) == -EINVAL,
	      "two irqs: -EINVAL");
	CHECK(fakehost_logged(&fh, "irq line"), "error logged");
}

static void test_time_modes(void)
{
	struct tm tm;
	time_t now;
	uint8_t h;

	CHECK_EQ(cmos_read(0x0B), 0x02, "power-on B: 24h BCD");
	CHECK_EQ(cmos_read(0x0D), 0x80, "D: VRT");
	CHECK_EQ(cmos_read(0x0A) & 0x7F, 0x26, "A: divider and rate");
	check_time("BCD 24h");
	cmos_write(0x0B, 0x06);
	check_time("binary 24h");
	cmos_write(0x0B, 0x00);
	check_time("BCD 12h");
	now = time(NULL);
	gmtime_r(&now, &tm);
	h = cmos_read(0x04);
	CHECK_EQ(h & 0x80, tm.tm_hour >= 12 ? 0x80 : 0, "12h: PM bit");
	CHECK_EQ(from_bcd(h & 0x7F), tm.tm_hour % 12 ? tm.tm_hour % 12 : 12, "12h: hour 1-12");
	cmos_write(0x0B, 0x04);
	check_time("binary 12h");
	cmos_write(0x0B, 0x02);
	CHECK_EQ(cmos_read(0x32), 0x20, "century 20 in BCD");
}

static uint64_t ns_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* UIP shows only in the last 244 us before a second boundary. */
static void test_uip(void)
{
	uint64_t start = ns_now(), first = 0, ns = 0;
	unsigned seen = 0, ok = 1;

	/*
	 * Spin past the first window seen (normally within 1 s; up to 6 s so
	 * that a busy machine descheduling us over a 244 us window or two does
	 * not fail the test), then a little more.
	 */
	while (ns_now() - start < 6100000000ull && (!first || ns_now() - first < 10000000)) {
		if (!(cmos_read(0x0A) & 0x80))
			continue;
		ns = ns_now() % 1000000000ull;
		ok &= ns >= 999756000ull - 50000 || ns < 50000;
		first = first ? first : ns_now();
		seen++;
	}
	CHECK(seen > 0, "UIP seen within 6 s (%u reads)", seen);
	CHECK(ok, "UIP only near a second boundary (last ns %llu)", (unsigned long long)ns);
	cmos_write(0x0B, 0x82);
	start = ns_now();
	seen = 0;
	while (ns_now() - start < 1050000000ull)
		seen += cmos_read(0x0A) >> 7;
	CHECK_EQ(seen, 0, "no UIP while SET");
	cmos_write(0x0B, 0x02);
}

static void test_set_time(void)
{
	struct tm tm;
	time_t want = 981173106;	/* 2001-02-03 04:05:06 UTC */
	time_t t;
	int wday;

	cmos_write(0x0B, 0x82);
	cmos_write(0x00, 0x06);
	cmos_write(0x02, 0x05);
	cmos_write(0x04, 0x04);
	cmos_write(0x07, 0x03);
	cmos_write(0x08, 0x02);
	cmos_write(0x09, 0x01);
	cmos_write(0x32, 0x20);
	CHECK_EQ(cmos_read(0x00), 0x06, "clock frozen while SET");
	cmos_write(0x0B, 0x02);
	t = rtc_time(&wday);
	CHECK(t - want >= 0 && t - want <= 1, "guest-set time read back (%lld)", (long long)(t - want));
	CHECK_EQ(wday, 7, "2001-02-03 is a Saturday");
	cmos_write(0x02, 0x59);		/* no SET: applies at once */
	t = rtc_time(NULL) - (want + 54 * 60);
	CHECK(t >= 0 && t <= 1, "minute write moved the clock (%lld)", (long long)t);
	cmos_write(0x32, 0x19);
	t = rtc_time(NULL);
	gmtime_r(&t, &tm);
	CHECK_EQ(tm.tm_year + 1900, 1901, "century write: year 1901");
	dev.ops->reset(&dev);
	CHECK(rtc_time(NULL) < 0, "reset keeps the guest-set time");
	nanosleep(&(struct timespec){ 1, 100000000 }, NULL);
	t = rtc_time(NULL);
	gmtime_r(&t, &tm);
	CHECK(tm.tm_sec >= 7 && tm.tm_sec <= 9 && tm.tm_min == 59,
	      "the set clock keeps running (sec %d)", tm.tm_sec);
	cmos_write(0x32, 0xFF);		/* bad BCD: year 16501, out of range */
	CHECK(fakehost_logged(&fh, "outside years"), "out-of-range time refused");
	t = rtc_time(NULL);
	gmtime_r(&t, &tm);
	CHECK_EQ(tm.tm_year + 1900, 1901, "refused write left the clock alone");
}

static void test_regs(void)
{
	uint8_t c;

	dev_out8(&dev, 0, 0x8D);	/* NMI disable bit + D */
	CHECK_EQ(dev_in8(&dev, 1), 0x80, "index bit 7 (NMI) masked off");
	CHECK_EQ(dev_in8(&dev, 0), 0xFF, "index port reads 0xFF");
	cmos_write(0x40, 0x5A);
	cmos_write(0x7F, 0xA5);
	CHECK_EQ(cmos_read(0x40), 0x5A, "CMOS RAM round trip");
	CHECK_EQ(cmos_read(0x7F), 0xA5, "CMOS RAM last byte");
	cmos_write(0x0D, 0x00);
	CHECK_EQ(cmos_read(0x0D), 0x80, "D is read-only");
	dev_out(&dev, 0, 0, 2, 0x3C41);	/* outw 0x70: index 0x41, data 0x3C */
	CHECK_EQ(cmos_read(0x41), 0x3C, "word write = index then data");
	CHECK_EQ(dev_in(&dev, 0, 1, 2), 0xFF3C, "word read at the data port: data + 0xFF");
	for (int i = 0; i < 3; i++) {	/* retry if a second boundary fell between */
		cmos_read(0x0C);
		c = cmos_read(0x0C);
		if (!c)
			break;
	}
	CHECK_EQ(c, 0, "C cleared by reading");
	nanosleep(&(struct timespec){ 1, 0 }, NULL);
	CHECK_EQ(cmos_read(0x0C), 0x10, "C: UF after a second boundary");
	cmos_write(0x0B, 0x12);
	CHECK(fakehost_logged(&fh, "not emulated"), "enabling RTC interrupts is logged");
	dev.ops->reset(&dev);
	CHECK_EQ(cmos_read(0x0B), 0x02, "reset clears interrupt enables");
	CHECK_EQ(cmos_read(0x40), 0x5A, "reset keeps CMOS RAM");
	CHECK(dev_out(&dev, 0, 2, 1, 0) < 0, "offset past the region refused");
	CHECK_EQ(fh.irq_calls, 0, "no interrupts raised");
}

static unsigned cmos16(uint8_t reg)
{
	return cmos_read(reg) | cmos_read(reg + 1) << 8;
}

static void check_mem(uint64_t mem, unsigned ext, unsigned hi, unsigned above)
{
	unsigned sum = 0;

	CHECK(rtc_new(true, mem) == 0, "create with mem_size %llu MiB",
	      (unsigned long long)(mem >> 20));
	CHECK_EQ(cmos16(0x15), 640, "base memory KB");
	CHECK_EQ(cmos16(0x17), ext, "extended memory KB (0x17)");
	CHECK_EQ(cmos16(0x30), ext, "extended memory KB (0x30)");
	CHECK_EQ(cmos16(0x34), hi, "64 KiB blocks above 16 MiB");
	CHECK_EQ(cmos16(0x5B) | cmos_read(0x5D) << 16, above, "64 KiB blocks above 4 GiB");
	for (uint8_t r = 0x10; r <= 0x2D; r++)
		sum += cmos_read(r);
	CHECK_EQ(cmos_read(0x2E) << 8 | cmos_read(0x2F), sum & 0xFFFF, "checksum 0x2E/0x2F");
	dev.ops->destroy(&dev);
}

static void test_memory(void)
{
	check_mem(32ull << 20, 31 * 1024, 256, 0);
	check_mem(128ull << 20, 0xFFFF, 0x0700, 0);
	check_mem(3ull << 30, 0xFFFF, 0xBF00, 0);
	check_mem(4ull << 30, 0xFFFF, 0xBF00, 0x4000);
	check_mem(20ull << 30, 0xFFFF, 0xBF00, 0x4000 * 17);
	CHECK(rtc_new(false, 0) == 0, "create without mem_size");
	CHECK_EQ(cmos16(0x15) | cmos16(0x17) | cmos16(0x34), 0, "no memory bytes without mem_size");
	dev.ops->destroy(&dev);
}

int main(void)
{
	fakehost_init(&fh);
	test_bad_specs();
	fakehost_init(&fh);
	CHECK(rtc_new(true, 256ull << 20) == 0, "create");
	test_time_modes();
	test_uip();
	test_set_time();
	test_regs();
	dev.ops->destroy(&dev);
	CHECK(dev.priv == NULL, "destroy frees the state");
	test_memory();
	return check_done();
}
