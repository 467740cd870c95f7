/*
 * ACPI PM1a event and control registers: enough for a guest to power the
 * machine off through \_S5.
 *
 * Spec: region 0 = PM1a_EVT_BLK, PIO 4 ports (PM1_STS at +0, PM1_EN at +2,
 * 16 bits each); region 1 = PM1a_CNT_BLK, PIO 2 ports (PM1_CNT); at most one
 * irq line (the SCI, GSI 9), raised while an enabled status bit is set:
 * the one event source is the power button (ops->input,
 * DEV_INPUT_POWER_BUTTON: PWRBTN_STS, as the FADT's fixed-feature button). Param "s5=N" (0-7, default
 * 5) is the SLP_TYP the DSDT's \_S5 names.
 *
 * There is no SMI_CMD: SCI_EN always reads 1, the machine is always in ACPI
 * mode. Writing SLP_EN with SLP_TYP == s5 posts DEV_EVENT_POWEROFF; other
 * sleep types are logged once and ignored. Accesses of any width are split
 * into bytes on consecutive ports (the 16-bit registers assemble from their
 * bytes; SLP_TYP and SLP_EN share the high byte of PM1_CNT, so a byte write
 * of it acts like a word write); bytes past a region read 0xFF and are
 * dropped on write.
 */
#include "device.h"

#include <errno.h>
#include <stdlib.h>

#include "util.h"

#define EVT_NPORTS	4
#define CNT_NPORTS	2

#define EN_MASK		0x4721	/* TMR, GBL, PWRBTN, SLPBTN, RTC, PCIEXP_WAKE_DIS */
#define STS_PWRBTN	0x0100	/* PM1_STS: the power button was pressed */
#define CNT_SCI_EN	0x0001
#define CNT_BM_RLD	0x0002
#define CNT_SLP_TYP(v)	(((v) >> 10) & 7)
#define CNT_SLP_TYP_MASK 0x1C00
#define CNT_SLP_EN	0x2000

struct acpi_pm {
	struct device *dev;
	uint16_t sts, en, cnt;
	unsigned s5;		/* SLP_TYP of \_S5 */
	bool sci_level;
	bool has_sci;
};

static void acpi_pm_update_sci(struct acpi_pm *pm)
{
	bool level = (pm->sts & pm->en) != 0;

	if (!pm->has_sci || level == pm->sci_level)
		return;
	pm->sci_level = level;
	if (pm->dev->host->irq_set(pm->dev->host, 0, level) < 0)
		dev_warn_once(pm->dev, "irq_set failed");
}

/* The power button (vmm-ctl powerdown): PWRBTN_STS, an SCI if the guest enabled it. */
static void acpi_pm_input(struct device *dev, enum device_input in)
{
	struct acpi_pm *pm = dev->priv;

	if (in != DEV_INPUT_POWER_BUTTON)
		return;
	pm->sts |= STS_PWRBTN;
	acpi_pm_update_sci(pm);
}

static void acpi_pm_sleep(struct acpi_pm *pm, unsigned typ)
{
	struct device *dev = pm->dev;

	if (typ != pm->s5) {
		dev_warn_once(dev, "sleep type %u not supported, ignored", typ);
		return;
	}
	dev_debug(dev, "guest entered S5: power off");
	if (dev->host->event(dev->host, DEV_EVENT_POWEROFF) < 0)
		dev_warn_once(dev, "posting the poweroff event failed");
}

static void acpi_pm_write_cnt(struct acpi_pm *pm, uint16_t v)
{
	pm->cnt = v & (CNT_BM_RLD | CNT_SLP_TYP_MASK);
	if (v & CNT_SLP_EN)
		acpi_pm_sleep(pm, CNT_SLP_TYP(v));
}

/* Replace byte `byte` (0 low, 1 high) of a 16-bit register. */
static uint16_t acpi_pm_merge(uint16_t reg, unsigned byte, uint8_t v)
{
	unsigned shift = 8 * byte;

	return (uint16_t)((reg & ~(0xFFu << shift)) | ((unsigned)v << shift));
}

static void acpi_pm_write(struct acpi_pm *pm, unsigned region, unsigned port, uint8_t v)
{
	uint16_t w1c = (uint16_t)(v << (8 * (port & 1)));

	if (region == 1)
		acpi_pm_write_cnt(pm, acpi_pm_merge(pm->cnt, port, v));
	else if (port < 2)
		pm->sts &= ~w1c;	/* write 1 to clear */
	else
		pm->en = acpi_pm_merge(pm->en, port - 2, v) & EN_MASK;
}

static uint8_t acpi_pm_read(const struct acpi_pm *pm, unsigned region, unsigned port)
{
	uint16_t reg;

	if (region == 1)
		reg = pm->cnt | CNT_SCI_EN;
	else
		reg = port < 2 ? pm->sts : pm->en;
	return (uint8_t)(reg >> (8 * (port & 1)));
}

static int acpi_pm_trap(struct device *dev, struct trap *t)
{
	struct acpi_pm *pm = dev->priv;
	unsigned nports = t->region == 0 ? EVT_NPORTS : CNT_NPORTS;
	uint64_t v = 0;

	if (t->region > 1 || t->offset >= nports || t->len == 0 || t->len > 8)
		return -EINVAL;
	for (unsigned i = 0; i < t->len; i++) {
		unsigned port = (unsigned)t->offset + i;
		uint8_t b = 0xFF;

		if (port < nports && t->is_write)
			acpi_pm_write(pm, t->region, port, t->data[i]);
		else if (port < nports)
			b = acpi_pm_read(pm, t->region, port);
		v |= (uint64_t)b << (8 * i);
	}
	if (!t->is_write)
		trap_set_value(t, v);
	acpi_pm_update_sci(pm);
	return 0;
}

static void acpi_pm_reset(struct device *dev)
{
	struct acpi_pm *pm = dev->priv;

	pm->sts = pm->en = pm->cnt = 0;
	acpi_pm_update_sci(pm);
}

static int acpi_pm_check_spec(struct device *dev, const struct device_spec *spec, uint64_t *s5)
{
	const char *p = dev_param(spec, "s5");

	*s5 = 5;
	if (p && parse_uint(p, 0, 7, s5) < 0) {
		dev_err(dev, "s5=%s: want a sleep type 0-7", p);
		return -EINVAL;
	}
	return 0;
}

static int acpi_pm_create(struct device *dev, const struct device_spec *spec)
{
	struct acpi_pm *pm;
	uint64_t s5;
	int err = acpi_pm_check_spec(dev, spec, &s5);

	if (err)
		return err;
	pm = calloc(1, sizeof(*pm));
	if (!pm)
		return -ENOMEM;
	pm->dev = dev;
	pm->s5 = (unsigned)s5;
	pm->has_sci = spec->nirqs == 1;
	dev->priv = pm;
	return 0;
}

static void acpi_pm_destroy(struct device *dev)
{
	free(dev->priv);
	dev->priv = NULL;
}

struct acpi_pm_saved {
	uint16_t sts, en, cnt;
};

static void acpi_pm_save(struct device *dev, struct dev_state *s)
{
	const struct acpi_pm *pm = dev->priv;
	struct acpi_pm_saved v = { .sts = pm->sts, .en = pm->en, .cnt = pm->cnt };

	dev_state_put(s, &v, sizeof(v));
}

/* Any register value can be written by the guest: only the SCI must follow them. */
static int acpi_pm_load(struct device *dev, struct dev_state *s)
{
	struct acpi_pm *pm = dev->priv;
	struct acpi_pm_saved v;

	dev_state_get(s, &v, sizeof(v));
	if (s->err)
		return -EINVAL;
	pm->sts = v.sts;
	pm->en = v.en;
	pm->cnt = v.cnt & (uint16_t)~CNT_SLP_EN;	/* a sleep request was acted on */
	pm->sci_level = (pm->sts & pm->en) == 0;	/* a fresh process: drive the line either way */
	acpi_pm_update_sci(pm);
	return 0;
}

static const struct device_ops acpi_pm_ops = {
	.create = acpi_pm_create,
	.trap = acpi_pm_trap,
	.input = acpi_pm_input,
	.save = acpi_pm_save,
	.load = acpi_pm_load,
	.reset = acpi_pm_reset,
	.destroy = acpi_pm_destroy,
};

/* PM1a_CNT's writes can power the machine off: synchronous. */
const struct device_class acpi_pm_class = {
	.name = "acpi_pm",
	.ops = &acpi_pm_ops,
	.nregions = 2,
	.regions = { { "PM1a_EVT", EVT_NPORTS, false },
		     { "PM1a_CNT", CNT_NPORTS, true } },
	.irqs_min = 0, .irqs_max = 1,	/* the SCI */
	.events = DEVICE_EVENT_BIT(DEV_EVENT_POWEROFF),
};
