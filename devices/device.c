#include "device.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const struct device_class *device_class_find(const char *name)
{
	for (unsigned i = 0; i < device_class_count; i++)
		if (strcmp(device_classes[i]->name, name) == 0)
			return device_classes[i];
	return NULL;
}

/* A fixed class's regions and lines, as the spec gives them. */
static int device_check_fixed(struct device *dev, const struct device_class *cls,
			      const struct device_spec *spec)
{
	bool fits = spec->nregions == cls->nregions;
	char need[160];
	size_t n = 0;

	for (unsigned i = 0; fits && i < cls->nregions; i++)
		fits = spec->regions[i].bus == cls->regions[i].bus &&
		       spec->regions[i].size == cls->regions[i].size;
	if (!fits) {
		for (unsigned i = 0; i < cls->nregions && n < sizeof(need); i++) {
			const struct device_region_need *r = &cls->regions[i];
			bool pio = r->bus == TRAP_PIO;

			n += (size_t)snprintf(need + n, sizeof(need) - n, "%s%s region %s (%u %s)",
					      i ? ", " : "", pio ? "PIO" : "MMIO", r->name, r->size,
					      pio ? (r->size == 1 ? "port" : "ports") : "bytes");
		}
		dev_err(dev, "needs %s", need);
		return -EINVAL;
	}
	if (spec->nirqs < cls->irqs_min || spec->nirqs > cls->irqs_max) {
		dev_err(dev, "needs %u to %u irq lines, got %u", cls->irqs_min, cls->irqs_max,
			spec->nirqs);
		return -EINVAL;
	}
	return 0;
}

int device_create(struct device *dev, const struct device_class *cls,
		  const struct device_spec *spec)
{
	int err;

	dev->cls = cls;
	dev->ops = cls->ops;
	err = cls->virtio ? 0 : device_check_fixed(dev, cls, spec);
	return err ? err : cls->ops->create(dev, spec);
}

void dev_log(struct device *dev, int lvl, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (dev->host && dev->host->log)
		dev->host->log(dev->host, lvl, dev->id, msg);
}

void dev_set_needs_reset(struct device *dev, const char *why)
{
	if (dev->needs_reset)
		return;
	dev->needs_reset = true;
	dev_warn(dev, "needs reset: %s", why);
	if (dev->host && dev->host->event)
		dev->host->event(dev->host, DEV_EVENT_NEEDS_RESET);
}

const char *dev_param(const struct device_spec *spec, const char *key)
{
	size_t klen = strlen(key);

	for (size_t i = 0; i < spec->nparams; i++) {
		const char *p = spec->params[i];

		if (strncmp(p, key, klen) == 0 && p[klen] == '=')
			return p + klen + 1;
	}
	return NULL;
}

void device_shadow(struct device *dev, struct trap_shadow *s)
{
	memset(s, 0, sizeof(*s));
	if (dev->ops->shadow)
		dev->ops->shadow(dev, s);
}
