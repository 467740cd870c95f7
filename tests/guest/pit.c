/*
 * pit: the in-kernel PIT's interrupt arrives where the firmware tables say.
 * The MADT (interrupt source override) and the MP table put ISA IRQ 0 on
 * IOAPIC pin 2, as on a PC; the monitor's GSI routing must agree, or Linux
 * finds no timer interrupt ("IO-APIC + timer doesn't work"). Routes pin 2
 * to one vector and pin 0 to another, fires PIT channel 0 once (mode 0,
 * about 1 ms) and checks which vector shows in the LAPIC IRR. No keys.
 */
#include "rt.h"

#define VEC_PIN2 0x32
#define VEC_PIN0 0x30
#define PIT_COUNT 1193	/* 1 ms at 1.193182 MHz */

int main(const void *zero_page);
int main(const void *zero_page)
{
	bool seen = false;

	bp_init(zero_page);
	t_begin("pit");
	lapic_enable();
	ioapic_route(2, VEC_PIN2, lapic_id());
	ioapic_route(0, VEC_PIN0, lapic_id());
	t_expect(!lapic_irr(VEC_PIN2) && !lapic_irr(VEC_PIN0), "no timer vector pending yet");
	outb(0x43, 0x30);		/* channel 0, lo/hi byte, mode 0, binary */
	outb(0x40, PIT_COUNT & 0xff);
	outb(0x40, PIT_COUNT >> 8);
	for (unsigned i = 0; i < 200000 && !seen; i++)
		seen = lapic_irr(VEC_PIN2) || lapic_irr(VEC_PIN0);
	t_expect(lapic_irr(VEC_PIN2), "PIT interrupt on IOAPIC pin 2 (vector 0x%x)", VEC_PIN2);
	t_expect(!lapic_irr(VEC_PIN0), "nothing on IOAPIC pin 0");
	ioapic_mask(0);
	ioapic_mask(2);
	lapic_eoi();
	return 0;
}
