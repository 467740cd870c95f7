/*
 * The x86 boot path (arch/x86: loader.c for bzImages, elf.c for ELF64,
 * bootparams.c around them, with the fixed tables it writes) on a hostile
 * kernel file, loading into guest RAM that lies between PROT_NONE pages:
 * its size comes from the input, up to 64 MiB, and everything of the
 * mapping below its start is PROT_NONE too.
 *
 * Input (see README.md): ncpus u8 (1 + b % 64), RAM pages le16 (RAM is
 * 1 MiB + 4 KiB * (n % 16129)), command-line length le16 (that many 'x'),
 * initrd length le24 (0: none), then the kernel file (the rest).
 * Checks: x86_boot_setup returns 0, -ENOEXEC or -E2BIG (anything else
 * means a range check disagreed with gmem's); on success the entry point
 * and the loaded kernel and initrd lie in guest RAM above 1 MiB, the entry
 * inside a PT_LOAD (ELF) or at load + 0x200 inside the loaded part
 * (bzImage: inside the bytes loaded), the kernel's bytes
 * are the file's (bss zeroed), the initrd's are the initrd's and stay
 * below the kernel's initrd_addr_max and off the kernel's range, the
 * command line is there, and every other byte of guest RAM is zero except
 * for the monitor's own structures below 1 MiB (BDA and GDT page, zero
 * page, page tables, EBDA to 1 MiB). The guard pages catch anything
 * written or read past either end.
 */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "harness.h"
#include "log.h"
#include "x86_priv.h"

#define PAGE		4096ull
#define MiB		(1ull << 20)
#define RAM_MAX		(64 * MiB)
#define RAM_MIN		(1 * MiB)
#define INITRD_MAX	(16 * MiB)
#define BZ_ENTRY64	0x200

static uint8_t *ram_map;	/* RAM_MAX bytes between guard pages */
static uint8_t *initrd;		/* INITRD_MAX bytes, none of them zero */
static char *cmdline;		/* X86_CMDLINE_MAX 'x's, NUL-terminated */
static unsigned char *resident;	/* mincore vector */

struct range {
	uint64_t lo, hi;	/* [lo, hi) */
};

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* A hostile image makes the loader log an error per input: below LOG_ERR, nothing. */
	if (!getenv("FUZZ_VERBOSE"))
		log_set_level((enum log_level)-1);
	ram_map = fz_guarded_alloc(RAM_MAX);
	initrd = malloc(INITRD_MAX);
	cmdline = malloc(X86_CMDLINE_MAX + 1);
	resident = malloc(RAM_MAX / PAGE);
	if (!initrd || !cmdline || !resident)
		fz_fail("out of memory");
	for (uint64_t i = 0; i < INITRD_MAX; i++)
		initrd[i] = (uint8_t)(i * 131 + (i >> 12)) | 1;
	memset(cmdline, 'x', X86_CMDLINE_MAX);
	cmdline[X86_CMDLINE_MAX] = 0;
	return 0;
}

/* Fresh zeroed RAM of `size` bytes ending at the upper guard page; PROT_NONE below it. */
static uint8_t *ram_reset(uint64_t size)
{
	uint8_t *ram = ram_map + (RAM_MAX - size);

	if (madvise(ram_map, RAM_MAX, MADV_DONTNEED) < 0 ||
	    mprotect(ram_map, RAM_MAX, PROT_READ | PROT_WRITE) < 0 ||
	    (size < RAM_MAX && mprotect(ram_map, RAM_MAX - size, PROT_NONE) < 0))
		fz_fail("resetting guest RAM");
	return ram;
}

static bool in_ram(uint64_t lo, uint64_t len, uint64_t ram_size)
{
	return lo >= X86_HIMEM_START && len <= ram_size && lo <= ram_size - len;
}

static bool zero(const uint8_t *p, uint64_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* Where each loaded ELF segment's bytes must be: those no later segment overwrote. */
static void check_elf(const uint8_t *img, size_t len, const uint8_t *ram,
		      const struct x86_boot_info *bi)
{
	const Elf64_Ehdr *eh = (const void *)img;
	const Elf64_Phdr *ph = (const void *)(img + eh->e_phoff);	/* the loader checked it */
	bool entry_in = false;

	for (unsigned i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *p = &ph[i];
		bool over = false;

		if (p->p_type != PT_LOAD || !p->p_memsz)
			continue;
		FZ_CHECK(p->p_paddr >= bi->kernel_addr &&
			 p->p_paddr + p->p_memsz <= bi->kernel_addr + bi->kernel_size,
			 "PT_LOAD %u [0x%llx, +0x%llx) outside the reported kernel range", i,
			 (unsigned long long)p->p_paddr, (unsigned long long)p->p_memsz);
		entry_in |= bi->entry >= p->p_paddr && bi->entry - p->p_paddr < p->p_memsz;
		for (unsigned j = i + 1; j < eh->e_phnum; j++)
			over |= ph[j].p_type == PT_LOAD && ph[j].p_memsz &&
				ph[j].p_paddr < p->p_paddr + p->p_memsz &&
				p->p_paddr < ph[j].p_paddr + ph[j].p_memsz;
		if (over)
			continue;
		FZ_CHECK(memcmp(ram + p->p_paddr, img + p->p_offset, p->p_filesz) == 0,
			 "PT_LOAD %u: guest RAM at 0x%llx is not the file's bytes", i,
			 (unsigned long long)p->p_paddr);
		FZ_CHECK(zero(ram + p->p_paddr + p->p_filesz, p->p_memsz - p->p_filesz),
			 "PT_LOAD %u: bss at 0x%llx not zeroed", i,
			 (unsigned long long)(p->p_paddr + p->p_filesz));
	}
	FZ_CHECK(entry_in, "entry 0x%llx is in no PT_LOAD", (unsigned long long)bi->entry);
}

/* A bzImage's protected-mode part at its load address; *kernel_end: load + init_size at least. */
static void check_bz(const uint8_t *img, size_t len, const uint8_t *ram,
		     const struct x86_boot_info *bi, uint64_t *kernel_end)
{
	size_t pm = ((size_t)(img[0x1f1] ? img[0x1f1] : 4) + 1) * 512;
	uint64_t init_size = rd32(img + 0x260);

	FZ_CHECK(pm < len && bi->kernel_size == len - pm, "bzImage: kernel_size 0x%llx, file has 0x%zx after setup",
		 (unsigned long long)bi->kernel_size, len - pm);
	FZ_CHECK(bi->entry == bi->kernel_addr + BZ_ENTRY64, "bzImage: entry 0x%llx, loaded at 0x%llx",
		 (unsigned long long)bi->entry, (unsigned long long)bi->kernel_addr);
	FZ_CHECK(bi->kernel_size > BZ_ENTRY64,
		 "bzImage: entry 0x%llx is past the 0x%llx bytes loaded at 0x%llx",
		 (unsigned long long)bi->entry, (unsigned long long)bi->kernel_size,
		 (unsigned long long)bi->kernel_addr);
	FZ_CHECK(memcmp(ram + bi->kernel_addr, img + pm, len - pm) == 0,
		 "bzImage: guest RAM at 0x%llx is not the protected-mode part",
		 (unsigned long long)bi->kernel_addr);
	*kernel_end = bi->kernel_addr + (init_size > bi->kernel_size ? init_size : bi->kernel_size);
}

/* Whether all of [lo, hi) lies in one of the allowed ranges. */
static bool allowed(const struct range *ok, unsigned n, uint64_t lo, uint64_t hi)
{
	for (unsigned i = 0; i < n; i++)
		if (lo >= ok[i].lo && hi <= ok[i].hi)
			return true;
	return false;
}

/*
 * No byte of RAM written outside the allowed ranges: only the pages
 * touched at all are read, and of those only what no range covers.
 */
static void check_untouched(const uint8_t *ram, uint64_t size, const struct range *ok, unsigned n)
{
	if (mincore((void *)ram, size, resident) < 0)
		fz_fail("mincore");
	for (uint64_t pg = 0; pg < size / PAGE; pg++) {
		uint64_t a = pg * PAGE;

		if (!(resident[pg] & 1) || allowed(ok, n, a, a + PAGE) || zero(ram + a, PAGE))
			continue;
		for (; a < (pg + 1) * PAGE; a++)
			FZ_CHECK(ram[a] == 0 || allowed(ok, n, a, a + 1),
				 "guest RAM byte 0x%llx written (0x%02x), outside what the boot places",
				 (unsigned long long)a, ram[a]);
	}
}

static void check_boot(const struct x86_boot_config *cfg, const uint8_t *ram, uint64_t size,
		       const struct x86_boot_info *bi)
{
	uint64_t kend = bi->kernel_addr + bi->kernel_size, imax = 0x37ffffff;	/* ELF's default */
	uint64_t csize = strlen(cfg->cmdline) + 1;
	struct range ok[] = {
		{ 0, PAGE },					/* BDA, GDT */
		{ X86_ZERO_PAGE_ADDR, X86_ZERO_PAGE_ADDR + PAGE },
		{ X86_PML4_ADDR, X86_PT_END },
		{ X86_CMDLINE_ADDR, X86_CMDLINE_ADDR + csize },
		{ X86_EBDA_START, X86_HIMEM_START },		/* MP table, ACPI */
		{ bi->kernel_addr, bi->kernel_addr + bi->kernel_size },
		{ bi->initrd_addr, bi->initrd_addr + bi->initrd_size },
	};

	FZ_CHECK(in_ram(bi->kernel_addr, bi->kernel_size, size) && bi->kernel_size &&
		 in_ram(bi->entry, 1, size),
		 "kernel [0x%llx, +0x%llx) entry 0x%llx: not in guest RAM above 1 MiB (0x%llx bytes)",
		 (unsigned long long)bi->kernel_addr, (unsigned long long)bi->kernel_size,
		 (unsigned long long)bi->entry, (unsigned long long)size);
	if (bi->kind == X86_KERNEL_ELF64) {
		check_elf(cfg->kernel, cfg->kernel_len, ram, bi);
	} else {
		check_bz(cfg->kernel, cfg->kernel_len, ram, bi, &kend);
		imax = rd32(cfg->kernel + 0x22c);
	}
	FZ_CHECK(bi->cmdline_size == csize && memcmp(ram + bi->cmdline_addr, cfg->cmdline, csize) == 0,
		 "command line not in guest RAM as given");
	FZ_CHECK(bi->initrd_size == cfg->initrd_len, "initrd: 0x%llx bytes placed, 0x%zx given",
		 (unsigned long long)bi->initrd_size, cfg->initrd_len);
	if (bi->initrd_size) {
		FZ_CHECK(in_ram(bi->initrd_addr, bi->initrd_size, size) &&
			 bi->initrd_addr + bi->initrd_size - 1 <= imax &&
			 (bi->initrd_addr >= kend || bi->initrd_addr + bi->initrd_size <= bi->kernel_addr),
			 "initrd [0x%llx, +0x%llx): outside RAM, above 0x%llx or over the kernel [0x%llx, 0x%llx)",
			 (unsigned long long)bi->initrd_addr, (unsigned long long)bi->initrd_size,
			 (unsigned long long)imax, (unsigned long long)bi->kernel_addr,
			 (unsigned long long)kend);
		FZ_CHECK(memcmp(ram + bi->initrd_addr, cfg->initrd, bi->initrd_size) == 0,
			 "initrd bytes differ");
	}
	check_untouched(ram, size, ok, sizeof(ok) / sizeof(ok[0]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	unsigned ncpus = 1 + fz_u8(&in) % X86_MAX_CPUS;
	uint64_t ram_size = RAM_MIN + PAGE * (fz_le(&in, 2) % ((RAM_MAX - RAM_MIN) / PAGE + 1));
	size_t clen = (size_t)fz_le(&in, 2) % X86_CMDLINE_MAX;
	size_t ilen = (size_t)fz_le(&in, 3) % (INITRD_MAX + 1);
	struct x86_boot_config cfg = { .kernel = in.p, .kernel_len = in.n, .initrd = initrd,
				       .initrd_len = ilen, .cmdline = cmdline + (X86_CMDLINE_MAX - clen),
				       .ncpus = ncpus };
	struct x86_boot_info bi;
	struct gmem gm = { .fd = -1, .total = ram_size, .nranges = 1 };
	uint8_t *ram = ram_reset(ram_size);
	int rc;

	gm.r[0] = (struct gmem_range){ .gpa = 0, .size = ram_size, .hva = ram };
	rc = x86_boot_setup(&gm, &cfg, &bi);
	FZ_CHECK(rc == 0 || rc == -ENOEXEC || rc == -E2BIG, "x86_boot_setup: %d", rc);
	if (rc == 0)
		check_boot(&cfg, ram, ram_size, &bi);
	return 0;
}
