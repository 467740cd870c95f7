/*
 * A device spec between its plain-C form (common/device_abi.h), which the
 * monitor builds and the models read, and its wire form in Setup
 * (DeviceSpec, ipc/device.proto). Contracts in control.h.
 */
#include <string.h>

#include "control.h"

void control_spec_to_wire(const struct device_spec *s, struct control_wire_spec *w)
{
	memset(w, 0, sizeof(*w));
	device_spec__init(&w->spec);
	w->spec.klass = (char *)s->klass;
	w->spec.instance = s->instance;
	for (unsigned i = 0; i < s->nregions && i < DEVICE_MAX_REGIONS; i++) {
		region__init(&w->regions[i]);
		w->regions[i].bus = s->regions[i].bus;
		w->regions[i].addr = s->regions[i].addr;
		w->regions[i].size = s->regions[i].size;
		w->regions[i].has_sync_writes = 1;
		w->regions[i].sync_writes = s->regions[i].sync;
		w->region_ptrs[i] = &w->regions[i];
		w->spec.n_regions++;
	}
	w->spec.regions = w->region_ptrs;
	for (unsigned i = 0; i < s->nirqs && i < DEVICE_MAX_IRQS; i++)
		w->irqs[w->spec.n_irqs++] = s->irqs[i];
	w->spec.irqs = w->irqs;
	for (unsigned i = 0; i < s->nparams && i < DEVICE_MAX_PARAMS; i++)
		w->params[w->spec.n_params++] = (char *)s->params[i];
	w->spec.params = w->params;
	w->spec.has_mem_size = s->mem_size != 0;
	w->spec.mem_size = s->mem_size;
}

void control_spec_from_wire(const DeviceSpec *w, struct device_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->klass = w->klass;
	s->instance = w->instance;
	for (size_t i = 0; i < w->n_regions && i < DEVICE_MAX_REGIONS; i++) {
		const Region *r = w->regions[i];

		s->regions[i] = (struct device_region){ .bus = (uint8_t)r->bus, .addr = r->addr,
							.size = r->size, .sync = r->sync_writes };
		s->nregions++;
	}
	for (size_t i = 0; i < w->n_irqs && i < DEVICE_MAX_IRQS; i++)
		s->irqs[s->nirqs++] = w->irqs[i];
	for (size_t i = 0; i < w->n_params && i < DEVICE_MAX_PARAMS; i++)
		s->params[s->nparams++] = w->params[i];
	s->mem_size = w->has_mem_size ? w->mem_size : 0;
}
