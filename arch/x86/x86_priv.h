/*
 * Internal interfaces between the files of arch/x86: each builds one part
 * of the boot (kernel image, zero page, page tables, MP table, ACPI) and
 * x86_boot_setup() in bootparams.c strings them together.
 */
#ifndef VMM_ARCH_X86_PRIV_H
#define VMM_ARCH_X86_PRIV_H

#include <stdint.h>

#include <asm/bootparam.h>

#include "boot.h"

/* Identity map: PML4, one PDPT, four page directories of 2 MiB pages. */
#define X86_PDPT_ADDR	(X86_PML4_ADDR + 0x1000)
#define X86_PD_ADDR	(X86_PML4_ADDR + 0x2000)
#define X86_PD_COUNT	4
#define X86_PT_END	(X86_PD_ADDR + X86_PD_COUNT * 0x1000ULL)

/* GDT selectors (Linux's boot GDT: __BOOT_CS, __BOOT_DS). */
#define X86_BOOT_CS	0x10
#define X86_BOOT_DS	0x18
#define X86_GDT_ENTRIES	4

/* Defaults for an ELF kernel, which has no setup header of its own. */
#define X86_ELF_INITRD_MAX	0x37ffffffULL
#define X86_ELF_BOOT_VERSION	0x020f

/* State shared by the steps of one x86_boot_setup() call. */
struct x86_setup {
	struct gmem *gm;
	const struct x86_boot_config *cfg;
	struct boot_params *bp;		/* zero page being built (host copy) */
	struct x86_boot_info *bi;
	uint64_t low_end;		/* end of RAM range 0 (below 4 GiB) */
	uint64_t kernel_end;		/* end of what the kernel may use */
	uint64_t initrd_max;		/* highest byte the initrd may occupy */
	uint64_t cmdline_max;		/* longest command line, excl. NUL */
};

/*
 * Load a bzImage (loader.c) or ELF64 (elf.c) kernel: copy it into guest
 * RAM, fill the kernel fields of s->bi (entry, kernel_addr, kernel_size,
 * boot_protocol), s->kernel_end, s->initrd_max, s->cmdline_max and the
 * setup header in s->bp. 0, -ENOEXEC (bad image) or -E2BIG (does not fit);
 * logs one line on error.
 */
int x86_bzimage_load(struct x86_setup *s) __attribute__((warn_unused_result));
int x86_elf_load(struct x86_setup *s) __attribute__((warn_unused_result));

/* True if [addr, addr + len) is inside RAM range 0 at or above 1 MiB. */
int x86_fits_high(const struct x86_setup *s, uint64_t addr, uint64_t len);

/*
 * Write the identity page tables for [0, 4 GiB) at X86_PML4_ADDR and the
 * boot GDT at X86_GDT_ADDR. Returns 0 or -EFAULT (not RAM).
 */
int x86_pagetables_setup(struct gmem *gm) __attribute__((warn_unused_result));
int x86_gdt_setup(struct gmem *gm) __attribute__((warn_unused_result));

/* The GDT descriptors x86_gdt_setup() writes (regs.c mirrors them). */
#define X86_GDT_CODE64	0x00af9b000000ffffULL	/* G, L, P, DPL0, exec/read, accessed */
#define X86_GDT_DATA	0x00cf93000000ffffULL	/* G, D/B, P, DPL0, read/write, accessed */

/*
 * Write the MP floating pointer at X86_MPTABLE_ADDR and the configuration
 * table at X86_MPTABLE_CFG_ADDR for ncpus vCPUs. Returns 0 or -errno.
 */
int x86_mptable_setup(struct gmem *gm, unsigned ncpus)
	__attribute__((warn_unused_result));

/*
 * Write RSDP (at X86_ACPI_ADDR), RSDT, XSDT, FACS, FADT, DSDT (\_S5_, the
 * PCI host bridge \_SB.PCI0 with the X86_PCI_MMIO_* window and the INTx
 * _PRT, and the legacy PnP devices \_SB.COM1, RTC, KBD and MOU at boot.h's
 * ports and IRQs) and MADT for ncpus vCPUs. Returns 0 or -errno (-ENOSPC:
 * the DSDT outgrew its slot).
 */
int x86_acpi_setup(struct gmem *gm, unsigned ncpus)
	__attribute__((warn_unused_result));

/* The _PRT's (slot, pin) entries. */
#define PRT_ENTRIES ((X86_PCI_SLOT_MAX - X86_PCI_SLOT_MIN + 1) * X86_PCI_INTX_PINS)

/*
 * Write the DSDT's AML (\_S5_, \_SB with PCI0 and the legacy devices; no
 * table header) into buf, at most cap bytes; *len gets its length.
 * Returns 0, or -ENOSPC if it does not fit. (dsdt.c)
 */
int x86_dsdt_aml(uint8_t *buf, size_t cap, size_t *len) __attribute__((warn_unused_result));

/* Byte sum checksum helper: the value that makes sum(buf) == 0. */
uint8_t x86_checksum(const void *buf, size_t len);

#endif
