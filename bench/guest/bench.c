/*
 * The benchmark guests. bench-guest prints one line on the 8250 and ends
 * the VM, with nothing in between, so that boot.sh measures the VMM and not
 * the guest. bench-trap (BENCH_TRAP) does BENCH_N port writes, then
 * BENCH_N port reads, of the 8250 scratch register (0x3FF), then the same
 * as MMIO on a virtio-rng's queue_select register (common configuration,
 * found through its PCI capabilities, wherever the firmware or monitor put
 * its BAR), then reads whose every access has an effect and so always
 * reaches the device: the 8250's RBR (port 0x3F8, empty) and the
 * virtio-rng's ISR; it prints a marker line before and after each batch;
 * trap.sh times the markers.
 * Ending: isa-debug-exit (QEMU), ACPI S5 on PM1a_CNT 0x604 (vmm-monitor,
 * QEMU pc), i8042 reset: the first one the machine has wins.
 */
#include <stdint.h>

#define BENCH_N 20000
#define UART_SCRATCH 0x3ff

void bench_main(void);

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline __attribute__((unused)) uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
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

#ifdef BENCH_TRAP
static volatile uint8_t bench_sink;

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static uint32_t cfg_read(unsigned dev, unsigned reg)
{
	outl(0xcf8, 0x80000000u | dev << 11 | (reg & 0xfc));
	return inl(0xcfc);
}

/* The virtio capability of cfg_type `type` in slot dev: its register address. */
static uint64_t virtio_cap_addr(unsigned dev, unsigned type)
{
	for (unsigned p = cfg_read(dev, 0x34) & 0xfc, n = 0; p && n < 48; n++) {
		uint32_t w0 = cfg_read(dev, p);

		if ((w0 & 0xff) == 0x09 && ((w0 >> 24) & 0xff) == type) {
			unsigned bar = cfg_read(dev, p + 4) & 0xff;
			uint64_t lo = cfg_read(dev, 0x10 + 4 * bar), addr = lo & ~0xfull;

			if ((lo & 6) == 4)
				addr |= (uint64_t)cfg_read(dev, 0x14 + 4 * bar) << 32;
			return addr ? addr + cfg_read(dev, p + 8) : 0;
		}
		p = (w0 >> 8) & 0xfc;
	}
	return 0;
}

/*
 * Of the first virtio-rng on bus 0 (modern): the address of queue_select
 * (returned, 0 if none) and of its ISR byte (*isr).
 */
static uint64_t find_mmio_register(uint64_t *isr)
{
	for (unsigned dev = 0; dev < 32; dev++) {
		uint64_t common;

		if (cfg_read(dev, 0) != (0x1044u << 16 | 0x1af4))
			continue;
		outl(0xcf8, 0x80000000u | dev << 11 | 0x04);
		outl(0xcfc, inl(0xcfc) | 0x2);	/* memory decoding on */
		common = virtio_cap_addr(dev, 1);
		*isr = virtio_cap_addr(dev, 3);
		return common && *isr ? common + 0x16 : 0;
	}
	return 0;
}

static void bench_mmio(void)
{
	uint64_t isr_addr = 0, reg = find_mmio_register(&isr_addr);
	volatile uint16_t *r = (volatile uint16_t *)(uintptr_t)reg;
	volatile uint8_t *isr = (volatile uint8_t *)(uintptr_t)isr_addr;
	uint16_t sum = 0;

	if (!reg) {
		puts_serial("trap: no virtio-rng for MMIO\n");
		return;
	}
	puts_serial("trap: mmio writes begin\n");
	for (int i = 0; i < BENCH_N; i++)
		*r = 0;
	puts_serial("trap: mmio writes end\n");
	puts_serial("trap: mmio reads begin\n");
	for (int i = 0; i < BENCH_N; i++)
		sum += *r;
	bench_sink = (uint8_t)sum;
	puts_serial("trap: mmio reads end\n");
	puts_serial("trap: rbr reads begin\n");
	for (int i = 0; i < BENCH_N; i++)
		sum += inb(0x3f8);
	puts_serial("trap: rbr reads end\n");
	puts_serial("trap: isr reads begin\n");
	for (int i = 0; i < BENCH_N; i++)
		sum += *isr;
	bench_sink = (uint8_t)sum;
	puts_serial("trap: isr reads end\n");
}

static void bench_traps(void)
{
	uint8_t sum = 0;

	puts_serial("trap: writes begin\n");
	for (int i = 0; i < BENCH_N; i++)
		outb(UART_SCRATCH, (uint8_t)i);
	puts_serial("trap: writes end\n");
	puts_serial("trap: reads begin\n");
	for (int i = 0; i < BENCH_N; i++)
		sum += inb(UART_SCRATCH);
	bench_sink = sum;	/* keep the reads */
	puts_serial("trap: reads end\n");
	bench_mmio();
}
#endif

void bench_main(void)
{
	puts_serial("vmm-bench: guest up\n");
#ifdef BENCH_TRAP
	bench_traps();
#endif
	outb(0xf4, 0);				/* QEMU isa-debug-exit */
	outw(0x604, (5 << 10) | (1 << 13));	/* ACPI S5 */
	outb(0x64, 0xfe);			/* i8042 reset */
}
