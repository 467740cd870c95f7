/* The 8250/16550A UART, driven the way Linux's 8250 driver drives it. */
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "fakehost.h"

extern const struct device_class serial_class;

enum { RBR, IER, IIR, LCR, MCR, LSR, MSR, SCR };

static struct fakehost fh;
static struct device dev;
static int in_pipe[2], out_pipe[2];

static int serial_new(void)
{
	struct fakespec fs;

	fakespec_init(&fs, "serial");
	fakespec_add_pio(&fs, 0x3F8, 8);
	fakespec_add_irq(&fs, 4);
	return fakehost_create(&fh, &dev, &serial_class, &fs.spec, in_pipe[0], out_pipe[1]);
}

static void test_bad_specs(void)
{
	struct fakespec fs;

	fakespec_init(&fs, "serial");
	fakespec_add_irq(&fs, 4);
	CHECK(fakehost_create(&fh, &dev, &serial_class, &fs.spec, -1, -1) == -EINVAL,
	      "no region: -EINVAL");
	CHECK(fakehost_logged(&fh, "region ports (8 addresses)"), "no region: error logged");
	fakespec_add_pio(&fs, 0x3F8, 4);
	CHECK(fakehost_create(&fh, &dev, &serial_class, &fs.spec, -1, -1) == -EINVAL,
	      "4-port region: -EINVAL");
	fakespec_init(&fs, "serial");
	fakespec_add_pio(&fs, 0x3F8, 8);
	CHECK(fakehost_create(&fh, &dev, &serial_class, &fs.spec, -1, -1) == -EINVAL,
	      "no irq: -EINVAL");
	fs.spec.regions[0].bus = TRAP_NBUS;
	fakespec_add_irq(&fs, 4);
	CHECK(fakehost_create(&fh, &dev, &serial_class, &fs.spec, -1, -1) == -EINVAL,
	      "a region on no bus: -EINVAL");
	CHECK(dev.priv == NULL, "failed create leaves nothing allocated");
}

/*
 * On arm64 the machine places the 8250 on MMIO (arch_arm64.c): the model
 * sees offsets either way. Scratch and LCR round trips, THR to the output.
 */
static void test_mmio(void)
{
	struct fakespec fs;
	struct device mdev;
	int in_pipe[2], out_pipe[2];
	char c = 0;

	CHECK(pipe(in_pipe) == 0 && pipe(out_pipe) == 0, "pipes");
	fakespec_init(&fs, "serial");
	fakespec_add_mmio(&fs, 0x1000000, 8);
	fakespec_add_irq(&fs, 1);
	CHECK(fakehost_create(&fh, &mdev, &serial_class, &fs.spec, in_pipe[0], out_pipe[1]) == 0,
	      "an 8-byte MMIO region: created");
	dev_out8(&mdev, SCR, 0x5a);
	CHECK_EQ(dev_in8(&mdev, SCR), 0x5a, "MMIO: scratch round trip");
	dev_out8(&mdev, LCR, 0x03);
	CHECK_EQ(dev_in8(&mdev, LCR), 0x03, "MMIO: LCR 8N1");
	dev_out8(&mdev, RBR, 'k');	/* THR: the same offset as RBR */
	CHECK(read(out_pipe[0], &c, 1) == 1 && c == 'k', "MMIO: THR reaches the output");
	mdev.ops->destroy(&mdev);
	close(in_pipe[0]); close(in_pipe[1]); close(out_pipe[0]); close(out_pipe[1]);
}

/* drivers/tty/serial/8250/8250_port.c autoconfig(), step by step. */
static void test_autoconfig(void)
{
	uint8_t save_mcr, status;

	dev_out8(&dev, SCR, 0xA5);
	CHECK_EQ(dev_in8(&dev, SCR), 0xA5, "scratch register round trip");
	dev_out8(&dev, IER, 0);
	CHECK_EQ(dev_in8(&dev, IER) & 0x0F, 0, "IER reads back 0");
	dev_out8(&dev, IER, 0x0F);
	CHECK_EQ(dev_in8(&dev, IER) & 0x0F, 0x0F, "IER reads back 0x0F");
	dev_out8(&dev, IER, 0);
	save_mcr = dev_in8(&dev, MCR);
	dev_out8(&dev, MCR, 0x1A);
	CHECK_EQ(dev_in8(&dev, MSR) & 0xF0, 0x90, "loopback: MSR reflects MCR 0x1A");
	dev_out8(&dev, MCR, save_mcr);
	dev_out8(&dev, LCR, 0xBF);
	dev_out8(&dev, IIR, 0);		/* EFR, were there one */
	dev_out8(&dev, LCR, 0);
	dev_out8(&dev, IIR, 0x01);
	CHECK_EQ(dev_in8(&dev, IIR) >> 6, 3, "FIFO enabled: IIR bits 6-7 say 16550A");
	dev_out8(&dev, LCR, 0x80);
	CHECK(dev_in8(&dev, IIR) != 0, "no EFR behind LCR 0x80");
	dev_out8(&dev, LCR, 0xBF);
	CHECK(dev_in8(&dev, IIR) != 0, "no EFR behind LCR 0xBF");
	dev_out8(&dev, LCR, 0x80);
	dev_out8(&dev, IIR, 0x21);	/* 64-byte FIFO request: not a 16750 */
	status = dev_in8(&dev, IIR) & 0xE0;
	CHECK_EQ(status, 0xC0, "IIR bit 5 stays clear with DLAB (not a 16750)");
	dev_out8(&dev, LCR, 0x03);
	CHECK_EQ(dev_in8(&dev, LSR), 0x60, "LSR: THRE|TEMT, no data");
}

static void test_divisor(void)
{
	dev_out8(&dev, IER, 0x05);
	dev_out8(&dev, LCR, 0x83);
	dev_out8(&dev, RBR, 0x01);
	dev_out8(&dev, IER, 0x02);
	CHECK_EQ(dev_in8(&dev, RBR), 0x01, "DLL round trip");
	CHECK_EQ(dev_in8(&dev, IER), 0x02, "DLM round trip");
	dev_out8(&dev, LCR, 0x03);
	CHECK_EQ(dev_in8(&dev, IER), 0x05, "IER untouched by the divisor writes");
	CHECK_EQ(dev_in8(&dev, LCR), 0x03, "LCR round trip");
	dev_out8(&dev, LCR, 0x83);
	CHECK_EQ(dev_in8(&dev, RBR) | dev_in8(&dev, IER) << 8, 0x0201, "divisor kept");
	dev_out8(&dev, LCR, 0x03);
	dev_out8(&dev, IER, 0);
}

static void test_tx(void)
{
	char buf[16] = { 0 };
	ssize_t n;

	for (const char *p = "hi\n"; *p; p++)
		dev_out8(&dev, RBR, (uint8_t)*p);
	n = read(out_pipe[0], buf, sizeof(buf));
	CHECK(n == 3 && memcmp(buf, "hi\n", 3) == 0, "TX bytes reach the output fd");
	CHECK_EQ(dev_in8(&dev, LSR) & 0x60, 0x60, "THRE and TEMT after TX");
}

static void feed(const char *s)
{
	CHECK(write(in_pipe[1], s, strlen(s)) == (ssize_t)strlen(s), "fed %zu bytes", strlen(s));
	dev.ops->backend(&dev, 0);
}

static void test_rx_irq(void)
{
	CHECK(dev.poll_mask & 1, "input polled while the FIFO has room");
	dev_out8(&dev, IIR, 0x07);		/* FIFO on, cleared, trigger 1 */
	feed("abc");
	CHECK(dev_in8(&dev, LSR) & 0x01, "DR set after RX");
	CHECK_EQ(fh.irq[0], 0, "no irq with IER 0");
	dev_out8(&dev, IER, 0x01);
	CHECK_EQ(fh.irq[0], 0, "no irq with RDI but without OUT2");
	dev_out8(&dev, MCR, 0x0B);		/* DTR RTS OUT2 */
	CHECK_EQ(fh.irq[0], 1, "irq with RDI and OUT2");
	CHECK_EQ(dev_in8(&dev, IIR), 0xC4, "IIR: RX data available");
	dev_out8(&dev, IIR, 0xC1);		/* trigger 14 */
	CHECK_EQ(dev_in8(&dev, IIR), 0xCC, "IIR: below trigger level -> timeout id");
	CHECK_EQ(dev_in8(&dev, RBR), 'a', "RX byte 1");
	CHECK_EQ(dev_in8(&dev, RBR), 'b', "RX byte 2");
	CHECK_EQ(dev_in8(&dev, RBR), 'c', "RX byte 3");
	CHECK_EQ(dev_in8(&dev, LSR) & 0x01, 0, "DR clear when drained");
	CHECK_EQ(dev_in8(&dev, IIR), 0xC1, "IIR: nothing pending");
	CHECK_EQ(fh.irq[0], 0, "irq dropped when drained");
	dev_out8(&dev, IER, 0);
}

static void test_fifo_full(void)
{
	char c;
	int ok = 1;

	feed("0123456789abcdefXYZ");
	CHECK(!(dev.poll_mask & 1), "FIFO full: input no longer polled");
	CHECK_EQ(dev_in8(&dev, LSR) & 0x02, 0, "no overrun from a polled fd");
	CHECK_EQ(dev_in8(&dev, RBR), '0', "first byte out");
	CHECK(dev.poll_mask & 1, "room again: input polled");
	dev.ops->backend(&dev, 0);
	for (const char *p = "123456789abcdefX"; *p; p++)
		ok &= dev_in8(&dev, RBR) == (uint8_t)*p;
	CHECK(ok, "FIFO order kept across refills");
	dev.ops->backend(&dev, 0);
	CHECK_EQ(dev_in8(&dev, RBR), 'Y', "rest of the input");
	CHECK_EQ(dev_in8(&dev, RBR), 'Z', "rest of the input");
	CHECK(read(in_pipe[0], &c, 1) < 0, "input pipe drained by the device");
}

/* What a host may answer without asking the device (device_shadow). */
static bool in_shadow(unsigned reg, uint8_t *v)
{
	struct trap_shadow sh;
	struct trap t = { .bus = TRAP_PIO, .len = 1, .offset = reg };

	device_shadow(&dev, &sh);
	if (!trap_shadow_answer(&sh, &t))
		return false;
	*v = t.data[0];
	return true;
}

/*
 * The shadow: only registers whose read changes nothing, in the state the
 * device is in (dev_in holds every read against it as well).
 */
static void test_shadow(void)
{
	uint8_t v = 0;
	int ok = 1;

	dev_out8(&dev, LCR, 0x03);
	CHECK(!in_shadow(RBR, &v) && !in_shadow(IIR, &v), "RBR and IIR are never shadowed");
	dev_out8(&dev, SCR, 0x3C);
	CHECK(in_shadow(SCR, &v) && v == 0x3C, "scratch shadowed: 0x%02x", v);
	CHECK(in_shadow(LSR, &v) && v == 0x60, "LSR shadowed while no error bit is set: 0x%02x", v);
	dev_out8(&dev, IIR, 0x01);		/* FIFO on: 16 bytes */
	dev_out8(&dev, MCR, 0x10);		/* loopback: THR goes to RBR */
	for (int i = 0; i < 17; i++)
		dev_out8(&dev, RBR, (uint8_t)('a' + i));
	CHECK(!in_shadow(LSR, &v), "LSR with OE pending: not shadowed (reading clears it)");
	CHECK_EQ(dev_in8(&dev, LSR) & 0x03, 0x03, "the device's LSR: OE and DR");
	CHECK(in_shadow(LSR, &v) && v == 0x61, "OE read: LSR shadowed again, DR set: 0x%02x", v);
	for (int i = 0; i < 16; i++)
		ok &= dev_in8(&dev, RBR) == (uint8_t)('a' + i);
	CHECK(ok, "loopback bytes read through the device");
	CHECK(in_shadow(LSR, &v) && v == 0x60, "FIFO empty: shadow follows: 0x%02x", v);
	dev_out8(&dev, MCR, 0);
	CHECK(!in_shadow(MSR, &v), "MSR with delta bits pending: not shadowed");
	(void)dev_in8(&dev, MSR);
	CHECK(in_shadow(MSR, &v), "MSR deltas read: shadowed");
	dev_out8(&dev, LCR, 0x83);
	CHECK(in_shadow(RBR, &v) && v == dev_in8(&dev, RBR), "DLAB: DLL shadowed");
	dev_out8(&dev, LCR, 0x03);
	CHECK(fake_shadow_reads > 10, "%lu of the test's reads were checked against the shadow",
	      fake_shadow_reads);
	CHECK(fake_shadow_writes > 0, "%lu THR writes were neutral (and changed no shadowed register)",
	      fake_shadow_writes);
}

static void test_thri(void)
{
	dev_out8(&dev, IER, 0x02);
	CHECK_EQ(fh.irq[0], 1, "THRI enabled: irq");
	CHECK_EQ(dev_in8(&dev, IIR), 0xC2, "IIR: THR empty");
	CHECK_EQ(dev_in8(&dev, IIR), 0xC1, "reading IIR acknowledged THRI");
	CHECK_EQ(fh.irq[0], 0, "irq dropped after the IIR read");
	dev_out8(&dev, IER, 0);
	dev_out8(&dev, IER, 0x02);
	CHECK_EQ(dev_in8(&dev, IIR), 0xC2, "THRI re-armed by the IER write");
	dev_out8(&dev, RBR, 'x');
	CHECK_EQ(dev_in8(&dev, IIR), 0xC2, "THRI re-armed after a TX");
	dev_out8(&dev, IER, 0x03);
	CHECK_EQ(dev_in8(&dev, IIR), 0xC1, "THRI already on: an IER write does not re-arm");
	dev_out8(&dev, IER, 0);
	dev_out8(&dev, IER, 0x03);
	feed("q");
	CHECK_EQ(dev_in8(&dev, IIR), 0xCC, "RX (below trigger 14) outranks THR empty");
	dev_in8(&dev, RBR);
	CHECK_EQ(dev_in8(&dev, IIR), 0xC2, "then THR empty");
	dev_out8(&dev, IER, 0);
	CHECK(read(out_pipe[0], (char[4]){ 0 }, 4) == 1, "one byte sent");
}

static void test_loopback(void)
{
	dev_out8(&dev, IIR, 0x07);
	dev_out8(&dev, MCR, 0x1B);
	CHECK(!(dev.poll_mask & 1), "loopback: input not polled");
	dev_out8(&dev, RBR, 'L');
	CHECK_EQ(dev_in8(&dev, RBR), 'L', "loopback: TX comes back as RX");
	CHECK(read(out_pipe[0], (char[4]){ 0 }, 4) < 0, "loopback: nothing on the output fd");
	for (int i = 0; i < 17; i++)
		dev_out8(&dev, RBR, (uint8_t)i);
	dev_out8(&dev, IER, 0x04);
	CHECK_EQ(dev_in8(&dev, IIR), 0xC6, "IIR: line status (overrun) first");
	CHECK_EQ(dev_in8(&dev, LSR) & 0x03, 0x03, "LSR: OE and DR");
	CHECK_EQ(dev_in8(&dev, LSR) & 0x02, 0, "OE cleared by reading LSR");
	dev_out8(&dev, IIR, 0x03);		/* clear RX */
	CHECK_EQ(dev_in8(&dev, LSR) & 0x01, 0, "FCR clears the RX FIFO");
	dev_in8(&dev, MSR);
	dev_out8(&dev, MCR, 0x19);		/* RTS falls: CTS changes */
	dev_out8(&dev, IER, 0x08);
	CHECK_EQ(dev_in8(&dev, IIR), 0xC0, "IIR: modem status");
	CHECK_EQ(dev_in8(&dev, MSR), 0xA1, "MSR: DSR|DCD and DCTS");
	CHECK_EQ(dev_in8(&dev, MSR), 0xA0, "MSR deltas cleared by reading");
	dev_out8(&dev, IER, 0);
	dev_out8(&dev, MCR, 0x0B);
	CHECK_EQ(dev_in8(&dev, MSR) & 0xF0, 0xB0, "out of loopback: DCD|DSR|CTS");
	CHECK(dev.poll_mask & 1, "out of loopback: input polled again");
}

static void test_wide_and_reset(void)
{
	dev_out(&dev, 0, SCR, 2, 0x1234);
	CHECK_EQ(dev_in(&dev, 0, SCR, 2), 0xFF34, "word at the last port: SCR + 0xFF");
	CHECK_EQ(dev_in(&dev, 0, LCR, 2), 0x0B03, "word read is LCR then MCR");
	CHECK(dev_out(&dev, 0, 8, 1, 0) < 0, "offset past the region refused");
	CHECK(dev_out(&dev, 1, 0, 1, 0) < 0, "unknown region refused");
	dev_out8(&dev, IER, 0x02);
	CHECK_EQ(fh.irq[0], 1, "irq up before reset");
	dev.ops->reset(&dev);
	CHECK_EQ(fh.irq[0], 0, "reset drops the irq");
	CHECK_EQ(dev_in8(&dev, IER) | dev_in8(&dev, LCR) | dev_in8(&dev, MCR), 0,
		 "reset: IER, LCR, MCR zero");
	CHECK_EQ(dev_in8(&dev, IIR), 0x01, "reset: FIFOs off, nothing pending");
	CHECK_EQ(fh.irq_bad_calls, 0, "irq_set only on level changes");
}

static void test_eof_and_drops(void)
{
	char big[65536];

	close(in_pipe[1]);
	dev.ops->backend(&dev, 0);
	CHECK(!(dev.poll_mask & 1), "input at EOF: no longer polled");
	CHECK(fakehost_logged(&fh, "input ended"), "EOF logged");
	memset(big, 'z', sizeof(big));
	while (write(out_pipe[1], big, sizeof(big)) > 0)
		;
	dev_out8(&dev, RBR, '!');
	CHECK_EQ(dev_in8(&dev, LSR), 0x60, "a full output drops, never blocks");
	dev.ops->destroy(&dev);
	CHECK(fakehost_logged(&fh, "1 output bytes dropped"), "the drop was counted");
	CHECK(dev.priv == NULL, "destroy frees the state");
}

int main(void)
{
	fakehost_init(&fh);
	test_bad_specs();
	test_mmio();
	fakehost_init(&fh);
	if (pipe2(in_pipe, O_NONBLOCK) < 0 || pipe2(out_pipe, O_NONBLOCK) < 0)
		CHECK_SKIP_ALL("pipe2 failed");
	CHECK(serial_new() == 0, "create with one 8-port region and one irq");
	test_autoconfig();
	test_divisor();
	test_tx();
	test_rx_irq();
	test_fifo_full();
	test_thri();
	test_loopback();
	test_wide_and_reset();
	test_shadow();
	test_eof_and_drops();
	return check_done();
}
