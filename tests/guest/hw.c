/*
 * Platform devices every guest may touch: local APIC, IOAPIC, PCI
 * configuration mechanism #1 and the CMOS RTC.
 */
#include "rt.h"

/* ---- local APIC (xAPIC MMIO mode) --------------------------------------- */

#define LAPIC_ID   0x020
#define LAPIC_TPR  0x080
#define LAPIC_EOI  0x0b0
#define LAPIC_SVR  0x0f0
#define LAPIC_ISR  0x100
#define LAPIC_IRR  0x200

uint32_t lapic_read(uint32_t reg)
{
	return mmio_read32(LAPIC_BASE + reg);
}

void lapic_write(uint32_t reg, uint32_t v)
{
	mmio_write32(LAPIC_BASE + reg, v);
}

uint8_t lapic_id(void)
{
	return (uint8_t)(lapic_read(LAPIC_ID) >> 24);
}

void lapic_enable(void)
{
	lapic_write(LAPIC_TPR, 0);
	lapic_write(LAPIC_SVR, (1u << 8) | 0xff);
}

/* IRR/ISR: eight 32-bit registers, 16 bytes apart. */
static bool lapic_vec_bit(uint32_t base, uint8_t vector)
{
	return lapic_read(base + 0x10 * (vector / 32)) & (1u << (vector % 32));
}

bool lapic_irr(uint8_t vector)
{
	return lapic_vec_bit(LAPIC_IRR, vector);
}

bool lapic_isr(uint8_t vector)
{
	return lapic_vec_bit(LAPIC_ISR, vector);
}

void lapic_eoi(void)
{
	lapic_write(LAPIC_EOI, 0);
}

/* ---- IOAPIC -------------------------------------------------------------- */

uint32_t ioapic_read(uint8_t reg)
{
	mmio_write32(IOAPIC_BASE, reg);
	return mmio_read32(IOAPIC_BASE + 0x10);
}

void ioapic_write(uint8_t reg, uint32_t v)
{
	mmio_write32(IOAPIC_BASE, reg);
	mmio_write32(IOAPIC_BASE + 0x10, v);
}

unsigned ioapic_pins(void)
{
	return ((ioapic_read(0x01) >> 16) & 0xff) + 1;
}

void ioapic_route(unsigned pin, uint8_t vector, uint8_t dest_apic_id)
{
	/* High half first, so the entry is never live with a stale target. */
	ioapic_write((uint8_t)(0x11 + 2 * pin), (uint32_t)dest_apic_id << 24);
	ioapic_write((uint8_t)(0x10 + 2 * pin), vector);
}

void ioapic_mask(unsigned pin)
{
	ioapic_write((uint8_t)(0x10 + 2 * pin), 1u << 16);
}

/* ---- PCI configuration mechanism #1 ------------------------------------- */

static void pci_cfg_select(unsigned bus, unsigned dev, unsigned fn,
			   unsigned reg)
{
	outl(0xcf8, 0x80000000u | (bus & 0xff) << 16 | (dev & 0x1f) << 11 |
		     (fn & 7) << 8 | (reg & 0xfc));
}

uint32_t pci_cfg_read32(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
	pci_cfg_select(bus, dev, fn, reg);
	return inl(0xcfc);
}

uint16_t pci_cfg_read16(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
	pci_cfg_select(bus, dev, fn, reg);
	return inw((uint16_t)(0xcfc + (reg & 2)));
}

uint8_t pci_cfg_read8(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
	pci_cfg_select(bus, dev, fn, reg);
	return inb((uint16_t)(0xcfc + (reg & 3)));
}

void pci_cfg_write32(unsigned bus, unsigned dev, unsigned fn, unsigned reg,
		     uint32_t v)
{
	pci_cfg_select(bus, dev, fn, reg);
	outl(0xcfc, v);
}

/* ---- CMOS RTC ------------------------------------------------------------ */

#define RTC_REG_A 0x0a
#define RTC_REG_B 0x0b
#define RTC_UIP   0x80
#define RTC_DM_BINARY 0x04
#define RTC_24H   0x02

uint8_t cmos_read(uint8_t reg)
{
	outb(0x70, reg);	/* bit 7 clear: NMI stays enabled, as Linux does */
	return inb(0x71);
}

void cmos_write(uint8_t reg, uint8_t v)
{
	outb(0x70, reg);
	outb(0x71, v);
}

static const uint8_t rtc_regs[7] = { 0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32 };

/* Two successive snapshots must agree, else an update came in between. */
static bool rtc_snapshot(uint8_t raw[7])
{
	unsigned spin, i;

	for (spin = 0; spin < 20000; spin++)
		if (!(cmos_read(RTC_REG_A) & RTC_UIP))
			break;
	if (spin == 20000)
		return false;
	for (i = 0; i < 7; i++)
		raw[i] = cmos_read(rtc_regs[i]);
	return true;
}

static unsigned rtc_decode(uint8_t v, bool binary)
{
	return binary ? v : (v >> 4) * 10u + (v & 0x0f);
}

bool rtc_read(struct rtc_time *t)
{
	uint8_t a[7], b[7], regb;
	unsigned tries, hour, century;
	bool bin;

	for (tries = 0; tries < 5; tries++) {
		if (!rtc_snapshot(a) || !rtc_snapshot(b))
			return false;
		if (!memcmp(a, b, sizeof(a)))
			break;
	}
	regb = cmos_read(RTC_REG_B);
	bin = regb & RTC_DM_BINARY;
	t->sec = rtc_decode(a[0], bin);
	t->min = rtc_decode(a[1], bin);
	hour = rtc_decode(a[2] & 0x7f, bin);
	if (!(regb & RTC_24H)) {	/* 12-hour: bit 7 is PM */
		hour %= 12;
		if (a[2] & 0x80)
			hour += 12;
	}
	t->hour = hour;
	t->mday = rtc_decode(a[3], bin);
	t->mon = rtc_decode(a[4], bin);
	century = rtc_decode(a[6], bin);
	if (century < 19 || century > 21)
		century = 20;
	t->year = century * 100 + rtc_decode(a[5], bin);
	return true;
}

/* Howard Hinnant's days_from_civil, for years >= 1970. */
uint64_t rtc_to_unix(const struct rtc_time *t)
{
	uint64_t y = t->year - (t->mon <= 2);
	uint64_t era = y / 400, yoe = y - era * 400;
	uint64_t mp = (t->mon + 9) % 12;
	uint64_t doy = (153 * mp + 2) / 5 + t->mday - 1;
	uint64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	uint64_t days = era * 146097 + doe - 719468;

	return days * 86400 + t->hour * 3600ul + t->min * 60ul + t->sec;
}
