/*
 * x86-64 boot: load a Linux bzImage or an ELF64 kernel into guest RAM and
 * build everything the Linux 64-bit boot protocol promises it (zero page
 * with e820 map, command line, initrd, identity page tables, GDT), plus the
 * firmware tables a kernel looks for (MP table, ACPI RSDP/XSDT/MADT/FADT/
 * DSDT with an S5 path), and the per-vCPU CPUID and register state.
 */
#ifndef VMM_ARCH_X86_BOOT_H
#define VMM_ARCH_X86_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "gmem.h"

/* Fixed guest-physical layout of what the monitor builds (below 1 MiB). */
#define X86_GDT_ADDR        0x0500ULL	/* GDT: null, code64, data */
#define X86_ZERO_PAGE_ADDR  0x7000ULL	/* struct boot_params, %rsi */
#define X86_BOOT_STACK      0x8ff0ULL	/* initial %rsp */
#define X86_PML4_ADDR       0x9000ULL	/* PML4, then PDPT at +0x1000 ... */
#define X86_CMDLINE_ADDR    0x20000ULL	/* command line, NUL-terminated */
#define X86_CMDLINE_MAX     0x10000ULL	/* bytes incl. NUL (header may say less) */
#define X86_EBDA_START      0x9fc00ULL	/* e820: reserved from here to 1 MiB */
#define X86_MPTABLE_ADDR    0x9fc00ULL	/* MP floating pointer (EBDA) */
#define X86_ACPI_ADDR       0xe0000ULL	/* RSDP and the ACPI tables */
#define X86_MPTABLE_CFG_ADDR 0xf0000ULL	/* MP config table (too big for the EBDA at 64 CPUs) */
#define X86_HIMEM_START     0x100000ULL	/* 1 MiB: kernels load from here */

/* Fixed devices the tables describe. */
#define X86_IOAPIC_ADDR     0xfec00000ULL
#define X86_LAPIC_ADDR      0xfee00000ULL
#define X86_ACPI_PM1A_EVT   0x600	/* PM1a event block, 4 ports */
#define X86_ACPI_PM1A_CNT   0x604	/* PM1a control block, 2 ports */
#define X86_ACPI_SCI_IRQ    9
#define X86_ACPI_S5_SLP_TYP 5	/* SLP_TYP value the DSDT's \_S5 names */
#define X86_MAX_CPUS        64
/*
 * The PC's legacy devices: the monitor traps these ports and raises these
 * ISA IRQs (edge, active-high), and the DSDT describes them as
 * \_SB.COM1, \_SB.RTC, \_SB.KBD and \_SB.MOU.
 */
#define X86_COM1_PORT       0x3f8	/* 16550A UART, 8 ports */
#define X86_COM1_PORTS      8
#define X86_COM1_IRQ        4
#define X86_RTC_PORT        0x70	/* CMOS RTC index and data */
#define X86_RTC_PORTS       2
#define X86_RTC_IRQ         8
#define X86_I8042_DATA_PORT 0x60
#define X86_I8042_CMD_PORT  0x64	/* command/status; also the reset register */
#define X86_I8042_KBD_IRQ   1
#define X86_I8042_AUX_IRQ   12
/*
 * The 32-bit PCI memory window: the monitor pre-assigns BARs from it
 * (monitor/pci.h) and the DSDT's \_SB.PCI0._CRS hands it to the OS. It
 * lies in the MMIO hole below 4 GiB, under the IOAPIC and LAPIC.
 */
#define X86_PCI_MMIO_START  0xc0000000ULL
#define X86_PCI_MMIO_END    0xfe000000ULL	/* exclusive */

/*
 * PCI INTx on bus 0: the functions in slots X86_PCI_SLOT_MIN..MAX (slot 0
 * is the host bridge) raise INTA..INTD (pin 0..3) on IOAPIC pins
 * X86_PCI_INTX_GSI_BASE..+X86_PCI_INTX_GSIS-1, level-triggered and
 * active-low as PCI wants. The DSDT's \_SB.PCI0._PRT and the MP table's
 * PCI I/O interrupt entries both list every (slot, pin) of that range.
 */
#define X86_IOAPIC_PINS       24
#define X86_PCI_SLOT_MIN      1
#define X86_PCI_SLOT_MAX      31
#define X86_PCI_INTX_PINS     4	/* INTA..INTD */
#define X86_PCI_INTX_GSI_BASE 16
#define X86_PCI_INTX_GSIS     8

enum x86_kernel_kind { X86_KERNEL_BZIMAGE, X86_KERNEL_ELF64 };

struct x86_boot_config {
	const uint8_t *kernel;	/* whole kernel file */
	size_t kernel_len;
	const uint8_t *initrd;	/* whole initrd file, or NULL */
	size_t initrd_len;
	const char *cmdline;	/* never NULL */
	unsigned ncpus;		/* 1..X86_MAX_CPUS */
};

/* Where everything went: the tests check every field. */
struct x86_boot_info {
	enum x86_kernel_kind kind;
	uint64_t entry;		/* 64-bit entry point (%rip) */
	uint64_t zero_page;	/* %rsi */
	uint64_t stack;		/* %rsp */
	uint64_t cr3;		/* PML4 */
	uint64_t gdt;		/* GDT base; limit in gdt_limit */
	uint16_t gdt_limit;
	uint64_t kernel_addr;	/* bzImage: protected-mode part; ELF: lowest PT_LOAD */
	uint64_t kernel_size;	/* bytes loaded (ELF: span of PT_LOADs incl. bss) */
	uint64_t initrd_addr;	/* 0 if none */
	uint64_t initrd_size;
	uint64_t cmdline_addr;
	uint64_t cmdline_size;	/* bytes incl. NUL */
	uint64_t rsdp_addr;	/* ACPI RSDP */
	uint64_t mptable_addr;	/* MP floating pointer structure */
	uint16_t boot_protocol;	/* bzImage header version (e.g. 0x020f); 0 for ELF */
};

/*
 * Recognise the kernel image: 0 and *kind set for a bzImage (boot protocol
 * >= 2.12, the first with xloadflags, and with the 64-bit entry:
 * XLF_KERNEL_64) or an ELF64 x86-64 executable; -ENOEXEC for anything
 * else. Logs nothing.
 */
int x86_kernel_probe(const uint8_t *img, size_t len, enum x86_kernel_kind *kind)
	__attribute__((warn_unused_result));

/*
 * Lay out a whole boot into gm (whose ranges must already be mapped, with
 * gm->total bytes of RAM): kernel, initrd, command line, zero page with the
 * e820 map matching gm's ranges, page tables identity-mapping 4 GiB, GDT,
 * MP table and ACPI tables for cfg->ncpus. Fills *out. Returns 0 or -errno
 * (-ENOEXEC: not a kernel we boot; -E2BIG: does not fit in RAM or the
 * command line is too long; -EINVAL: bad config); on error it logs one line
 * saying what is wrong.
 */
int x86_boot_setup(struct gmem *gm, const struct x86_boot_config *cfg,
		   struct x86_boot_info *out) __attribute__((warn_unused_result));

/*
 * Put vCPU `vcpu_fd` in the state the 64-bit boot protocol asks for: long
 * mode with paging (cr3 = bi->cr3), flat 64-bit code and data segments from
 * the GDT, interrupts off, %rip = entry, %rsi = zero page, %rsp = stack.
 * Only for the boot vCPU; the others wait for INIT/SIPI. Returns 0/-errno.
 */
int x86_vcpu_boot_regs(int vcpu_fd, const struct x86_boot_info *bi)
	__attribute__((warn_unused_result));

/*
 * The GSI (= IOAPIC pin: the IOAPIC's GSI base is 0) that PCI bus 0 slot
 * `slot` (X86_PCI_SLOT_MIN..MAX) interrupt pin `pin` (0 = INTA .. 3 =
 * INTD) is wired to: X86_PCI_INTX_GSI_BASE + (slot + pin) % 8, so
 * neighbouring slots' INTA land on different pins. Level-triggered,
 * active-low. The tables (MP, ACPI _PRT) and the monitor's INTx injection
 * all use this one rule. Pure; out-of-range arguments still give a GSI in
 * 16..23, but no table describes it.
 */
uint32_t x86_pci_intx_gsi(unsigned slot, unsigned pin) __attribute__((const));

/*
 * Give vCPU `index` of `ncpus` its CPUID: KVM_GET_SUPPORTED_CPUID from
 * kvm_fd, with the APIC ids, topology leaves, hypervisor bit and KVM
 * signature leaves fixed up. Returns 0 or -errno.
 */
int x86_cpuid_setup(int kvm_fd, int vcpu_fd, unsigned index, unsigned ncpus)
	__attribute__((warn_unused_result));

#endif
