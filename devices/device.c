#include "device.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "virtio_pci.h"

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
		fits = (spec->regions[i].bus == TRAP_PIO || spec->regions[i].bus == TRAP_MMIO) &&
		       spec->regions[i].size == cls->regions[i].size;
	if (!fits) {
		for (unsigned i = 0; i < cls->nregions && n < sizeof(need); i++) {
			const struct device_region_need *r = &cls->regions[i];

			n += (size_t)snprintf(need + n, sizeof(need) - n, "%sregion %s (%u %s)",
					      i ? ", " : "", r->name, r->size,
					      r->size == 1 ? "address" : "addresses");
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

void dev_state_put(struct dev_state *s, const void *p, size_t n)
{
	if (s->err)
		return;
	if (n > s->cap - s->pos) {
		s->err = -ENOSPC;
		return;
	}
	memcpy(s->buf + s->pos, p, n);
	s->pos += n;
}

void dev_state_get(struct dev_state *s, void *p, size_t n)
{
	if (!s->err && n > s->cap - s->pos)
		s->err = -EINVAL;
	if (s->err) {
		memset(p, 0, n);
		return;
	}
	memcpy(p, s->buf + s->pos, n);
	s->pos += n;
}

/* What every saved state starts with: whose it is and in which format. */
#define DEVICE_STATE_MAGIC   0x56444d56u	/* "VMDV" */
#define DEVICE_STATE_VERSION 1u

struct device_state_header {
	uint32_t magic;
	uint32_t version;
	char klass[24];
};

bool device_class_resumes(const struct device_class *cls)
{
	return cls->ops->save && cls->ops->load;
}

int device_save(struct device *dev, void *buf, size_t cap)
{
	struct dev_state s = { .buf = buf, .cap = cap };
	struct device_state_header h = { .magic = DEVICE_STATE_MAGIC,
					  .version = DEVICE_STATE_VERSION };

	if (!device_class_resumes(dev->cls))
		return -EOPNOTSUPP;
	snprintf(h.klass, sizeof(h.klass), "%s", dev->cls->name);
	dev_state_put(&s, &h, sizeof(h));
	dev->ops->save(dev, &s);
	return s.err ? s.err : (int)s.pos;
}

int device_load(struct device *dev, const void *buf, size_t len)
{
	struct dev_state s = { .buf = (uint8_t *)buf, .cap = len };
	struct device_state_header h;
	const char *why = NULL;
	int err;

	if (!device_class_resumes(dev->cls))
		return -EOPNOTSUPP;
	dev_state_get(&s, &h, sizeof(h));
	if (s.err || h.magic != DEVICE_STATE_MAGIC || h.version != DEVICE_STATE_VERSION ||
	    strncmp(h.klass, dev->cls->name, sizeof(h.klass)) != 0 ||
	    !memchr(h.klass, 0, sizeof(h.klass)))
		why = "its saved state is not one of this class";
	else if ((err = dev->ops->load(dev, &s)) != 0 || s.err)
		why = "its saved state failed validation";
	else if (s.pos != s.cap)
		why = "its saved state has trailing bytes";
	if (!why)
		return 0;
	dev->ops->reset(dev);
	if (dev->cls->virtio)
		virtio_pci_fail(virtio_pci_of(dev), why);
	else
		dev_warn(dev, "%s: back to its power-on state", why);
	return -EINVAL;
}
