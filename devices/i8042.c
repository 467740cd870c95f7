/*
 * i8042 PS/2 controller with a keyboard and a mouse that answer commands
 * but never send input: enough for Linux's i8042, atkbd and psmouse drivers
 * to probe without errors or timeouts, and for the guest to reset the
 * machine (command 0xFE, or output port bit 0 cleared through 0xD1).
 *
 * Spec: two PIO regions of one port each, region 0 the data port (0x60) and
 * region 1 the status/command port (0x64); at most two irq lines, line 0
 * for the keyboard (GSI 1) and line 1 for the mouse (GSI 12); a missing line
 * is never raised. A line is high while the output buffer holds a byte from
 * its side and the command byte enables that interrupt; reading the data
 * port drops it, so the next byte makes a new edge.
 *
 * The controller starts as a PC firmware leaves it (command byte 0x47:
 * translation, system flag, both interrupts on, both ports enabled), since
 * the VM boots without one. Input is taken at once: IBF never shows.
 * Accesses wider than a byte: the low byte goes to the port, the other bytes
 * read 0xFF and are dropped on write (the neighbouring ports are not ours).
 */
#include "device.h"

#include <errno.h>
#include <stdlib.h>

#define I8042_QUEUE	16

#define STR_OBF		0x01
#define STR_SYS		0x04
#define STR_CMD		0x08	/* last write was to the command port */
#define STR_UNLOCKED	0x10
#define STR_AUXDATA	0x20

#define CTR_KBDINT	0x01
#define CTR_AUXINT	0x02
#define CTR_SYS		0x04
#define CTR_KBDDIS	0x10
#define CTR_AUXDIS	0x20
#define CTR_XLATE	0x40
#define CTR_DEFAULT	(CTR_XLATE | CTR_SYS | CTR_AUXINT | CTR_KBDINT)

#define OUT_RESET	0x01	/* output port: low = reset the CPU */
#define OUT_DEFAULT	0xCF	/* reset high, A20 on, unused bits high */

#define PS2_ACK		0xFA

/* A byte on its way to the output buffer, and from which side. */
struct i8042_queue {
	uint8_t data[I8042_QUEUE];
	bool aux[I8042_QUEUE];
	unsigned head, count;
};

/* A PS/2 device behind the controller: it only answers commands. */
struct ps2dev {
	struct i8042_queue out;
	uint8_t param_cmd;	/* command waiting for its parameter, or 0 */
	uint8_t scan_set;	/* keyboard scan code set, 1-3 */
	bool is_aux;
};

struct i8042 {
	struct device *dev;
	struct i8042_queue ctrl;	/* controller replies and loopback bytes */
	struct ps2dev kbd, aux;
	uint8_t ctr, status, outport;
	uint8_t pending_cmd;	/* controller command waiting for a data byte */
	uint8_t ob;		/* the output buffer */
	bool obf, ob_aux;
	bool irq_level[2];
	unsigned nirqs;
};

static void i8042_push(struct i8042_queue *q, uint8_t v, bool aux)
{
	unsigned i = (q->head + q->count) % I8042_QUEUE;

	if (q->count == I8042_QUEUE)
		return;		/* the guest is not reading: drop */
	q->data[i] = v;
	q->aux[i] = aux;
	q->count++;
}

static bool i8042_pop(struct i8042_queue *q, uint8_t *v, bool *aux)
{
	if (!q->count)
		return false;
	*v = q->data[q->head];
	*aux = q->aux[q->head];
	q->head = (q->head + 1) % I8042_QUEUE;
	q->count--;
	return true;
}

static void i8042_set_line(struct i8042 *c, unsigned line, bool level)
{
	if (line >= c->nirqs || c->irq_level[line] == level)
		return;
	c->irq_level[line] = level;
	if (c->dev->host->irq_set(c->dev->host, line, level) < 0)
		dev_warn_once(c->dev, "irq_set failed");
}

/* Refill the output buffer (controller first, then enabled ports), raise irqs. */
static void i8042_update(struct i8042 *c)
{
	if (!c->obf)
		c->obf = i8042_pop(&c->ctrl, &c->ob, &c->ob_aux) ||
			 (!(c->ctr & CTR_KBDDIS) && i8042_pop(&c->kbd.out, &c->ob, &c->ob_aux)) ||
			 (!(c->ctr & CTR_AUXDIS) && i8042_pop(&c->aux.out, &c->ob, &c->ob_aux));
	i8042_set_line(c, 0, c->obf && !c->ob_aux && (c->ctr & CTR_KBDINT));
	i8042_set_line(c, 1, c->obf && c->ob_aux && (c->ctr & CTR_AUXINT));
}

static void ps2_reply(struct ps2dev *p, uint8_t v)
{
	i8042_push(&p->out, v, p->is_aux);
}

/* Keyboard identify (0xF2) and scan-set query answers, translated if on. */
static uint8_t ps2_kbd_byte(const struct i8042 *c, uint8_t v)
{
	static const uint8_t xlate_set[4] = { 0, 0x43, 0x41, 0x3F };

	if (!(c->ctr & CTR_XLATE))
		return v;
	return v == 0x83 ? 0x41 : v <= 3 ? xlate_set[v] : v;
}

/* The second byte of a two-byte command (set LEDs, rate, scan set, ...). */
static void ps2_write_param(struct i8042 *c, struct ps2dev *p, uint8_t v)
{
	uint8_t cmd = p->param_cmd;

	p->param_cmd = 0;
	ps2_reply(p, PS2_ACK);
	if (cmd == 0xF0 && !p->is_aux && v == 0)
		ps2_reply(p, ps2_kbd_byte(c, p->scan_set));
	else if (cmd == 0xF0 && !p->is_aux && v <= 3)
		p->scan_set = v;
}

static bool ps2_takes_param(const struct ps2dev *p, uint8_t cmd)
{
	if (p->is_aux)
		return cmd == 0xE8 || cmd == 0xF3;	/* resolution, rate */
	return cmd == 0xED || cmd == 0xF0 || cmd == 0xF3;	/* LEDs, set, rate */
}

/* Mouse commands a standard PS/2 mouse knows: 0xE6-0xEC, 0xEE, 0xF0-0xFF. */
static bool ps2_aux_knows(uint8_t cmd)
{
	return (cmd >= 0xE6 && cmd <= 0xEC) || cmd == 0xEE || cmd >= 0xF0;
}

static void ps2_reset(struct ps2dev *p, bool is_aux)
{
	*p = (struct ps2dev){ .is_aux = is_aux, .scan_set = 2 };
}

/* Reset, identify and status requests answer more than the ACK. */
static void ps2_answer(struct i8042 *c, struct ps2dev *p, uint8_t cmd)
{
	static const uint8_t aux_status[3] = { 0x00, 0x02, 0x64 };	/* 4/mm, 100 Hz */
	static const uint8_t aux_packet[3] = { 0x08, 0x00, 0x00 };	/* no motion */

	if (cmd == 0xFF) {
		ps2_reset(p, p->is_aux);
		ps2_reply(p, PS2_ACK);
		ps2_reply(p, 0xAA);			/* self-test passed */
		if (p->is_aux)
			ps2_reply(p, 0x00);		/* mouse id */
	} else if (cmd == 0xF2 && p->is_aux) {
		ps2_reply(p, 0x00);			/* standard mouse */
	} else if (cmd == 0xF2) {
		ps2_reply(p, 0xAB);			/* MF2 keyboard */
		ps2_reply(p, ps2_kbd_byte(c, 0x83));
	} else if ((cmd == 0xE9 || cmd == 0xEB) && p->is_aux) {
		for (unsigned i = 0; i < 3; i++)
			ps2_reply(p, cmd == 0xE9 ? aux_status[i] : aux_packet[i]);
	}
}

/*
 * A byte for the device. The keyboard acknowledges every command (0xEE
 * echoes); the mouse answers 0xFE (resend) to a command it does not know,
 * so that drivers probing for extended mice fail fast instead of waiting.
 */
static void ps2_write(struct i8042 *c, struct ps2dev *p, uint8_t v)
{
	if (p->param_cmd) {
		ps2_write_param(c, p, v);
	} else if (v == 0xEE && !p->is_aux) {
		ps2_reply(p, 0xEE);
	} else if (p->is_aux && !ps2_aux_knows(v)) {
		ps2_reply(p, 0xFE);
	} else if (v == 0xFF) {
		ps2_answer(c, p, v);
	} else {
		ps2_reply(p, PS2_ACK);
		if (ps2_takes_param(p, v))
			p->param_cmd = v;
		ps2_answer(c, p, v);
	}
}

static void i8042_post_reset(struct i8042 *c, const char *why)
{
	dev_debug(c->dev, "guest reset the machine (%s)", why);
	if (c->dev->host->event(c->dev->host, DEV_EVENT_RESET) < 0)
		dev_warn_once(c->dev, "posting the reset event failed");
}

static void i8042_reply(struct i8042 *c, uint8_t v)
{
	i8042_push(&c->ctrl, v, false);
}

/* A data byte that completes a controller command (0x60, 0xD1-0xD4). */
static void i8042_write_cmd_data(struct i8042 *c, uint8_t cmd, uint8_t v)
{
	switch (cmd) {
	case 0x60:
		c->ctr = v;
		c->status = (c->status & ~STR_SYS) | (v & CTR_SYS);
		break;
	case 0xD1:
		c->outport = v;
		if (!(v & OUT_RESET))
			i8042_post_reset(c, "output port");
		break;
	case 0xD2: i8042_push(&c->ctrl, v, false); break;
	case 0xD3: i8042_push(&c->ctrl, v, true); break;
	case 0xD4: ps2_write(c, &c->aux, v); break;
	default: break;		/* 0x61-0x7F: controller RAM, not kept */
	}
}

static void i8042_write_data(struct i8042 *c, uint8_t v)
{
	uint8_t cmd = c->pending_cmd;

	c->status &= ~STR_CMD;
	c->pending_cmd = 0;
	if (cmd)
		i8042_write_cmd_data(c, cmd, v);
	else
		ps2_write(c, &c->kbd, v);
}

/* Commands that only change the command byte or answer one byte. */
static bool i8042_simple_cmd(struct i8042 *c, uint8_t cmd)
{
	switch (cmd) {
	case 0x20: i8042_reply(c, c->ctr); break;
	case 0xA7: c->ctr |= CTR_AUXDIS; break;
	case 0xA8: c->ctr &= ~CTR_AUXDIS; break;
	case 0xA9: i8042_reply(c, 0x00); break;	/* aux interface OK */
	case 0xAA: c->status |= STR_SYS; i8042_reply(c, 0x55); break;
	case 0xAB: i8042_reply(c, 0x00); break;	/* kbd interface OK */
	case 0xAD: c->ctr |= CTR_KBDDIS; break;
	case 0xAE: c->ctr &= ~CTR_KBDDIS; break;
	case 0xC0: i8042_reply(c, 0x80); break;	/* input port: not inhibited */
	case 0xD0: i8042_reply(c, c->outport); break;
	case 0xDD: case 0xDF: break;		/* A20 gate: always on */
	default: return false;
	}
	return true;
}

static void i8042_write_cmd(struct i8042 *c, uint8_t cmd)
{
	c->status |= STR_CMD;
	c->pending_cmd = 0;
	if (i8042_simple_cmd(c, cmd))
		return;
	if ((cmd >= 0x60 && cmd <= 0x7F) || (cmd >= 0xD1 && cmd <= 0xD4))
		c->pending_cmd = cmd;
	else if (cmd >= 0x21 && cmd <= 0x3F)
		i8042_reply(c, 0x00);		/* controller RAM reads as zero */
	else if (cmd >= 0xF0 && !(cmd & OUT_RESET))
		i8042_post_reset(c, "pulse command");
	else if (cmd < 0xF0)
		dev_warn_once(c->dev, "unknown controller command 0x%02x", cmd);
}

static uint8_t i8042_read_data(struct i8042 *c)
{
	c->obf = false;
	/* Drop the lines so that a byte already queued makes a new edge. */
	i8042_set_line(c, 0, false);
	i8042_set_line(c, 1, false);
	return c->ob;
}

static uint8_t i8042_read_status(const struct i8042 *c)
{
	return c->status | (c->obf ? STR_OBF : 0) |
	       (c->obf && c->ob_aux ? STR_AUXDATA : 0);
}

static int i8042_trap(struct device *dev, struct trap *t)
{
	struct i8042 *c = dev->priv;
	uint8_t v = t->data[0];

	if (t->region > 1 || t->offset != 0 || t->len == 0 || t->len > 8)
		return -EINVAL;
	if (t->len > 1)
		dev_warn_once(dev, "%u-byte access: only the low byte is used", t->len);
	if (t->is_write && t->region == 0)
		i8042_write_data(c, v);
	else if (t->is_write)
		i8042_write_cmd(c, v);
	else
		v = t->region == 0 ? i8042_read_data(c) : i8042_read_status(c);
	if (!t->is_write)
		trap_set_value(t, ~0ull << 8 | v);
	i8042_update(c);
	return 0;
}

/* The status port (a byte read): reading the data port pops the output buffer. */
static void i8042_shadow(struct device *dev, struct trap_shadow *sh)
{
	trap_shadow_put(sh, 1, 0, 1, i8042_read_status(dev->priv));
}

static void i8042_reset(struct device *dev)
{
	struct i8042 *c = dev->priv;

	c->ctrl = (struct i8042_queue){ 0 };
	ps2_reset(&c->kbd, false);
	ps2_reset(&c->aux, true);
	c->ctr = CTR_DEFAULT;
	c->status = STR_SYS | STR_UNLOCKED;
	c->outport = OUT_DEFAULT;
	c->pending_cmd = 0;
	c->obf = c->ob_aux = false;
	i8042_update(c);
}

static int i8042_create(struct device *dev, const struct device_spec *spec)
{
	struct i8042 *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->dev = dev;
	c->nirqs = (unsigned)spec->nirqs;
	dev->priv = c;
	i8042_reset(dev);
	return 0;
}

static void i8042_destroy(struct device *dev)
{
	free(dev->priv);
	dev->priv = NULL;
}

/* A queue as saved: its bytes oldest first. */
struct i8042_saved_queue {
	uint8_t count;
	uint8_t data[I8042_QUEUE];
	uint8_t aux[I8042_QUEUE];
};

struct i8042_saved {
	struct i8042_saved_queue ctrl, kbd, aux;
	uint8_t kbd_param_cmd, kbd_scan_set, aux_param_cmd, aux_scan_set;
	uint8_t ctr, status, outport, pending_cmd, ob, obf, ob_aux;
};

static void i8042_save_queue(const struct i8042_queue *q, struct i8042_saved_queue *v)
{
	v->count = (uint8_t)q->count;
	for (unsigned i = 0; i < q->count; i++) {
		v->data[i] = q->data[(q->head + i) % I8042_QUEUE];
		v->aux[i] = q->aux[(q->head + i) % I8042_QUEUE];
	}
}

static int i8042_load_queue(struct i8042_queue *q, const struct i8042_saved_queue *v)
{
	if (v->count > I8042_QUEUE)
		return -EINVAL;
	for (unsigned i = 0; i < v->count; i++) {
		if (v->aux[i] > 1)
			return -EINVAL;
		q->data[i] = v->data[i];
		q->aux[i] = v->aux[i];
	}
	q->head = 0;
	q->count = v->count;
	return 0;
}

static void i8042_save(struct device *dev, struct dev_state *s)
{
	const struct i8042 *c = dev->priv;
	struct i8042_saved v = {
		.kbd_param_cmd = c->kbd.param_cmd, .kbd_scan_set = c->kbd.scan_set,
		.aux_param_cmd = c->aux.param_cmd, .aux_scan_set = c->aux.scan_set,
		.ctr = c->ctr, .status = c->status, .outport = c->outport,
		.pending_cmd = c->pending_cmd, .ob = c->ob, .obf = c->obf, .ob_aux = c->ob_aux,
	};

	i8042_save_queue(&c->ctrl, &v.ctrl);
	i8042_save_queue(&c->kbd.out, &v.kbd);
	i8042_save_queue(&c->aux.out, &v.aux);
	dev_state_put(s, &v, sizeof(v));
}

static int i8042_load(struct device *dev, struct dev_state *s)
{
	struct i8042 *c = dev->priv;
	struct i8042_saved v;

	dev_state_get(s, &v, sizeof(v));
	if (s->err || v.kbd_scan_set < 1 || v.kbd_scan_set > 3 || v.aux_scan_set < 1 ||
	    v.aux_scan_set > 3 || v.obf > 1 || v.ob_aux > 1 ||
	    i8042_load_queue(&c->ctrl, &v.ctrl) || i8042_load_queue(&c->kbd.out, &v.kbd) ||
	    i8042_load_queue(&c->aux.out, &v.aux))
		return -EINVAL;
	c->kbd.param_cmd = v.kbd_param_cmd;
	c->kbd.scan_set = v.kbd_scan_set;
	c->aux.param_cmd = v.aux_param_cmd;
	c->aux.scan_set = v.aux_scan_set;
	c->ctr = v.ctr;
	c->status = v.status;
	c->outport = v.outport;
	c->pending_cmd = v.pending_cmd;
	c->ob = v.ob;
	c->obf = v.obf;
	c->ob_aux = v.ob_aux;
	c->irq_level[0] = c->irq_level[1] = false;
	i8042_update(c);	/* refills the output buffer as it would have */
	for (unsigned l = 0; l < 2; l++) {	/* a fresh process: drive both lines either way */
		bool want = c->irq_level[l];

		c->irq_level[l] = !want;
		i8042_set_line(c, l, want);
	}
	return 0;
}

static const struct device_ops i8042_ops = {
	.create = i8042_create,
	.trap = i8042_trap,
	.shadow = i8042_shadow,
	.save = i8042_save,
	.load = i8042_load,
	.reset = i8042_reset,
	.destroy = i8042_destroy,
};

/* The command port's writes can reset the machine: synchronous. */
const struct device_class i8042_class = {
	.name = "i8042",
	.ops = &i8042_ops,
	.nregions = 2,
	.regions = { { "data", 1, false }, { "command", 1, true } },
	.irqs_min = 0, .irqs_max = 2,
	.events = DEVICE_EVENT_BIT(DEV_EVENT_RESET),
};
