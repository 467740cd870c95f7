/*
 * The identity map and GDT the 64-bit boot protocol asks for: [0, 4 GiB)
 * mapped 1:1 with 2 MiB pages (every x86-64 CPU has them; 1 GiB pages
 * would need a CPUID check), and Linux's boot GDT layout with the flat
 * 64-bit code segment at __BOOT_CS (0x10) and data at __BOOT_DS (0x18).
 */
#include "x86_priv.h"

#include <errno.h>

#define PTE_P	0x001ULL	/* present */
#define PTE_RW	0x002ULL	/* writable */
#define PTE_PS	0x080ULL	/* 2 MiB page (in a page directory entry) */
#define PAGE_2M	0x200000ULL

int x86_pagetables_setup(struct gmem *gm)
{
	uint64_t *pml4 = gmem_ptr(gm, X86_PML4_ADDR, 0x1000);
	uint64_t *pdpt = gmem_ptr(gm, X86_PDPT_ADDR, 0x1000);
	uint64_t *pd = gmem_ptr(gm, X86_PD_ADDR, X86_PD_COUNT * 0x1000ULL);

	if (!pml4 || !pdpt || !pd)
		return -EFAULT;
	for (unsigned i = 0; i < 512; i++) {
		pml4[i] = 0;
		pdpt[i] = 0;
	}
	pml4[0] = X86_PDPT_ADDR | PTE_P | PTE_RW;
	for (unsigned i = 0; i < X86_PD_COUNT; i++)
		pdpt[i] = (X86_PD_ADDR + i * 0x1000ULL) | PTE_P | PTE_RW;
	/* The page directories are contiguous: entry n maps n * 2 MiB. */
	for (unsigned i = 0; i < X86_PD_COUNT * 512; i++)
		pd[i] = (uint64_t)i * PAGE_2M | PTE_P | PTE_RW | PTE_PS;
	return 0;
}

int x86_gdt_setup(struct gmem *gm)
{
	const uint64_t gdt[X86_GDT_ENTRIES] = {
		0,			/* null */
		0,			/* 0x08: unused (Linux: __KERNEL32_CS) */
		X86_GDT_CODE64,		/* 0x10: __BOOT_CS */
		X86_GDT_DATA,		/* 0x18: __BOOT_DS */
	};

	return gmem_write(gm, X86_GDT_ADDR, gdt, sizeof(gdt));
}
