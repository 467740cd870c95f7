/*
 * rtc: the CMOS clock against the host's clock.
 *
 * Command line keys:
 *   host_time=SECONDS   (required) `date +%s` taken just before the monitor
 *                       started
 *   rtc_tolerance=S     (optional, default 5) allowed |rtc - host_time|
 *
 * Reads the clock in the mode the monitor left it (Linux expects BCD,
 * 24-hour), converts to Unix time and compares; then sets register B's DM
 * bit (binary), reads again and checks the registers really changed
 * representation (the year register holds year%100 in binary, not BCD) and
 * the time is the same within 2 s; finally restores register B.
 */
#include "rt.h"

#define REG_B_DM 0x04

static uint8_t bcd(unsigned v)
{
	return (uint8_t)((v / 10) << 4 | (v % 10));
}

static bool read_unix(const char *mode, struct rtc_time *t, uint64_t *secs)
{
	if (!t_expect(rtc_read(t), "%s: UIP clears, clock readable", mode))
		return false;
	*secs = rtc_to_unix(t);
	t_info("%s: %u-%02u-%02u %02u:%02u:%02u UTC = %lu", mode, t->year,
	       t->mon, t->mday, t->hour, t->min, t->sec, *secs);
	return true;
}

static int64_t diff(uint64_t a, uint64_t b)
{
	return (int64_t)(a - b);
}

static void check_binary(uint8_t regb, uint64_t first)
{
	struct rtc_time t;
	uint64_t u;
	uint8_t raw_year;

	cmos_write(0x0b, regb | REG_B_DM);
	t_expect(cmos_read(0x0b) == (regb | REG_B_DM),
		 "register B reads back 0x%02x after setting DM",
		 cmos_read(0x0b));
	if (read_unix("binary", &t, &u)) {
		raw_year = cmos_read(0x09);
		t_expect(raw_year == t.year % 100,
			 "binary: year register 0x%02x == %u", raw_year,
			 t.year % 100);
		t_expect(diff(u, first) >= 0 && diff(u, first) <= 2,
			 "binary time %lu within 2 s after the first read %lu",
			 u, first);
	}
	cmos_write(0x0b, regb);
}

int main(const void *zero_page);
int main(const void *zero_page)
{
	uint64_t host, tol = 5, u;
	struct rtc_time t;
	uint8_t regb;

	bp_init(zero_page);
	t_begin("rtc");
	cmdline_get_u64("rtc_tolerance", &tol);
	regb = cmos_read(0x0b);
	t_info("register A 0x%02x, B 0x%02x, D 0x%02x", cmos_read(0x0a), regb,
	       cmos_read(0x0d));
	t_expect(cmos_read(0x0d) & 0x80, "register D: valid RAM and time");
	t_expect(!(regb & REG_B_DM) && (regb & 0x02),
		 "initial mode BCD, 24-hour (register B 0x%02x)", regb);
	if (!read_unix("initial", &t, &u))
		return 0;
	if (!(regb & REG_B_DM))
		t_expect(cmos_read(0x09) == bcd(t.year % 100),
			 "BCD: year register 0x%02x", cmos_read(0x09));
	if (t_expect(cmdline_get_u64("host_time", &host),
		     "host_time= on the command line"))
		t_expect(diff(u, host) <= (int64_t)tol &&
			 diff(u, host) >= -(int64_t)tol,
			 "RTC %lu vs host %lu: %ld s apart, tolerance %lu", u,
			 host, (long)diff(u, host), tol);
	check_binary(regb, u);
	return 0;
}
