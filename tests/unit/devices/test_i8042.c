/* The i8042 controller, probed the way Linux's i8042/atkbd/psmouse do it. */
#include "check.h"
#include "fakehost.h"

extern const struct device_class i8042_class;

#define DATA	0
#define CMD	1
#define STR_OBF	0x01
#define STR_AUX	0x20

static struct fakehost fh;
static struct device dev;

static int i8042_new(unsigned nirqs)
{
	struct fakespec fs;

	fakespec_init(&fs, "i8042");
	fakespec_add_pio(&fs, 0x60, 1);
	fakespec_add_pio(&fs, 0x64, 1);
	if (nirqs > 0)
		fakespec_add_irq(&fs, 1);
	if (nirqs > 1)
		fakespec_add_irq(&fs, 12);
	return fakehost_create(&fh, &dev, &i8042_class, &fs.spec, -1, -1);
}

static uint8_t status(void)
{
	return (uint8_t)dev_in(&dev, CMD, 0, 1);
}

static void command(uint8_t c)
{
	dev_out(&dev, CMD, 0, 1, c);
}

static void data_out(uint8_t v)
{
	dev_out(&dev, DATA, 0, 1, v);
}

/* Next output byte, or -1 if the output buffer is empty; *aux gets STR_AUX. */
static int data_in(bool *aux)
{
	uint8_t st = status();

	if (aux)
		*aux = st & STR_AUX;
	if (!(st & STR_OBF))
		return -1;
	return (uint8_t)dev_in(&dev, DATA, 0, 1);
}

/* The bytes that come out, packed first-to-last into an integer. */
static unsigned long drain(void)
{
	unsigned long v = 0;
	int b;

	while ((b = data_in(NULL)) >= 0)
		v = v << 8 | (unsigned)b;
	return v;
}

static void test_bad_specs(void)
{
	struct fakespec fs;

	fakespec_init(&fs, "i8042");
	fakespec_add_pio(&fs, 0x60, 5);
	CHECK(fakehost_create(&fh, &dev, &i8042_class, &fs.spec, -1, -1) == -EINVAL,
	      "one 5-port region: -EINVAL");
	fakespec_init(&fs, "i8042");
	fakespec_add_pio(&fs, 0x60, 1);
	fakespec_add_pio(&fs, 0x64, 2);
	CHECK(fakehost_create(&fh, &dev, &i8042_class, &fs.spec, -1, -1) == -EINVAL,
	      "2-port command region: -EINVAL");
	CHECK(fakehost_logged(&fh, "region command (1 address)"), "error logged");
}

/* i8042_controller_check/selftest/init and i8042_check_aux. */
static void test_probe(void)
{
	bool aux;
	uint8_t ctr;

	CHECK_EQ(status() & STR_OBF, 0, "nothing to flush at power-on");
	command(0x20);
	ctr = (uint8_t)data_in(&aux);
	CHECK_EQ(ctr, 0x47, "CTR as firmware leaves it");
	CHECK(!aux, "controller reply is not aux data");
	command(0xAA);
	CHECK_EQ(data_in(NULL), 0x55, "self test passes");
	command(0x60);
	data_out(0x56);			/* KBDDIS, XLATE, SYS, AUXINT */
	command(0x20);
	CHECK_EQ(data_in(NULL), 0x56, "CTR write/read round trip");
	command(0x60);
	data_out(0x47);
	command(0xAB);
	CHECK_EQ(data_in(NULL), 0x00, "keyboard interface test");
	command(0xD3);
	data_out(0x5A);
	CHECK_EQ(data_in(&aux), 0x5A, "AUX loopback returns the byte");
	CHECK(aux, "AUX loopback byte is aux data");
	command(0xA9);
	CHECK_EQ(data_in(NULL), 0x00, "aux interface test");
	command(0xA7);
	command(0x20);
	CHECK(data_in(NULL) & 0x20, "0xA7 sets AUXDIS");
	command(0xA8);
	command(0x20);
	CHECK(!(data_in(NULL) & 0x20), "0xA8 clears AUXDIS");
	command(0xAD);
	command(0x20);
	CHECK(data_in(NULL) & 0x10, "0xAD sets KBDDIS");
	command(0xAE);
	command(0x20);
	CHECK(!(data_in(NULL) & 0x10), "0xAE clears KBDDIS");
	command(0xD0);
	CHECK_EQ(data_in(NULL) & 0x03, 0x03, "output port: reset high, A20 on");
}

static void test_keyboard(void)
{
	data_out(0xFF);
	CHECK_EQ(drain(), 0xFAAA, "keyboard reset: ACK, self-test passed");
	data_out(0xF2);
	CHECK_EQ(drain(), 0xFAAB41, "keyboard id (translated)");
	command(0x60);
	data_out(0x07);			/* translation off */
	data_out(0xF2);
	CHECK_EQ(drain(), 0xFAAB83, "keyboard id (untranslated)");
	data_out(0xF0);
	data_out(0x00);
	CHECK_EQ(drain(), 0xFAFA02, "scan code set query: set 2");
	data_out(0xED);
	data_out(0x07);
	CHECK_EQ(drain(), 0xFAFA, "set LEDs: both bytes ACKed");
	data_out(0xF4);
	CHECK_EQ(drain(), 0xFA, "enable scanning ACKed");
	command(0xAD);
	data_out(0xF5);
	CHECK_EQ(status() & STR_OBF, 0, "disabled keyboard port holds its reply");
	command(0xAE);
	CHECK_EQ(drain(), 0xFA, "the reply comes once the port is enabled");
	command(0xD2);
	data_out(0x1C);
	CHECK_EQ(drain(), 0x1C, "0xD2 loops a byte back as keyboard data");
}

static void test_mouse(void)
{
	bool aux;

	command(0xD4);
	data_out(0xFF);
	CHECK_EQ(data_in(&aux), 0xFA, "mouse reset ACK");
	CHECK(aux, "mouse bytes are aux data");
	CHECK_EQ(drain(), 0xAA00, "mouse self-test passed, id 0");
	command(0xD4);
	data_out(0xF2);
	CHECK_EQ(drain(), 0xFA00, "mouse id: standard");
	command(0xD4);
	data_out(0xE9);
	CHECK_EQ(drain(), 0xFA000264, "mouse status request");
	command(0xD4);
	data_out(0xE1);
	CHECK_EQ(drain(), 0xFE, "unknown mouse command: resend");
}

/* i8042_check_aux's IRQ test, and the lines following the output buffer. */
static void test_irqs(void)
{
	unsigned calls;

	command(0x60);
	data_out(0x47);
	CHECK(fh.irq[0] == 0 && fh.irq[1] == 0, "no irq while the buffer is empty");
	command(0xD3);
	data_out(0xA5);
	CHECK(fh.irq[1] == 1 && fh.irq[0] == 0, "aux loopback raises the aux line only");
	CHECK_EQ(data_in(NULL), 0xA5, "the loopback byte");
	CHECK_EQ(fh.irq[1], 0, "aux line drops once read");
	data_out(0xFF);
	CHECK(fh.irq[0] == 1 && fh.irq[1] == 0, "keyboard reply raises the kbd line");
	calls = fh.irq_calls;
	CHECK_EQ(data_in(NULL), 0xFA, "first byte");
	CHECK(fh.irq[0] == 1 && fh.irq_calls == calls + 2, "next byte: line dropped and raised again");
	CHECK_EQ(data_in(NULL), 0xAA, "second byte");
	CHECK_EQ(fh.irq[0], 0, "kbd line low when empty");
	command(0x60);
	data_out(0x44);			/* no interrupts */
	data_out(0xF4);
	CHECK_EQ(fh.irq[0], 0, "KBDINT clear: no irq");
	CHECK_EQ(drain(), 0xFA, "polled reply still there");
	CHECK_EQ(fh.irq_bad_calls, 0, "irq_set only on level changes");
}

static void test_reset(void)
{
	command(0xFF);
	CHECK_EQ(fakehost_count_events(&fh, DEV_EVENT_RESET), 0, "0xFF pulses nothing");
	command(0xFE);
	CHECK_EQ(fakehost_count_events(&fh, DEV_EVENT_RESET), 1, "0xFE posts RESET");
	command(0xD1);
	data_out(0xDF);
	CHECK_EQ(fakehost_count_events(&fh, DEV_EVENT_RESET), 1, "output port with bit 0 set: no reset");
	command(0xD1);
	data_out(0xDE);
	CHECK_EQ(fakehost_count_events(&fh, DEV_EVENT_RESET), 2, "output port bit 0 clear posts RESET");
	command(0x01);
	CHECK(fakehost_logged(&fh, "unknown controller command 0x01"), "unknown command logged");
	CHECK_EQ(dev_in(&dev, DATA, 0, 2) >> 8, 0xFF, "wide read: high bytes 0xFF");
	CHECK(dev_in(&dev, 2, 0, 1) == ~0ull, "unknown region refused");
	command(0x60);
	data_out(0x00);
	data_out(0xFF);
	dev.ops->reset(&dev);
	CHECK_EQ(status() & STR_OBF, 0, "reset empties the buffers");
	command(0x20);
	CHECK_EQ(data_in(NULL), 0x47, "reset restores the CTR");
}

int main(void)
{
	fakehost_init(&fh);
	test_bad_specs();
	fakehost_init(&fh);
	CHECK(i8042_new(2) == 0, "create with data and command ports");
	test_probe();
	test_keyboard();
	test_mouse();
	test_irqs();
	test_reset();
	dev.ops->destroy(&dev);
	CHECK(dev.priv == NULL, "destroy frees the state");
	fakehost_init(&fh);
	CHECK(i8042_new(0) == 0, "create without irq lines");
	command(0xAA);
	CHECK_EQ(data_in(NULL), 0x55, "works without irqs");
	CHECK_EQ(fh.irq_calls, 0, "and raises none");
	dev.ops->destroy(&dev);
	return check_done();
}
