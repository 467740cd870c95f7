#include "machine.h"

#include <stdio.h>
#include <string.h>

#include "boot.h"
#include "trap.h"
#include "util.h"

/*
 * The PC's fixed devices, at the ports and IRQs every OS expects. Regions
 * whose writes can stop the machine (i8042 reset, ACPI S5) are synchronous,
 * so that the vCPU never runs guest code past the write that stopped it.
 */
static const struct machine_dev x86_devices[] = {
	{ .klass = "serial", .console = 1,
	  .nregions = 1, .regions = { { TRAP_PIO, 0x3f8, 8 } },
	  .nirqs = 1, .irqs = { 4 } },
	{ .klass = "rtc",
	  .nregions = 1, .regions = { { TRAP_PIO, 0x70, 2 } },
	  .nirqs = 1, .irqs = { 8 } },
	{ .klass = "i8042",
	  .nregions = 2, .regions = { { TRAP_PIO, 0x60, 1, false }, { TRAP_PIO, 0x64, 1, true } },
	  .nirqs = 2, .irqs = { 1, 12 } },
	{ .klass = "acpi_pm",
	  .nregions = 2, .regions = { { TRAP_PIO, X86_ACPI_PM1A_EVT, 4, false },
				      { TRAP_PIO, X86_ACPI_PM1A_CNT, 2, true } },
	  .nirqs = 1, .irqs = { X86_ACPI_SCI_IRQ } },
};

const struct machine_dev *machine_x86_devices(unsigned *n)
{
	*n = ARRAY_SIZE(x86_devices);
	return x86_devices;
}

void machine_spec_build(const struct machine_dev *md, uint64_t mem_size,
			struct machine_spec *out)
{
	device_spec__init(&out->spec);
	out->spec.klass = (char *)md->klass;
	out->spec.instance = md->instance;
	for (unsigned i = 0; i < md->nregions; i++) {
		region__init(&out->regions[i]);
		out->regions[i].bus = md->regions[i].bus;
		out->regions[i].addr = md->regions[i].addr;
		out->regions[i].size = md->regions[i].size;
		out->regions[i].has_sync_writes = md->regions[i].sync;
		out->regions[i].sync_writes = md->regions[i].sync;
		out->region_ptrs[i] = &out->regions[i];
	}
	out->spec.n_regions = md->nregions;
	out->spec.regions = out->region_ptrs;
	for (unsigned i = 0; i < md->nirqs; i++)
		out->irqs[i] = md->irqs[i];
	out->spec.n_irqs = md->nirqs;
	out->spec.irqs = out->irqs;
	out->spec.has_mem_size = 1;
	out->spec.mem_size = mem_size;
}

void machine_dev_id(const struct machine_dev *md, char *buf, size_t len)
{
	size_t n = strlen(md->klass);
	bool digit = n && md->klass[n - 1] >= '0' && md->klass[n - 1] <= '9';

	snprintf(buf, len, digit ? "%s-%u" : "%s%u", md->klass, md->instance);
}
