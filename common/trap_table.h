/*
 * The trap bus's regions as the monitor publishes them for observers
 * (vmm-trace): a memfd named TRAP_TABLE_NAME, created by trapbus_init and
 * mapped shared, that the monitor rewrites whenever a region is added,
 * removed or moved (a guest moving a BAR). An observer finds it among
 * /proc/PID/fd (its link reads "/memfd:vmm-trap-table (deleted)") and maps
 * it read-only; keeping that fd open keeps the table after the monitor
 * ends.
 *
 * Consistency: a seqlock. The writer makes seq odd, writes, makes it even;
 * a reader copies the table and keeps the copy only if seq was even and
 * unchanged across the copy. Readers treat every field as untrusted (n is
 * bounded by TRAP_TABLE_MAX, names are NUL-terminated within their size).
 */
#ifndef VMM_COMMON_TRAP_TABLE_H
#define VMM_COMMON_TRAP_TABLE_H

#include <stdint.h>

#define TRAP_TABLE_NAME "vmm-trap-table"
#define TRAP_TABLE_MAGIC 0x76747274u	/* "trtv" in memory: "vtrt" */
#define TRAP_TABLE_VERSION 1
#define TRAP_TABLE_MAX 256

struct trap_table_region {
	uint8_t bus;		/* enum trap_bus: TRAP_PIO or TRAP_MMIO */
	uint8_t region;		/* the device's region index */
	uint8_t pad[6];
	uint64_t base;
	uint64_t size;
	char name[32];		/* device id ("serial0") or "pci-addr" */
	char label[16];		/* region name ("region0", "notify", "msix") */
};

struct trap_table {
	uint32_t magic;
	uint32_t version;
	uint32_t seq;		/* odd while the monitor writes */
	uint32_t n;
	struct trap_table_region r[TRAP_TABLE_MAX];
};

#endif
