/*
 * arm64 boot: the machine's memory map, loading a Linux arm64 Image and an
 * initrd (Documentation/arch/arm64/booting.rst), and the flattened device
 * tree that describes the machine to the kernel, written with libfdt.
 * Plain C over guest RAM (struct gmem): no KVM here, so that the unit
 * tests run on any host. monitor/arch_arm64.c does the KVM side.
 */
#ifndef VMM_ARCH_ARM64_H
#define VMM_ARCH_ARM64_H

#include <stddef.h>
#include <stdint.h>

#include "gmem.h"

/*
 * The memory map. Below 1 GiB: devices; RAM from 1 GiB up (where QEMU's
 * virt machine has it, so a kernel finds it where it usually is).
 * - The 16550 and the MC146818 at kvmtool's addresses, the first two
 *   pages of the 16 MiB device area: MMIO, each in its own 4 KiB page so
 *   that a guest can map them apart.
 * - The GICv3 where QEMU's virt machine puts it: distributor (64 KiB), ITS
 *   (128 KiB: control and translation frames), then one 128 KiB
 *   redistributor per vCPU (RD and SGI frames), room for 123 of them below
 *   the PCI window.
 * - PCI: the 32-bit memory window BARs are assigned from, then bus 0's
 *   1 MiB of ECAM configuration space just below RAM.
 */
#define ARM64_UART_BASE      0x01000000ULL
#define ARM64_UART_SIZE      8		/* 8 byte-wide registers (reg-shift 0) */
#define ARM64_RTC_BASE       0x01010000ULL
#define ARM64_RTC_SIZE       2		/* index, data */
#define ARM64_GICD_BASE      0x08000000ULL
#define ARM64_GICD_SIZE      0x10000ULL
#define ARM64_GITS_BASE      0x08080000ULL
#define ARM64_GITS_SIZE      0x20000ULL
#define ARM64_GICR_BASE      0x080a0000ULL
#define ARM64_GICR_SIZE      0x20000ULL	/* per vCPU */
#define ARM64_PCI_MMIO_START 0x10000000ULL
#define ARM64_PCI_MMIO_END   0x3f000000ULL	/* exclusive */
#define ARM64_PCI_ECAM_BASE  0x3f000000ULL
#define ARM64_PCI_ECAM_SIZE  0x100000ULL	/* bus 0 only */
#define ARM64_RAM_START      0x40000000ULL
#define ARM64_MAX_CPUS       64
#define ARM64_RAM_MAX        (1ULL << 39)	/* a 40-bit IPA space, KVM's default */

/*
 * Interrupts. SPIs are given as the GIC binding numbers them (INTID - 32);
 * the monitor routes GSI n to SPI n. The legacy devices' lines are
 * pulses, so the device tree declares them edge-triggered.
 * The architected timer's PPIs (INTID - 16), as KVM wires them by default.
 */
#define ARM64_UART_SPI       1
#define ARM64_RTC_SPI        2
#define ARM64_SPIS           32		/* routed to the GIC as wires: GSIs 0..31 */
#define ARM64_TIMER_PPI_SEC  13
#define ARM64_TIMER_PPI_PHYS 14
#define ARM64_TIMER_PPI_VIRT 11
#define ARM64_TIMER_PPI_HYP  10

#define ARM64_FDT_MAX        0x10000	/* 64 KiB: the tree grows with CPUs only */

/* The kernel's Image header: 64 bytes at the start of the file. */
#define ARM64_IMAGE_MAGIC    0x644d5241u	/* "ARM\x64" at offset 56 */
#define ARM64_IMAGE_HDR_SIZE 64

/* What arm64_image_probe learns from the header. */
struct arm64_image {
	uint64_t text_offset;	/* from a 2 MiB-aligned base */
	uint64_t image_size;	/* bytes the kernel occupies, bss included */
	uint64_t flags;		/* bit 0: big-endian; bits 1-2: page size; bit 3: anywhere */
};

/*
 * Check img is an arm64 Image: its header's magic, little-endian (flag
 * bit 0 clear), an image_size that covers the file (0 in kernels before
 * 3.17: then text_offset 0x80000 and the file's length, as booting.rst
 * says). 0 and *out, or -ENOEXEC. Logs nothing.
 */
int arm64_image_probe(const uint8_t *img, size_t len, struct arm64_image *out)
	__attribute__((warn_unused_result));

struct arm64_boot_config {
	const uint8_t *kernel;
	size_t kernel_len;
	const uint8_t *initrd;	/* NULL: none */
	size_t initrd_len;
};

/* Where arm64_boot_load put everything (guest-physical). */
struct arm64_boot_info {
	uint64_t kernel_addr;	/* the entry point: the first byte of the Image */
	uint64_t kernel_end;	/* kernel_addr + image_size */
	uint64_t initrd_start;	/* 0, 0: none */
	uint64_t initrd_end;
	uint64_t fdt_addr;	/* where the device tree goes: 8-byte aligned, in its own 2 MiB */
};

/*
 * Lay the kernel out at the start of RAM (a 2 MiB-aligned base + its
 * text_offset), the device tree's place in the last 2 MiB of RAM and the
 * initrd just below it. gm must hold one range from ARM64_RAM_START.
 * Returns 0 or -errno after one logged line (-ENOEXEC: not an Image;
 * -E2BIG: does not fit in RAM).
 */
int arm64_boot_load(struct gmem *gm, const struct arm64_boot_config *cfg,
		    struct arm64_boot_info *out) __attribute__((warn_unused_result));

/* Guest RAM: one range of mem_size bytes from ARM64_RAM_START. */
void arm64_mem_layout(struct gmem *gm, uint64_t mem_size);

/* Everything the device tree says. */
struct arm64_fdt_config {
	uint64_t ram_start, ram_size;
	unsigned ncpus;			/* 1..ARM64_MAX_CPUS */
	uint64_t mpidr[ARM64_MAX_CPUS];	/* each vCPU's MPIDR_EL1, as KVM gives it */
	const char *cmdline;		/* /chosen/bootargs */
	uint64_t initrd_start, initrd_end;	/* 0, 0: none */
};

/*
 * Write the machine's device tree into buf (size bytes) with libfdt's
 * sequential writer, then pack it: /memory, /cpus (reg = the MPIDR's
 * affinity bits, enable-method psci), /psci (0.2, hvc), the GICv3 with its
 * redistributors and the ITS, the timer's four PPIs, /chosen (bootargs,
 * the initrd range, stdout-path to the UART), the ns16550a and the
 * mc146818 on MMIO, and a pci-host-ecam-generic bridge for bus 0 with its
 * 32-bit window and an msi-map onto the ITS. Returns 0, or -E2BIG (buf too
 * small, or more CPUs than ARM64_MAX_CPUS) or -EINVAL (bad config).
 */
int arm64_fdt_build(void *buf, size_t size, const struct arm64_fdt_config *c)
	__attribute__((warn_unused_result));

#endif
