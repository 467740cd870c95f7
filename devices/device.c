#include "device.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

extern const struct device_ops serial_ops, rtc_ops, i8042_ops, acpi_pm_ops;
extern const struct device_ops virtio_blk_ops, virtio_rng_ops, virtio_console_ops;

/* Every device class. Order is the order `--help` and tests list them. */
static const struct device_ops *const device_classes[] = {
	&serial_ops,
	&rtc_ops,
	&i8042_ops,
	&acpi_pm_ops,
	&virtio_blk_ops,
	&virtio_rng_ops,
	&virtio_console_ops,
};

const struct device_ops *device_class_find(const char *name)
{
	for (size_t i = 0; i < sizeof(device_classes) / sizeof(device_classes[0]); i++)
		if (strcmp(device_classes[i]->name, name) == 0)
			return device_classes[i];
	return NULL;
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

const char *dev_param(const DeviceSpec *spec, const char *key)
{
	size_t klen = strlen(key);

	for (size_t i = 0; i < spec->n_params; i++) {
		const char *p = spec->params[i];

		if (strncmp(p, key, klen) == 0 && p[klen] == '=')
			return p + klen + 1;
	}
	return NULL;
}
