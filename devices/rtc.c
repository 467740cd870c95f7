/*
 * CMOS real-time clock (Motorola MC146818) with its 128 bytes of CMOS RAM.
 *
 * Spec: one PIO region of 2 ports (normally 0x70: index, then data), at most
 * one irq line (GSI 8, unused: the device interface has no timer, so no
 * periodic, alarm or update interrupt is ever raised; enabling one is logged
 * once). spec->mem_size, if present, fills the memory-size bytes the way
 * QEMU and SeaBIOS lay them out.
 *
 * The clock is the host's CLOCK_REALTIME in UTC plus an offset in seconds
 * that guest writes to the time registers set, so it keeps running. UIP
 * (register A bit 7) is set during the last 244 us before each host second
 * boundary. Register C reports UF lazily: set when a second boundary passed
 * since C was last read; PF and AF are never set. Writes to the day of the
 * week are ignored (it follows from the date); the divider bits of
 * register A are stored but do not stop the clock; SET in register B does.
 *
 * The index port is write-only, as on ISA chipsets: reads return 0xFF. Its
 * bit 7 (NMI disable) is masked off. Accesses wider than a byte are split
 * into byte accesses on consecutive ports (outw 0x70 writes index then
 * data); bytes past the data port read 0xFF and are dropped on write.
 *
 * reset() acts as the chip's RESET pin: interrupt enables and flags clear,
 * while the time and the CMOS RAM, which a battery keeps, stay.
 */
#include "device.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#define RTC_NPORTS	2
#define RTC_RAM		128

enum {	/* CMOS registers */
	RTC_SEC = 0x00, RTC_MIN = 0x02, RTC_HOUR = 0x04, RTC_WDAY = 0x06,
	RTC_MDAY = 0x07, RTC_MON = 0x08, RTC_YEAR = 0x09, RTC_REG_A = 0x0A,
	RTC_REG_B = 0x0B, RTC_REG_C = 0x0C, RTC_REG_D = 0x0D,
	RTC_CENTURY = 0x32,
};

#define A_UIP		0x80
#define A_DEFAULT	0x26	/* 32.768 kHz time base, 1024 Hz rate */
#define B_SET		0x80
#define B_IRQ_ENABLES	0x70	/* PIE, AIE, UIE: same bits as PF, AF, UF in C */
#define B_UIE		0x10
#define B_SQWE		0x08
#define B_BINARY	0x04
#define B_24H		0x02
#define B_DEFAULT	B_24H
#define C_IRQF		0x80
#define C_UF		0x10
#define D_VRT		0x80

#define UIP_NS		244000L
#define HOLE_START	0xC0000000ull	/* below-4G RAM ends here at most */

/* Seconds from 1900-01-01 to 9999-12-31 23:59:59: what the clock can hold. */
#define TIME_MIN	(-2208988800LL)
#define TIME_MAX	253402300799LL

struct rtc {
	struct device *dev;
	uint8_t index;
	uint8_t ram[RTC_RAM];	/* also holds registers A and B */
	int64_t offset;		/* guest time - host time, seconds */
	struct tm set_tm;	/* the frozen time while B.SET */
	int64_t last_c_sec;	/* host second of the last register C read */
};

static struct timespec rtc_host_now(void)
{
	struct timespec ts = { 0, 0 };

	if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
		ts.tv_sec = ts.tv_nsec = 0;
	return ts;
}

static void rtc_guest_tm(const struct rtc *r, struct tm *tm)
{
	time_t t = (time_t)(rtc_host_now().tv_sec + r->offset);

	if (r->ram[RTC_REG_B] & B_SET)
		*tm = r->set_tm;
	else if (!gmtime_r(&t, tm))
		*tm = (struct tm){ .tm_mday = 1, .tm_year = 70 };
}

static uint8_t rtc_enc(const struct rtc *r, int v)
{
	if (r->ram[RTC_REG_B] & B_BINARY)
		return (uint8_t)v;
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static int rtc_dec(const struct rtc *r, uint8_t v)
{
	if (r->ram[RTC_REG_B] & B_BINARY)
		return v;
	return (v >> 4) * 10 + (v & 0x0F);
}

/* 12-hour mode: 1-12 with bit 7 for PM. */
static uint8_t rtc_enc_hour(const struct rtc *r, int h)
{
	if (r->ram[RTC_REG_B] & B_24H)
		return rtc_enc(r, h);
	return rtc_enc(r, h % 12 ? h % 12 : 12) | (h >= 12 ? 0x80 : 0);
}

static int rtc_dec_hour(const struct rtc *r, uint8_t v)
{
	if (r->ram[RTC_REG_B] & B_24H)
		return rtc_dec(r, v);
	return rtc_dec(r, v & 0x7F) % 12 + ((v & 0x80) ? 12 : 0);
}

static uint8_t rtc_read_time(const struct rtc *r, unsigned reg)
{
	struct tm tm;
	int year;

	rtc_guest_tm(r, &tm);
	year = tm.tm_year + 1900;
	switch (reg) {
	case RTC_SEC:  return rtc_enc(r, tm.tm_sec);
	case RTC_MIN:  return rtc_enc(r, tm.tm_min);
	case RTC_HOUR: return rtc_enc_hour(r, tm.tm_hour);
	case RTC_WDAY: return rtc_enc(r, tm.tm_wday + 1);
	case RTC_MDAY: return rtc_enc(r, tm.tm_mday);
	case RTC_MON:  return rtc_enc(r, tm.tm_mon + 1);
	case RTC_YEAR: return rtc_enc(r, year % 100);
	default:       return rtc_enc(r, year / 100);
	}
}

/* Make tm the guest's time from now on (its second boundary stays the host's). */
static void rtc_commit(struct rtc *r, struct tm *tm)
{
	int64_t t = (int64_t)timegm(tm);

	if (t < TIME_MIN || t > TIME_MAX) {
		dev_warn_once(r->dev, "time outside years 1900-9999 ignored");
		return;
	}
	r->offset = t - rtc_host_now().tv_sec;
}

static void rtc_write_time(struct rtc *r, unsigned reg, uint8_t v)
{
	struct tm tm;
	int year;

	rtc_guest_tm(r, &tm);
	year = tm.tm_year + 1900;
	switch (reg) {
	case RTC_SEC:  tm.tm_sec = rtc_dec(r, v); break;
	case RTC_MIN:  tm.tm_min = rtc_dec(r, v); break;
	case RTC_HOUR: tm.tm_hour = rtc_dec_hour(r, v); break;
	case RTC_MDAY: tm.tm_mday = rtc_dec(r, v); break;
	case RTC_MON:  tm.tm_mon = rtc_dec(r, v) - 1; break;
	case RTC_YEAR: tm.tm_year = year / 100 * 100 + rtc_dec(r, v) - 1900; break;
	case RTC_CENTURY: tm.tm_year = rtc_dec(r, v) * 100 + year % 100 - 1900; break;
	default:       return;	/* day of week: follows from the date */
	}
	if (r->ram[RTC_REG_B] & B_SET)
		r->set_tm = tm;
	else
		rtc_commit(r, &tm);
}

/* SET freezes the clock for a consistent update; clearing it restarts it. */
static void rtc_write_b(struct rtc *r, uint8_t v)
{
	uint8_t old = r->ram[RTC_REG_B];

	if ((v & B_SET) && !(old & B_SET)) {
		rtc_guest_tm(r, &r->set_tm);
		v &= (uint8_t)~B_UIE;
	}
	r->ram[RTC_REG_B] = v;
	if (!(v & B_SET) && (old & B_SET))
		rtc_commit(r, &r->set_tm);
	if (v & B_IRQ_ENABLES)
		dev_warn_once(r->dev, "RTC interrupts enabled (0x%02x): not emulated", v);
}

static uint8_t rtc_read_a(const struct rtc *r)
{
	struct timespec ts = rtc_host_now();
	bool uip = !(r->ram[RTC_REG_B] & B_SET) && ts.tv_nsec >= 1000000000L - UIP_NS;

	return (r->ram[RTC_REG_A] & ~A_UIP) | (uip ? A_UIP : 0);
}

/* Reading C clears it; UF stands for "a second boundary passed since". */
static uint8_t rtc_read_c(struct rtc *r)
{
	int64_t now = rtc_host_now().tv_sec;
	uint8_t v = 0;

	if (!(r->ram[RTC_REG_B] & B_SET) && now != r->last_c_sec)
		v |= C_UF;
	r->last_c_sec = now;
	if (v & r->ram[RTC_REG_B] & B_IRQ_ENABLES)
		v |= C_IRQF;
	return v;
}

static bool rtc_is_time_reg(unsigned reg)
{
	return (reg <= RTC_YEAR && reg != 0x01 && reg != 0x03 && reg != 0x05) ||
	       reg == RTC_CENTURY;
}

static uint8_t rtc_read_data(struct rtc *r)
{
	unsigned reg = r->index;

	if (rtc_is_time_reg(reg))
		return rtc_read_time(r, reg);
	switch (reg) {
	case RTC_REG_A: return rtc_read_a(r);
	case RTC_REG_C: return rtc_read_c(r);
	case RTC_REG_D: return D_VRT;
	default:        return r->ram[reg];
	}
}

static void rtc_write_data(struct rtc *r, uint8_t v)
{
	unsigned reg = r->index;

	if (rtc_is_time_reg(reg))
		rtc_write_time(r, reg, v);
	else if (reg == RTC_REG_A)
		r->ram[reg] = v & ~A_UIP;
	else if (reg == RTC_REG_B)
		rtc_write_b(r, v);
	else if (reg == RTC_REG_C || reg == RTC_REG_D)
		dev_warn_once(r->dev, "write to read-only register 0x%02x", reg);
	else
		r->ram[reg] = v;
}

/*
 * The index port (it reads 0xFF) and, while the index selects CMOS RAM,
 * register B or D, the data port. The clock's registers, A (UIP) and C
 * (cleared by reading) are never shadowed.
 */
static void rtc_shadow(struct device *dev, struct trap_shadow *sh)
{
	struct rtc *r = dev->priv;
	unsigned reg = r->index;

	trap_shadow_put(sh, 0, 0, 1, 0xFF);
	if (!rtc_is_time_reg(reg) && reg != RTC_REG_A && reg != RTC_REG_C)
		trap_shadow_put(sh, 0, 1, 1, reg == RTC_REG_D ? D_VRT : r->ram[reg]);
}

static int rtc_trap(struct device *dev, struct trap *t)
{
	struct rtc *r = dev->priv;
	uint64_t v = 0;

	if (t->region != 0 || t->offset >= RTC_NPORTS || t->len == 0 || t->len > 8)
		return -EINVAL;
	for (unsigned i = 0; i < t->len; i++) {
		uint64_t port = t->offset + i;
		uint8_t b = 0xFF;

		if (port == 0 && t->is_write)
			r->index = t->data[i] & 0x7F;
		else if (port == 1 && t->is_write)
			rtc_write_data(r, t->data[i]);
		else if (port == 1)
			b = rtc_read_data(r);
		v |= (uint64_t)b << (8 * i);
	}
	if (!t->is_write)
		trap_set_value(t, v);
	return 0;
}

static void rtc_put16(struct rtc *r, unsigned reg, uint64_t v)
{
	if (v > 0xFFFF)
		v = 0xFFFF;
	r->ram[reg] = (uint8_t)v;
	r->ram[reg + 1] = (uint8_t)(v >> 8);
}

/* Memory sizes as QEMU's pc_cmos_init writes them and SeaBIOS reads them. */
static void rtc_fill_memory(struct rtc *r, uint64_t mem)
{
	uint64_t below = mem < HOLE_START ? mem : HOLE_START;
	uint64_t above = (mem - below) >> 16;
	uint64_t ext = below > (1 << 20) ? (below - (1 << 20)) >> 10 : 0;
	unsigned sum = 0;

	rtc_put16(r, 0x15, below >> 10 < 640 ? below >> 10 : 640);
	rtc_put16(r, 0x17, ext);
	rtc_put16(r, 0x30, ext);
	rtc_put16(r, 0x34, below > (16 << 20) ? (below - (16 << 20)) >> 16 : 0);
	if (above > 0xFFFFFF)
		above = 0xFFFFFF;
	for (unsigned i = 0; i < 3; i++)
		r->ram[0x5B + i] = (uint8_t)(above >> (8 * i));
	for (unsigned i = 0x10; i <= 0x2D; i++)	/* the AT BIOS checksum */
		sum += r->ram[i];
	r->ram[0x2E] = (uint8_t)(sum >> 8);
	r->ram[0x2F] = (uint8_t)sum;
}

static void rtc_reset(struct device *dev)
{
	struct rtc *r = dev->priv;

	r->ram[RTC_REG_B] &= (uint8_t)~(B_IRQ_ENABLES | B_SQWE);
	r->last_c_sec = rtc_host_now().tv_sec;
	r->index = 0;
}

static int rtc_create(struct device *dev, const struct device_spec *spec)
{
	struct rtc *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->dev = dev;
	r->ram[RTC_REG_A] = A_DEFAULT;
	r->ram[RTC_REG_B] = B_DEFAULT;
	if (spec->mem_size)
		rtc_fill_memory(r, spec->mem_size);
	dev->priv = r;
	rtc_reset(dev);
	return 0;
}

static void rtc_destroy(struct device *dev)
{
	free(dev->priv);
	dev->priv = NULL;
}

/* The CMOS bytes, the index, the guest's clock as an offset from the host's. */
struct rtc_saved {
	int64_t offset, last_c_sec;
	int32_t set_tm[8];	/* sec min hour mday mon year wday yday */
	uint8_t index;
	uint8_t ram[RTC_RAM];
};

static void rtc_save(struct device *dev, struct dev_state *s)
{
	const struct rtc *r = dev->priv;
	const struct tm *tm = &r->set_tm;
	struct rtc_saved v = { .offset = r->offset, .last_c_sec = r->last_c_sec, .index = r->index,
			       .set_tm = { tm->tm_sec, tm->tm_min, tm->tm_hour, tm->tm_mday,
					   tm->tm_mon, tm->tm_year, tm->tm_wday, tm->tm_yday } };

	memcpy(v.ram, r->ram, sizeof(v.ram));
	dev_state_put(s, &v, sizeof(v));
}

static int rtc_load(struct device *dev, struct dev_state *s)
{
	/*
	 * While B.SET the guest writes any byte to any field (rtc_write_time):
	 * the frozen time holds what rtc_dec makes of a byte - 0..255, a month
	 * one less, a year from century and year bytes - and nothing beyond.
	 */
	static const int32_t lo[8] = { 0, 0, 0, 0, -1, -1900, 0, 0 };
	static const int32_t hi[8] = { 255, 255, 255, 255, 254, 255 * 100 + 255, 6, 365 };
	struct rtc *r = dev->priv;
	struct rtc_saved v;

	dev_state_get(s, &v, sizeof(v));
	if (s->err || v.index >= RTC_RAM || v.offset < TIME_MIN - TIME_MAX ||
	    v.offset > TIME_MAX - TIME_MIN)
		return -EINVAL;
	for (unsigned i = 0; i < 8; i++)
		if (v.set_tm[i] < lo[i] || v.set_tm[i] > hi[i])
			return -EINVAL;
	r->offset = v.offset;
	r->last_c_sec = v.last_c_sec;
	r->index = v.index;
	memcpy(r->ram, v.ram, sizeof(r->ram));
	r->set_tm = (struct tm){ .tm_sec = v.set_tm[0], .tm_min = v.set_tm[1],
				 .tm_hour = v.set_tm[2], .tm_mday = v.set_tm[3],
				 .tm_mon = v.set_tm[4], .tm_year = v.set_tm[5],
				 .tm_wday = v.set_tm[6], .tm_yday = v.set_tm[7] };
	return 0;
}

static const struct device_ops rtc_ops = {
	.create = rtc_create,
	.trap = rtc_trap,
	.shadow = rtc_shadow,
	.save = rtc_save,
	.load = rtc_load,
	.reset = rtc_reset,
	.destroy = rtc_destroy,
};

const struct device_class rtc_class = {
	.name = "rtc",
	.ops = &rtc_ops,
	.nregions = 1,
	.regions = { { "index/data", RTC_NPORTS, false } },
	.irqs_min = 0, .irqs_max = 1,
};
