/*
 * 8250/16550A UART, as Linux's 8250 driver and a PC expect it.
 *
 * Spec: one PIO region of 8 ports (normally 0x3F8), one irq line (GSI 4).
 * Backend: fds[0] is the input (bytes the user types), fds[1] the output.
 * The host calls backend(dev, 0) while fds[0] is readable and poll_mask
 * bit 0 is set; the bit is clear while the RX FIFO is full, in loopback mode
 * and after end of input.
 *
 * Transmission is instant: THRE and TEMT are always set, and every THR write
 * goes straight to write(2) on fds[1] (a byte that would block is dropped
 * and counted). The interrupt line is asserted while an enabled interrupt is
 * pending and MCR OUT2 is set, as the PC wires it. The receive character
 * timeout is taken as already expired: with data below the trigger level,
 * IIR reports 0x0C at once. Accesses wider than a byte are split into byte
 * accesses on consecutive ports, as the ISA bus does; bytes past the eighth
 * port read 0xFF and are dropped on write.
 */
#include "device.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define SERIAL_NPORTS	8
#define SERIAL_FIFO	16

enum {	/* port offsets */
	REG_DATA, REG_IER, REG_IIR, REG_LCR, REG_MCR, REG_LSR, REG_MSR, REG_SCR,
};

#define IER_RDI		0x01	/* receive data available */
#define IER_THRI	0x02	/* THR empty */
#define IER_RLSI	0x04	/* receiver line status */
#define IER_MSI		0x08	/* modem status */

#define IIR_NONE	0x01
#define IIR_MSI		0x00
#define IIR_THRI	0x02
#define IIR_RDI		0x04
#define IIR_RLSI	0x06
#define IIR_TIMEOUT	0x0C
#define IIR_FIFO	0xC0	/* FIFOs enabled, 16550A */

#define FCR_ENABLE	0x01
#define FCR_CLEAR_RX	0x02

#define LCR_DLAB	0x80

#define MCR_DTR		0x01
#define MCR_RTS		0x02
#define MCR_OUT1	0x04
#define MCR_OUT2	0x08
#define MCR_LOOP	0x10
#define MCR_MASK	0x1F

#define LSR_DR		0x01
#define LSR_OE		0x02
#define LSR_ERRORS	0x1E	/* OE, PE, FE, BI */
#define LSR_THRE	0x20
#define LSR_TEMT	0x40

#define MSR_CTS		0x10
#define MSR_DSR		0x20
#define MSR_RI		0x40
#define MSR_DCD		0x80

struct serial {
	struct device *dev;
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	uint8_t lsr_err;	/* OE/PE/FE/BI until LSR is read */
	uint8_t msr_delta;	/* MSR bits 0-3 until MSR is read */
	uint8_t rx[SERIAL_FIFO];
	unsigned rx_head, rx_count;
	bool thr_pending;	/* THR-empty interrupt armed */
	bool irq_level;
	bool rx_eof;		/* input ended or failed: stop polling it */
	uint64_t tx_dropped;
};

static unsigned serial_rx_cap(const struct serial *s)
{
	return (s->fcr & FCR_ENABLE) ? SERIAL_FIFO : 1;
}

/* The modem status lines: looped back from MCR, else a connected line. */
static uint8_t serial_msr_lines(uint8_t mcr)
{
	if (!(mcr & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;
	return (uint8_t)(((mcr & MCR_RTS) << 3) | ((mcr & MCR_DTR) << 5) |
			 ((mcr & MCR_OUT1) << 4) | ((mcr & MCR_OUT2) << 4));
}

static void serial_update_poll(struct serial *s)
{
	struct device *dev = s->dev;
	bool want = dev->nfds > 0 && dev->fds[0] >= 0 && !s->rx_eof &&
		    !(s->mcr & MCR_LOOP) && s->rx_count < serial_rx_cap(s);

	dev->poll_mask = want ? dev->poll_mask | 1u : dev->poll_mask & ~1u;
}

/* The interrupt IIR reports, by priority. */
static uint8_t serial_iir_id(const struct serial *s)
{
	static const uint8_t trigger[4] = { 1, 4, 8, 14 };

	if ((s->ier & IER_RLSI) && s->lsr_err)
		return IIR_RLSI;
	if ((s->ier & IER_RDI) && s->rx_count) {
		if ((s->fcr & FCR_ENABLE) && s->rx_count < trigger[s->fcr >> 6])
			return IIR_TIMEOUT;
		return IIR_RDI;
	}
	if ((s->ier & IER_THRI) && s->thr_pending)
		return IIR_THRI;
	if ((s->ier & IER_MSI) && s->msr_delta)
		return IIR_MSI;
	return IIR_NONE;
}

static bool serial_irq_due(const struct serial *s)
{
	return serial_iir_id(s) != IIR_NONE && (s->mcr & MCR_OUT2);
}

static void serial_update_irq(struct serial *s)
{
	bool level = serial_irq_due(s);

	if (level == s->irq_level)
		return;
	s->irq_level = level;
	if (s->dev->host->irq_set(s->dev->host, 0, level) < 0)
		dev_warn_once(s->dev, "irq_set failed");
}

static void serial_rx_clear(struct serial *s)
{
	s->rx_head = 0;
	s->rx_count = 0;
}

static void serial_rx_push(struct serial *s, uint8_t byte)
{
	if (s->rx_count >= serial_rx_cap(s)) {
		s->lsr_err |= LSR_OE;
		return;
	}
	s->rx[(s->rx_head + s->rx_count) % SERIAL_FIFO] = byte;
	s->rx_count++;
}

static uint8_t serial_rx_pop(struct serial *s)
{
	uint8_t byte;

	if (!s->rx_count)
		return 0;
	byte = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % SERIAL_FIFO;
	s->rx_count--;
	return byte;
}

/* Send one byte to the output fd; it is dropped rather than ever blocking. */
static void serial_tx(struct serial *s, uint8_t byte)
{
	struct device *dev = s->dev;
	ssize_t n;

	if (dev->nfds < 2 || dev->fds[1] < 0) {
		s->tx_dropped++;
		return;
	}
	do
		n = write(dev->fds[1], &byte, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1)
		return;
	s->tx_dropped++;
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
		dev_warn_once(dev, "output write failed: errno %d", errno);
}

static void serial_write_thr(struct serial *s, uint8_t v)
{
	if (s->mcr & MCR_LOOP)
		serial_rx_push(s, v);
	else
		serial_tx(s, v);
	s->thr_pending = true;	/* sent at once: THR is empty again */
}

static void serial_write_ier(struct serial *s, uint8_t v)
{
	uint8_t rising = v & ~s->ier;

	s->ier = v & 0x0F;
	/* Enabling THRI re-arms it while THR is empty (Linux tests this). */
	if (rising & IER_THRI)
		s->thr_pending = true;
}

/* FCR bits other than ENABLE only take effect with ENABLE set (16550A). */
static void serial_write_fcr(struct serial *s, uint8_t v)
{
	if ((v ^ s->fcr) & FCR_ENABLE)
		serial_rx_clear(s);
	if (!(v & FCR_ENABLE)) {
		s->fcr = 0;
		return;
	}
	if (v & FCR_CLEAR_RX)
		serial_rx_clear(s);
	s->fcr = v & 0xC9;	/* trigger level, DMA mode, enable */
}

static void serial_write_mcr(struct serial *s, uint8_t v)
{
	uint8_t old = serial_msr_lines(s->mcr), now = serial_msr_lines(v);
	uint8_t changed = old ^ now;

	/* DCTS, DDSR, DDCD on any change; TERI on RI falling. */
	s->msr_delta |= (uint8_t)(((changed & 0xB0) | (old & ~now & MSR_RI)) >> 4);
	s->mcr = v & MCR_MASK;
}

static void serial_write(struct serial *s, unsigned port, uint8_t v)
{
	bool dlab = s->lcr & LCR_DLAB;

	switch (port) {
	case REG_DATA: if (dlab) s->dll = v; else serial_write_thr(s, v); break;
	case REG_IER:  if (dlab) s->dlm = v; else serial_write_ier(s, v); break;
	case REG_IIR:  serial_write_fcr(s, v); break;
	case REG_LCR:  s->lcr = v; break;
	case REG_MCR:  serial_write_mcr(s, v); break;
	case REG_SCR:  s->scr = v; break;
	default:
		dev_warn_once(s->dev, "write 0x%02x to read-only port +%u", v, port);
	}
}

static uint8_t serial_read_iir(struct serial *s)
{
	uint8_t id = serial_iir_id(s);

	/* Reading IIR acknowledges a THR-empty interrupt it reports. */
	if (id == IIR_THRI)
		s->thr_pending = false;
	return id | ((s->fcr & FCR_ENABLE) ? IIR_FIFO : 0);
}

static uint8_t serial_read_lsr(struct serial *s)
{
	uint8_t v = LSR_THRE | LSR_TEMT | s->lsr_err | (s->rx_count ? LSR_DR : 0);

	s->lsr_err = 0;
	return v;
}

static uint8_t serial_read_msr(struct serial *s)
{
	uint8_t v = serial_msr_lines(s->mcr) | s->msr_delta;

	s->msr_delta = 0;
	return v;
}

static uint8_t serial_read(struct serial *s, unsigned port)
{
	bool dlab = s->lcr & LCR_DLAB;

	switch (port) {
	case REG_DATA: return dlab ? s->dll : serial_rx_pop(s);
	case REG_IER:  return dlab ? s->dlm : s->ier;
	case REG_IIR:  return serial_read_iir(s);
	case REG_LCR:  return s->lcr;
	case REG_MCR:  return s->mcr;
	case REG_LSR:  return serial_read_lsr(s);
	case REG_MSR:  return serial_read_msr(s);
	default:       return s->scr;
	}
}

static int serial_trap(struct device *dev, struct trap *t)
{
	struct serial *s = dev->priv;
	uint64_t v = 0;

	if (t->region != 0 || t->offset >= SERIAL_NPORTS || t->len == 0 || t->len > 8)
		return -EINVAL;
	if (t->len > 1)
		dev_warn_once(dev, "%u-byte access at +%llu split into bytes",
			      t->len, (unsigned long long)t->offset);
	for (unsigned i = 0; i < t->len; i++) {
		unsigned port = (unsigned)t->offset + i;
		uint8_t b = 0xFF;

		if (port < SERIAL_NPORTS && t->is_write)
			serial_write(s, port, t->data[i]);
		else if (port < SERIAL_NPORTS)
			b = serial_read(s, port);
		v |= (uint64_t)b << (8 * i);
	}
	if (!t->is_write)
		trap_set_value(t, v);
	serial_update_poll(s);
	serial_update_irq(s);
	return 0;
}

/*
 * Registers whose read changes nothing now: IER (or DLM), LCR, MCR and the
 * scratch register always; DLL under DLAB; LSR while no error bit waits
 * to be cleared by reading it, MSR while no delta bit does. RBR pops a
 * byte and IIR acknowledges THRE: never. A byte written to THR outside
 * loopback only leaves (THRE stays set: output never blocks) and re-arms
 * THRI, which IIR shows: it changes nothing here, so a read of LSR need not
 * wait for it (Linux's console writes THR, then polls LSR, per character).
 */
static void serial_shadow(struct device *dev, struct trap_shadow *sh)
{
	struct serial *s = dev->priv;
	bool dlab = s->lcr & LCR_DLAB;

	if (dlab)
		trap_shadow_put(sh, 0, REG_DATA, 1, s->dll);
	trap_shadow_put(sh, 0, REG_IER, 1, dlab ? s->dlm : s->ier);
	trap_shadow_put(sh, 0, REG_LCR, 1, s->lcr);
	trap_shadow_put(sh, 0, REG_MCR, 1, s->mcr);
	if (!s->lsr_err)
		trap_shadow_put(sh, 0, REG_LSR, 1,
				LSR_THRE | LSR_TEMT | (s->rx_count ? LSR_DR : 0));
	if (!s->msr_delta)
		trap_shadow_put(sh, 0, REG_MSR, 1, serial_msr_lines(s->mcr));
	trap_shadow_put(sh, 0, REG_SCR, 1, s->scr);
	if (!dlab && !(s->mcr & MCR_LOOP))
		trap_shadow_neutral(sh, 0, REG_DATA, 1);
}

/* fds[0] is readable: take as many bytes as the FIFO has room for. */
static void serial_backend(struct device *dev, unsigned index)
{
	struct serial *s = dev->priv;
	uint8_t buf[SERIAL_FIFO];
	size_t room = serial_rx_cap(s) - s->rx_count;
	ssize_t n;

	if (index != 0 || !(dev->poll_mask & 1u) || room == 0)
		return;
	n = read(dev->fds[0], buf, room);
	if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
		dev_info(dev, "input %s: no longer polled", n ? "failed" : "ended");
		s->rx_eof = true;
	}
	for (ssize_t i = 0; i < n; i++)
		serial_rx_push(s, buf[i]);
	serial_update_poll(s);
	serial_update_irq(s);
}

static void serial_reset(struct device *dev)
{
	struct serial *s = dev->priv;

	s->ier = s->lcr = s->mcr = s->scr = s->fcr = 0;
	s->dll = 0x0C;		/* 9600 baud */
	s->dlm = 0;
	s->lsr_err = s->msr_delta = 0;
	s->thr_pending = false;
	serial_rx_clear(s);
	serial_update_poll(s);
	serial_update_irq(s);
}

static int serial_create(struct device *dev, const struct device_spec *spec)
{
	struct serial *s;

	(void)spec;	/* device_create checked its region and line */
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->dev = dev;
	dev->priv = s;
	serial_reset(dev);
	return 0;
}

static void serial_destroy(struct device *dev)
{
	struct serial *s = dev->priv;

	if (s && s->tx_dropped)
		dev_info(dev, "%llu output bytes dropped",
			 (unsigned long long)s->tx_dropped);
	free(s);
	dev->priv = NULL;
}

/* The registers and received bytes; output already written is not the device's any more. */
struct serial_saved {
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm, lsr_err, msr_delta, thr_pending;
	uint8_t rx_count;
	uint8_t rx[SERIAL_FIFO];	/* oldest first */
};

static void serial_save(struct device *dev, struct dev_state *st)
{
	struct serial *s = dev->priv;
	struct serial_saved v = { .ier = s->ier, .lcr = s->lcr, .mcr = s->mcr, .scr = s->scr,
				  .fcr = s->fcr, .dll = s->dll, .dlm = s->dlm,
				  .lsr_err = s->lsr_err, .msr_delta = s->msr_delta,
				  .thr_pending = s->thr_pending, .rx_count = (uint8_t)s->rx_count };

	for (unsigned i = 0; i < s->rx_count; i++)
		v.rx[i] = s->rx[(s->rx_head + i) % SERIAL_FIFO];
	dev_state_put(st, &v, sizeof(v));
}

static int serial_load(struct device *dev, struct dev_state *st)
{
	struct serial *s = dev->priv;
	struct serial_saved v;

	dev_state_get(st, &v, sizeof(v));
	if (st->err || v.rx_count > SERIAL_FIFO || (v.ier & ~0x0F) || (v.mcr & ~MCR_MASK) ||
	    (v.lsr_err & ~LSR_ERRORS) || (v.msr_delta & ~0x0F) || v.thr_pending > 1)
		return -EINVAL;
	s->ier = v.ier;
	s->lcr = v.lcr;
	s->mcr = v.mcr;
	s->scr = v.scr;
	s->fcr = v.fcr;
	s->dll = v.dll;
	s->dlm = v.dlm;
	s->lsr_err = v.lsr_err;
	s->msr_delta = v.msr_delta;
	s->thr_pending = v.thr_pending;
	memcpy(s->rx, v.rx, sizeof(s->rx));
	s->rx_head = 0;
	s->rx_count = v.rx_count;
	if (s->rx_count > serial_rx_cap(s))
		return -EINVAL;
	s->irq_level = !serial_irq_due(s);	/* a fresh process: drive the line either way */
	serial_update_irq(s);
	serial_update_poll(s);
	return 0;
}

static const struct device_ops serial_ops = {
	.create = serial_create,
	.trap = serial_trap,
	.backend = serial_backend,
	.shadow = serial_shadow,
	.save = serial_save,
	.load = serial_load,
	.reset = serial_reset,
	.destroy = serial_destroy,
};

const struct device_class serial_class = {
	.name = "serial",
	.ops = &serial_ops,
	.nregions = 1,
	.regions = { { "ports", SERIAL_NPORTS, false } },
	.irqs_min = 1, .irqs_max = 1,
};
