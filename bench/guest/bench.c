/*
 * The benchmark guest: prints one line on the 8250 and ends the VM, with
 * nothing in between, so that boot.sh measures the VMM and not the guest.
 * Ending: isa-debug-exit (QEMU), ACPI S5 on PM1a_CNT 0x604 (vmm-monitor,
 * QEMU pc), i8042 reset: the first one the machine has wins.
 */
#include <stdint.h>

void bench_main(void);

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static void puts_serial(const char *s)
{
	for (; *s; s++)
		outb(0x3f8, (uint8_t)*s);
}

void bench_main(void)
{
	puts_serial("vmm-bench: guest up\n");
	outb(0xf4, 0);				/* QEMU isa-debug-exit */
	outw(0x604, (5 << 10) | (1 << 13));	/* ACPI S5 */
	outb(0x64, 0xfe);			/* i8042 reset */
}
