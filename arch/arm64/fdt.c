/*
 * The machine's flattened device tree, written with libfdt's sequential
 * writer (fdt_create ... fdt_finish, then fdt_pack). Bindings: Linux's
 * Documentation/devicetree/bindings (arm/cpus, arm/psci,
 * interrupt-controller/arm,gic-v3, timer/arm,arch_timer,
 * serial/8250, rtc/motorola,mc146818, pci/host-generic-pci).
 */
#include "arm64.h"

#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <string.h>

/* Interrupt specifiers of the GIC binding: type, number, flags. */
#define GIC_SPI 0
#define GIC_PPI 1
#define IRQ_EDGE_RISING 1
#define IRQ_LEVEL_HIGH 4
#define IRQ_LEVEL_LOW 8

#define PHANDLE_GIC 1
#define PHANDLE_ITS 2

#define UART_CLOCK_HZ 1843200	/* the 16550's usual crystal: 115200 baud at divisor 1 */

/* A property of 64-bit cells: each value as two big-endian 32-bit cells. */
static int prop_u64s(void *fdt, const char *name, const uint64_t *v, unsigned n)
{
	fdt64_t cells[16];

	if (n > 16)
		return -FDT_ERR_NOSPACE;
	for (unsigned i = 0; i < n; i++)
		cells[i] = cpu_to_fdt64(v[i]);
	return fdt_property(fdt, name, cells, n * sizeof(cells[0]));
}

static int prop_u32s(void *fdt, const char *name, const uint32_t *v, unsigned n)
{
	fdt32_t cells[16];

	if (n > 16)
		return -FDT_ERR_NOSPACE;
	for (unsigned i = 0; i < n; i++)
		cells[i] = cpu_to_fdt32(v[i]);
	return fdt_property(fdt, name, cells, n * sizeof(cells[0]));
}

/* reg = <base size> with #address-cells = #size-cells = 2. */
static int prop_reg(void *fdt, uint64_t base, uint64_t size)
{
	return prop_u64s(fdt, "reg", (uint64_t[]){ base, size }, 2);
}

/* Each step returns 0 or a negative libfdt error; the first error ends the tree. */
#define TRY(x) do { int err_ = (x); if (err_ < 0) return err_; } while (0)

static int node_chosen(void *fdt, const struct arm64_fdt_config *c)
{
	char stdout_path[32];

	snprintf(stdout_path, sizeof(stdout_path), "/uart@%llx",
		 (unsigned long long)ARM64_UART_BASE);
	TRY(fdt_begin_node(fdt, "chosen"));
	TRY(fdt_property_string(fdt, "bootargs", c->cmdline));
	TRY(fdt_property_string(fdt, "stdout-path", stdout_path));
	if (c->initrd_end > c->initrd_start) {
		TRY(fdt_property_u64(fdt, "linux,initrd-start", c->initrd_start));
		TRY(fdt_property_u64(fdt, "linux,initrd-end", c->initrd_end));
	}
	return fdt_end_node(fdt);
}

static int node_memory(void *fdt, const struct arm64_fdt_config *c)
{
	char name[32];

	snprintf(name, sizeof(name), "memory@%llx", (unsigned long long)c->ram_start);
	TRY(fdt_begin_node(fdt, name));
	TRY(fdt_property_string(fdt, "device_type", "memory"));
	TRY(prop_reg(fdt, c->ram_start, c->ram_size));
	return fdt_end_node(fdt);
}

/*
 * /cpus: reg is the MPIDR's affinity fields (Aff3 in bits 39:32, Aff2..0
 * in 23:0), so two cells.
 */
static int node_cpus(void *fdt, const struct arm64_fdt_config *c)
{
	TRY(fdt_begin_node(fdt, "cpus"));
	TRY(fdt_property_u32(fdt, "#address-cells", 2));
	TRY(fdt_property_u32(fdt, "#size-cells", 0));
	for (unsigned i = 0; i < c->ncpus; i++) {
		uint64_t aff = c->mpidr[i] & 0xff00ffffffULL;
		char name[32];

		snprintf(name, sizeof(name), "cpu@%llx", (unsigned long long)aff);
		TRY(fdt_begin_node(fdt, name));
		TRY(fdt_property_string(fdt, "device_type", "cpu"));
		TRY(fdt_property_string(fdt, "compatible", "arm,arm-v8"));
		TRY(fdt_property_string(fdt, "enable-method", "psci"));
		TRY(fdt_property_u64(fdt, "reg", aff));
		TRY(fdt_end_node(fdt));
	}
	return fdt_end_node(fdt);
}

/* PSCI 0.2 through HVC: KVM implements it (CPU_ON, SYSTEM_OFF, SYSTEM_RESET). */
static int node_psci(void *fdt)
{
	static const char compat[] = "arm,psci-0.2\0arm,psci";

	TRY(fdt_begin_node(fdt, "psci"));
	TRY(fdt_property(fdt, "compatible", compat, sizeof(compat)));
	TRY(fdt_property_string(fdt, "method", "hvc"));
	return fdt_end_node(fdt);
}

/* The GICv3: distributor and the vCPUs' redistributors in one region; the ITS below it. */
static int node_gic(void *fdt, const struct arm64_fdt_config *c)
{
	char name[40];

	snprintf(name, sizeof(name), "intc@%llx", (unsigned long long)ARM64_GICD_BASE);
	TRY(fdt_begin_node(fdt, name));
	TRY(fdt_property_string(fdt, "compatible", "arm,gic-v3"));
	TRY(fdt_property_u32(fdt, "#interrupt-cells", 3));
	TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
	TRY(fdt_property_u32(fdt, "#redistributor-regions", 1));
	TRY(prop_u64s(fdt, "reg", (uint64_t[]){ ARM64_GICD_BASE, ARM64_GICD_SIZE,
			ARM64_GICR_BASE, ARM64_GICR_SIZE * c->ncpus }, 4));
	TRY(fdt_property_u32(fdt, "#address-cells", 2));
	TRY(fdt_property_u32(fdt, "#size-cells", 2));
	TRY(fdt_property(fdt, "ranges", NULL, 0));
	TRY(fdt_property_u32(fdt, "phandle", PHANDLE_GIC));
	snprintf(name, sizeof(name), "its@%llx", (unsigned long long)ARM64_GITS_BASE);
	TRY(fdt_begin_node(fdt, name));
	TRY(fdt_property_string(fdt, "compatible", "arm,gic-v3-its"));
	TRY(fdt_property(fdt, "msi-controller", NULL, 0));
	TRY(fdt_property_u32(fdt, "#msi-cells", 1));
	TRY(prop_reg(fdt, ARM64_GITS_BASE, ARM64_GITS_SIZE));
	TRY(fdt_property_u32(fdt, "phandle", PHANDLE_ITS));
	TRY(fdt_end_node(fdt));
	return fdt_end_node(fdt);
}

/* The architected timer: secure, non-secure physical, virtual and hypervisor PPIs. */
static int node_timer(void *fdt)
{
	const uint32_t irqs[] = {
		GIC_PPI, ARM64_TIMER_PPI_SEC, IRQ_LEVEL_LOW,
		GIC_PPI, ARM64_TIMER_PPI_PHYS, IRQ_LEVEL_LOW,
		GIC_PPI, ARM64_TIMER_PPI_VIRT, IRQ_LEVEL_LOW,
		GIC_PPI, ARM64_TIMER_PPI_HYP, IRQ_LEVEL_LOW,
	};

	TRY(fdt_begin_node(fdt, "timer"));
	TRY(fdt_property_string(fdt, "compatible", "arm,armv8-timer"));
	TRY(prop_u32s(fdt, "interrupts", irqs, 12));
	TRY(fdt_property(fdt, "always-on", NULL, 0));
	return fdt_end_node(fdt);
}

static int node_uart(void *fdt)
{
	char name[32];

	snprintf(name, sizeof(name), "uart@%llx", (unsigned long long)ARM64_UART_BASE);
	TRY(fdt_begin_node(fdt, name));
	TRY(fdt_property_string(fdt, "compatible", "ns16550a"));
	TRY(prop_reg(fdt, ARM64_UART_BASE, ARM64_UART_SIZE));
	TRY(prop_u32s(fdt, "interrupts", (uint32_t[]){ GIC_SPI, ARM64_UART_SPI,
			IRQ_EDGE_RISING }, 3));
	TRY(fdt_property_u32(fdt, "clock-frequency", UART_CLOCK_HZ));
	TRY(fdt_property_u32(fdt, "reg-shift", 0));
	TRY(fdt_property_u32(fdt, "reg-io-width", 1));
	return fdt_end_node(fdt);
}

static int node_rtc(void *fdt)
{
	char name[32];

	snprintf(name, sizeof(name), "rtc@%llx", (unsigned long long)ARM64_RTC_BASE);
	TRY(fdt_begin_node(fdt, name));
	TRY(fdt_property_string(fdt, "compatible", "motorola,mc146818"));
	TRY(prop_reg(fdt, ARM64_RTC_BASE, ARM64_RTC_SIZE));
	TRY(prop_u32s(fdt, "interrupts", (uint32_t[]){ GIC_SPI, ARM64_RTC_SPI,
			IRQ_EDGE_RISING }, 3));
	return fdt_end_node(fdt);
}

/*
 * The generic ECAM host bridge for bus 0: one 32-bit non-prefetchable
 * memory window (phys.hi 0x02000000), identity-mapped; no I/O window
 * (virtio-pci needs none). MSIs go to the ITS, the requester id being the
 * device id (msi-map: every RID onto the same DeviceID; the ITS has
 * #msi-cells = 1, which msi-parent alone would leave unset); no INTx (no
 * interrupt-map).
 */
static int node_pci(void *fdt)
{
	const uint64_t size = ARM64_PCI_MMIO_END - ARM64_PCI_MMIO_START;
	const uint32_t ranges[] = {
		0x02000000, (uint32_t)(ARM64_PCI_MMIO_START >> 32), (uint32_t)ARM64_PCI_MMIO_START,
		(uint32_t)(ARM64_PCI_MMIO_START >> 32), (uint32_t)ARM64_PCI_MMIO_START,
		(uint32_t)(size >> 32), (uint32_t)size,
	};
	char name[32];

	snprintf(name, sizeof(name), "pci@%llx", (unsigned long long)ARM64_PCI_ECAM_BASE);
	TRY(fdt_begin_node(fdt, name));
	TRY(fdt_property_string(fdt, "compatible", "pci-host-ecam-generic"));
	TRY(fdt_property_string(fdt, "device_type", "pci"));
	TRY(fdt_property_u32(fdt, "#address-cells", 3));
	TRY(fdt_property_u32(fdt, "#size-cells", 2));
	TRY(prop_u32s(fdt, "bus-range", (uint32_t[]){ 0, 0 }, 2));
	TRY(fdt_property_u32(fdt, "linux,pci-domain", 0));
	TRY(prop_reg(fdt, ARM64_PCI_ECAM_BASE, ARM64_PCI_ECAM_SIZE));
	TRY(prop_u32s(fdt, "ranges", ranges, 7));
	TRY(prop_u32s(fdt, "msi-map", (uint32_t[]){ 0, PHANDLE_ITS, 0, 0x10000 }, 4));
	TRY(fdt_property(fdt, "dma-coherent", NULL, 0));
	return fdt_end_node(fdt);
}

static int fdt_write(void *fdt, size_t size, const struct arm64_fdt_config *c)
{
	TRY(fdt_create(fdt, (int)size));
	TRY(fdt_finish_reservemap(fdt));
	TRY(fdt_begin_node(fdt, ""));
	TRY(fdt_property_string(fdt, "compatible", "linux,dummy-virt"));
	TRY(fdt_property_string(fdt, "model", "vmm arm64"));
	TRY(fdt_property_u32(fdt, "#address-cells", 2));
	TRY(fdt_property_u32(fdt, "#size-cells", 2));
	TRY(fdt_property_u32(fdt, "interrupt-parent", PHANDLE_GIC));
	TRY(node_chosen(fdt, c));
	TRY(node_memory(fdt, c));
	TRY(node_cpus(fdt, c));
	TRY(node_psci(fdt));
	TRY(node_gic(fdt, c));
	TRY(node_timer(fdt));
	TRY(node_uart(fdt));
	TRY(node_rtc(fdt));
	TRY(node_pci(fdt));
	TRY(fdt_end_node(fdt));
	TRY(fdt_finish(fdt));
	return fdt_pack(fdt);
}

int arm64_fdt_build(void *buf, size_t size, const struct arm64_fdt_config *c)
{
	int err;

	if (c->ncpus == 0 || !c->cmdline || c->ram_size == 0)
		return -EINVAL;
	if (c->ncpus > ARM64_MAX_CPUS || size > INT32_MAX)
		return -E2BIG;
	err = fdt_write(buf, size, c);
	if (err == -FDT_ERR_NOSPACE)
		return -E2BIG;
	if (err < 0 || fdt_check_header(buf) != 0)
		return -EINVAL;
	return 0;
}
