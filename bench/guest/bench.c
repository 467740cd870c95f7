/*
 * The benchmark guests. bench-guest prints one line on the 8250 and ends
 * the VM, with nothing in between, so that boot.sh measures the VMM and not
 * the guest. bench-trap (BENCH_TRAP) does BENCH_N port writes, then
 * BENCH_N port reads, of the 8250 scratch register (0x3FF), printing a
 * marker line before and after each batch; trap.sh times the markers.
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

static inline uint8_t inb(uint16_t port)
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
