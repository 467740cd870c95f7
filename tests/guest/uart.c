/*
 * uart: the 8250 at 0x3F8 as Linux's 8250 driver probes it, then one
 * received byte observed as an interrupt through the IOAPIC and LAPIC IRR
 * (interrupts stay masked: the vector is seen pending, never taken).
 *
 * Command line keys:
 *   uart_byte=HEX     (optional) the byte the test will send, e.g. 5a
 *   uart_wait=S       (optional, default 20) seconds to wait for it,
 *                     counted on the RTC
 *
 * The integration test writes the byte to the monitor's stdin after this
 * line appears:   uart: waiting for input
 */
#include "rt.h"

#define THR 0
#define RBR 0
#define DLL 0
#define IER 1
#define DLM 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define MSR 6
#define SCR 7

#define LSR_DR    0x01
#define MCR_DTR   0x01
#define MCR_RTS   0x02
#define MCR_OUT1  0x04
#define MCR_OUT2  0x08
#define MCR_LOOP  0x10
#define IER_RDI   0x01
#define UART_VECTOR 0x34

static uint8_t uin(unsigned reg)
{
	return inb((uint16_t)(COM1 + reg));
}

static void uout(unsigned reg, uint8_t v)
{
	outb((uint16_t)(COM1 + reg), v);
}

static void drain_rx(void)
{
	unsigned n;

	for (n = 0; n < 64 && (uin(LSR) & LSR_DR); n++)
		(void)uin(RBR);
}

static void check_registers(void)
{
	uint8_t a, b, dll, dlm;

	uout(SCR, 0xa5);
	a = uin(SCR);
	uout(SCR, 0x5a);
	b = uin(SCR);
	t_expect(a == 0xa5 && b == 0x5a, "scratch 0x%02x 0x%02x", a, b);

	/* autoconfig(): IER must hold 0 and 0x0F in its low nibble. */
	uout(IER, 0);
	a = uin(IER) & 0x0f;
	uout(IER, 0x0f);
	b = uin(IER) & 0x0f;
	uout(IER, 0);
	t_expect(a == 0 && b == 0x0f, "IER low nibble 0x%x then 0x%x", a, b);

	uout(LCR, 0x83);		/* DLAB, 8N1 */
	uout(DLL, 0x0c);
	uout(DLM, 0x00);
	dll = uin(DLL);
	dlm = uin(DLM);
	uout(DLL, 0x01);		/* 115200 */
	a = uin(DLL);
	uout(LCR, 0x03);
	b = uin(LCR);
	t_expect(dll == 0x0c && dlm == 0 && a == 0x01,
		 "divisor latch 0x%02x%02x then 0x%02x", dlm, dll, a);
	t_expect(b == 0x03, "LCR 0x%02x after clearing DLAB", b);
	t_expect(uin(IER) == 0, "offset 1 is IER again (0x%02x)", uin(IER));

	uout(FCR, 0x07);		/* enable and clear both FIFOs */
	a = uin(IIR);
	t_expect((a & 0xc0) == 0xc0, "FIFOs enabled: IIR 0x%02x (16550A)", a);
}

/* In loopback nothing may be printed: it would loop back into RBR. */
static void check_loopback(void)
{
	uint8_t save = uin(MCR), m1a, m0f, m00, lsr = 0, rx = 0;
	unsigned spin;

	con_enable(false);
	uout(MCR, MCR_LOOP | MCR_OUT2 | MCR_RTS);
	m1a = uin(MSR) & 0xf0;
	uout(MCR, MCR_LOOP | 0x0f);
	m0f = uin(MSR) & 0xf0;
	uout(MCR, MCR_LOOP);
	m00 = uin(MSR) & 0xf0;
	drain_rx();
	uout(THR, 0xa7);
	for (spin = 0; spin < 1000; spin++)
		if ((lsr = uin(LSR)) & LSR_DR)
			break;
	if (lsr & LSR_DR)
		rx = uin(RBR);
	uout(MCR, save);
	(void)uin(MSR);			/* clear the delta bits */
	con_enable(true);

	t_expect(m1a == 0x90, "loopback MSR 0x%02x with OUT2|RTS (Linux wants 0x90)",
		 m1a);
	t_expect(m0f == 0xf0, "loopback MSR 0x%02x with all outputs", m0f);
	t_expect(m00 == 0x00, "loopback MSR 0x%02x with no outputs", m00);
	t_expect((lsr & LSR_DR) && rx == 0xa7,
		 "loopback data: LSR 0x%02x, received 0x%02x", lsr, rx);
}

/*
 * Poll IIR for the receive interrupt (IER enables only that one) for up to
 * `seconds` RTC second ticks (and a hard cap). IIR, not LSR.DR: a read of
 * IIR always reaches the device, while LSR is answered from the device's
 * shadow in the monitor, so a device that stops answering is noticed here
 * (tests/integration/supervise.sh stops it while the guest waits).
 */
static bool wait_rx(uint64_t seconds)
{
	uint8_t last = cmos_read(0), now;
	uint64_t ticks = 0, i;

	for (i = 0; i < 50000000; i++) {
		if (!(uin(IIR) & 1))
			return true;
		if (i % 256)
			continue;
		now = cmos_read(0);
		if (now != last && ++ticks > seconds)
			return false;
		last = now;
	}
	return false;
}

/* IRR may trail LSR when the line is raised asynchronously (irqfd). */
static bool irr_soon(uint8_t vector)
{
	unsigned i;

	for (i = 0; i < 20000; i++)
		if (lapic_irr(vector))
			return true;
	return false;
}

static void check_rx_interrupt(unsigned gsi)
{
	uint64_t wait = 20, want;
	uint8_t iir, rx;
	char buf[8];

	cmdline_get_u64("uart_wait", &wait);
	drain_rx();
	ioapic_route(gsi, UART_VECTOR, lapic_id());
	lapic_enable();
	uout(IER, IER_RDI);
	uout(MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
	t_expect(!lapic_irr(UART_VECTOR), "vector 0x%x not pending before input",
		 UART_VECTOR);
	t_expect(uin(IIR) & 1, "IIR 0x%02x: no interrupt before input", uin(IIR));
	printf("uart: waiting for input\n");
	if (!t_expect(wait_rx(wait), "a byte arrived within %lu s", wait))
		return;
	iir = uin(IIR);
	/* 0x4: data at the trigger level; 0xC: character timeout (FIFO) */
	t_expect((iir & 0x0f) == 0x04 || (iir & 0x0f) == 0x0c,
		 "IIR 0x%02x: receive interrupt pending", iir);
	t_expect(irr_soon(UART_VECTOR), "LAPIC IRR bit for vector 0x%x set",
		 UART_VECTOR);
	rx = uin(RBR);
	t_info("received 0x%02x '%c'", rx, rx >= 0x20 && rx < 0x7f ? rx : '?');
	if (cmdline_get("uart_byte", buf, sizeof(buf)))
		t_expect(parse_hex(buf, &want) && rx == want,
			 "byte 0x%02x, expected uart_byte=%s", rx, buf);
	t_expect(!(uin(LSR) & LSR_DR), "receive buffer empty after reading");
	t_expect(uin(IIR) & 1, "IIR: no interrupt after reading");
	lapic_eoi();
	uout(IER, 0);
	ioapic_mask(gsi);
}

int main(const void *zero_page);
int main(const void *zero_page)
{
	struct madt_info mi;
	unsigned gsi = 4;

	bp_init(zero_page);
	t_begin("uart");
	check_registers();
	check_loopback();
	if (acpi_madt(&mi))
		gsi = mi.irq4_gsi;
	if (!t_expect(gsi < ioapic_pins(), "IRQ 4 -> GSI %u, IOAPIC has %u pins",
		      gsi, ioapic_pins()))
		return 0;
	check_rx_interrupt(gsi);
	return 0;
}
