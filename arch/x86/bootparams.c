/*
 * The zero page (struct boot_params) and x86_boot_setup(), which builds a
 * whole boot: kernel, command line, initrd, e820 map, page tables, GDT,
 * MP table and ACPI tables.
 *
 * initrd rule: the highest page-aligned address whose whole range stays
 * at or below the kernel's initrd_addr_max and inside RAM below the 32-bit
 * hole, without overlapping [kernel_addr, kernel_end) (for a bzImage the
 * kernel range covers init_size, where it decompresses).
 *
 * e820: [0, EBDA) RAM, [EBDA, 1 MiB) reserved (MP table, ACPI tables,
 * legacy holes), [1 MiB, end of range 0) RAM, and every further range of
 * gm (RAM from 4 GiB) as RAM.
 */
#include "x86_priv.h"

#include <errno.h>
#include <string.h>

#include <asm/e820.h>

#include "log.h"
#include "util.h"

#define PAGE_SIZE 4096ULL
#define BDA_EBDA_SEG	0x40e	/* BIOS data area: EBDA segment */
#define BDA_BASE_KB	0x413	/* BIOS data area: base memory in KiB */

static int boot_check_config(const struct gmem *gm, const struct x86_boot_config *cfg)
{
	if (!cfg->cmdline || !cfg->kernel || (cfg->initrd_len && !cfg->initrd)) {
		log_err("boot: kernel, command line or initrd missing");
		return -EINVAL;
	}
	if (cfg->ncpus == 0 || cfg->ncpus > X86_MAX_CPUS) {
		log_err("boot: %u vCPUs; 1 to %u are supported", cfg->ncpus, X86_MAX_CPUS);
		return -EINVAL;
	}
	if (gm->nranges == 0 || gm->r[0].gpa != 0 || gm->r[0].size < 2 * X86_HIMEM_START) {
		log_err("boot: guest RAM must start at 0 and be at least 2 MiB");
		return -E2BIG;
	}
	return 0;
}

static int boot_load_kernel(struct x86_setup *s)
{
	enum x86_kernel_kind kind;

	if (x86_kernel_probe(s->cfg->kernel, s->cfg->kernel_len, &kind) != 0) {
		log_err("kernel: not a bzImage (boot protocol >= 2.12, 64-bit) or ELF64 x86-64 kernel");
		return -ENOEXEC;
	}
	s->bi->kind = kind;
	return kind == X86_KERNEL_BZIMAGE ? x86_bzimage_load(s) : x86_elf_load(s);
}

static int boot_cmdline(struct x86_setup *s)
{
	size_t len = strlen(s->cfg->cmdline);
	uint64_t max = s->cmdline_max;

	if (max > X86_CMDLINE_MAX - 1)
		max = X86_CMDLINE_MAX - 1;
	if (len > max) {
		log_err("boot: command line is %zu bytes, the kernel takes at most %llu",
			len, (unsigned long long)max);
		return -E2BIG;
	}
	if (gmem_write(s->gm, X86_CMDLINE_ADDR, s->cfg->cmdline, len + 1) != 0)
		return -EFAULT;
	s->bp->hdr.cmd_line_ptr = (uint32_t)X86_CMDLINE_ADDR;
	s->bp->ext_cmd_line_ptr = (uint32_t)(X86_CMDLINE_ADDR >> 32);
	s->bi->cmdline_addr = X86_CMDLINE_ADDR;
	s->bi->cmdline_size = len + 1;
	return 0;
}

/* Highest page-aligned start for size bytes ending at or below top, or 0. */
static uint64_t initrd_below(uint64_t top, uint64_t size)
{
	if (top < size || top - size < X86_HIMEM_START)
		return 0;
	return ALIGN_DOWN(top - size, PAGE_SIZE);
}

static uint64_t initrd_pick(const struct x86_setup *s, uint64_t size)
{
	uint64_t top = s->low_end, addr;

	if (s->initrd_max < top - 1)
		top = s->initrd_max + 1;
	addr = initrd_below(top, size);
	if (addr && addr < s->kernel_end && addr + size > s->bi->kernel_addr)
		addr = initrd_below(s->bi->kernel_addr < top ? s->bi->kernel_addr : top, size);
	return addr;
}

static int boot_initrd(struct x86_setup *s)
{
	uint64_t size = s->cfg->initrd_len, addr;

	if (!s->cfg->initrd || size == 0)
		return 0;
	addr = initrd_pick(s, size);
	if (!addr) {
		log_err("initrd: %llu bytes do not fit below 0x%llx beside the kernel",
			(unsigned long long)size, (unsigned long long)s->initrd_max);
		return -E2BIG;
	}
	if (gmem_write(s->gm, addr, s->cfg->initrd, size) != 0)
		return -EFAULT;
	s->bp->hdr.ramdisk_image = (uint32_t)addr;
	s->bp->hdr.ramdisk_size = (uint32_t)size;
	s->bp->ext_ramdisk_image = (uint32_t)(addr >> 32);
	s->bp->ext_ramdisk_size = (uint32_t)(size >> 32);
	s->bi->initrd_addr = addr;
	s->bi->initrd_size = size;
	return 0;
}

static void e820_add(struct boot_params *bp, uint64_t addr, uint64_t size, uint32_t type)
{
	struct boot_e820_entry *e = &bp->e820_table[bp->e820_entries++];

	e->addr = addr;
	e->size = size;
	e->type = type;
}

static void boot_e820(struct x86_setup *s)
{
	const struct gmem *gm = s->gm;

	e820_add(s->bp, 0, X86_EBDA_START, E820_RAM);
	e820_add(s->bp, X86_EBDA_START, X86_HIMEM_START - X86_EBDA_START, E820_RESERVED);
	e820_add(s->bp, X86_HIMEM_START, s->low_end - X86_HIMEM_START, E820_RAM);
	for (unsigned i = 1; i < gm->nranges && i < GMEM_MAX_RANGES; i++)
		e820_add(s->bp, gm->r[i].gpa, gm->r[i].size, E820_RAM);
}

/* The BIOS data area words that point at the EBDA (MP spec 4: search). */
static int boot_bda(struct gmem *gm)
{
	uint16_t seg = (uint16_t)(X86_EBDA_START >> 4);
	uint16_t kb = (uint16_t)(X86_EBDA_START >> 10);

	if (gmem_write(gm, BDA_EBDA_SEG, &seg, sizeof(seg)) != 0 ||
	    gmem_write(gm, BDA_BASE_KB, &kb, sizeof(kb)) != 0)
		return -EFAULT;
	return 0;
}

/* Everything at fixed addresses: tables the firmware would have built. */
static int boot_fixed(struct x86_setup *s)
{
	int err;

	err = x86_pagetables_setup(s->gm);
	if (!err)
		err = x86_gdt_setup(s->gm);
	if (!err)
		err = boot_bda(s->gm);
	if (!err)
		err = x86_mptable_setup(s->gm, s->cfg->ncpus);
	if (!err)
		err = x86_acpi_setup(s->gm, s->cfg->ncpus);
	if (err)
		log_err("boot: cannot write the boot tables: %s", strerror(-err));
	return err;
}

static void boot_fill_info(struct x86_setup *s)
{
	struct x86_boot_info *bi = s->bi;

	bi->zero_page = X86_ZERO_PAGE_ADDR;
	bi->stack = X86_BOOT_STACK;
	bi->cr3 = X86_PML4_ADDR;
	bi->gdt = X86_GDT_ADDR;
	bi->gdt_limit = X86_GDT_ENTRIES * 8 - 1;
	bi->rsdp_addr = X86_ACPI_ADDR;
	bi->mptable_addr = X86_MPTABLE_ADDR;
	if (s->bp->hdr.version >= 0x020e)	/* acpi_rsdp_addr: 2.14+ */
		s->bp->acpi_rsdp_addr = X86_ACPI_ADDR;
}

int x86_boot_setup(struct gmem *gm, const struct x86_boot_config *cfg,
		   struct x86_boot_info *out)
{
	struct boot_params bp;
	struct x86_setup s = { .gm = gm, .cfg = cfg, .bp = &bp, .bi = out };
	int err;

	memset(&bp, 0, sizeof(bp));
	memset(out, 0, sizeof(*out));
	err = boot_check_config(gm, cfg);
	if (err)
		return err;
	s.low_end = gm->r[0].size;
	err = boot_load_kernel(&s);
	if (!err)
		err = boot_cmdline(&s);
	if (!err)
		err = boot_initrd(&s);
	if (!err)
		err = boot_fixed(&s);
	if (err)
		return err;
	boot_e820(&s);
	boot_fill_info(&s);
	return gmem_write(gm, X86_ZERO_PAGE_ADDR, &bp, sizeof(bp));
}
