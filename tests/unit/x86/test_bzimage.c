/*
 * The bzImage path against real kernels: every vmlinuz-* in
 * $VMM_CACHE/kernels (default ~/.cache/vmm/kernels) is set up in 256 MiB
 * and in 5 GiB of guest RAM, and every placement decision is checked
 * against the kernel's own setup header, read here at the offsets of
 * Documentation/arch/x86/boot.rst.
 */
#include <errno.h>
#include <glob.h>
#include <stdio.h>

#include "log.h"
#include "util.h"
#include "x86_test.h"

#define CMDLINE "console=ttyS0 root=/dev/vda rw quiet"
#define INITRD_LEN (3 * MiB + 123)

/* The setup-header fields the checks need, straight from the file. */
struct kinfo {
	const uint8_t *img;
	size_t len;
	size_t pm_off;
	uint16_t version;
	uint32_t initrd_max, align, cmdline_size, init_size;
	uint64_t pref;
};

static void kinfo_read(struct kinfo *k, const uint8_t *img, size_t len)
{
	unsigned sects = img[0x1f1] ? img[0x1f1] : 4;

	k->img = img;
	k->len = len;
	k->pm_off = (sects + 1) * 512;
	k->version = rd16(img + 0x206);
	k->initrd_max = rd32(img + 0x22c);
	k->align = rd32(img + 0x230);
	k->cmdline_size = rd32(img + 0x238);
	k->pref = rd64(img + 0x258);
	k->init_size = rd32(img + 0x260);
}

static uint8_t *make_initrd(size_t len)
{
	uint8_t *p = malloc(len);

	for (size_t i = 0; p && i < len; i++)
		p[i] = (uint8_t)(i * 13 + (i >> 12));
	return p;
}

static void check_kernel(const struct gmem *gm, const struct kinfo *k,
			 const struct x86_boot_info *bi)
{
	uint64_t load = bi->kernel_addr;

	CHECK_EQ(bi->kind, X86_KERNEL_BZIMAGE, "kind");
	CHECK_EQ(load, ALIGN_UP(k->pref, (uint64_t)k->align), "loaded at pref_address");
	CHECK(load % k->align == 0, "load 0x%llx aligned to kernel_alignment 0x%x",
	      (unsigned long long)load, k->align);
	CHECK(load >= X86_HIMEM_START && load + k->init_size <= gm->r[0].size,
	      "[load, load + init_size 0x%x) is RAM below the hole", k->init_size);
	CHECK_EQ(bi->entry, load + 0x200, "64-bit entry = load + 0x200");
	CHECK_EQ(bi->kernel_size, k->len - k->pm_off, "kernel_size = protected-mode part");
	CHECK(memcmp(gpa(gm, load, k->len - k->pm_off), k->img + k->pm_off,
		     k->len - k->pm_off) == 0, "protected-mode bytes match the file");
	CHECK_EQ(bi->boot_protocol, k->version, "boot_protocol");
	CHECK_EQ(bi->zero_page, X86_ZERO_PAGE_ADDR, "zero page");
	CHECK_EQ(bi->stack, X86_BOOT_STACK, "stack");
}

static void check_hdr(const struct gmem *gm, const struct kinfo *k,
		      const struct x86_boot_info *bi)
{
	const uint8_t *zp = gpa(gm, bi->zero_page, 4096);
	const uint8_t *h = zp;	/* boot_params.hdr sits at 0x1f1, as in the file */
	size_t hdr_end = 0x202 + k->img[0x201];

	CHECK(memcmp(h + 0x202, k->img + 0x202, 0x208 - 0x202) == 0, "hdr HdrS + version copied");
	CHECK(memcmp(h + 0x230, k->img + 0x230, hdr_end - 0x230) == 0,
	      "hdr copied from 0x230 to the header end 0x%zx", hdr_end);
	CHECK_EQ(rd16(h + 0x1fe), 0xaa55, "boot_flag");
	CHECK_EQ(h[0x210], 0xff, "type_of_loader");
	CHECK_EQ(h[0x211] & 0x81, 0x81, "loadflags LOADED_HIGH | CAN_USE_HEAP");
	CHECK_EQ(rd16(h + 0x224), 0xfe00, "heap_end_ptr");
	CHECK_EQ(rd16(h + 0x1fa), 0xffff, "vid_mode normal");
	CHECK_EQ(rd32(h + 0x228), X86_CMDLINE_ADDR, "cmd_line_ptr");
	CHECK_EQ(rd32(zp + 0xc8), 0, "ext_cmd_line_ptr");
	CHECK(memcmp(gpa(gm, rd32(h + 0x228), sizeof(CMDLINE)), CMDLINE, sizeof(CMDLINE)) == 0,
	      "command line bytes incl. NUL");
	CHECK_EQ(bi->cmdline_size, sizeof(CMDLINE), "cmdline_size incl. NUL");
	CHECK_EQ(rd64(zp + 0x70), X86_ACPI_ADDR, "acpi_rsdp_addr");
	CHECK(memcmp(gpa(gm, rd64(zp + 0x70), 8), "RSD PTR ", 8) == 0, "RSDP there");
	CHECK_EQ(rd64(h + 0x250), 0, "setup_data");
	CHECK_EQ(zp[0x1ef], 0, "sentinel clear");
}

static void check_initrd(const struct gmem *gm, const struct kinfo *k,
			 const struct x86_boot_info *bi, const uint8_t *initrd)
{
	const uint8_t *zp = gpa(gm, bi->zero_page, 4096);
	uint64_t top = gm->r[0].size, a = bi->initrd_addr;

	if ((uint64_t)k->initrd_max + 1 < top)
		top = (uint64_t)k->initrd_max + 1;
	CHECK_EQ(a, ALIGN_DOWN(top - INITRD_LEN, 4096ULL), "initrd at the highest page below the limit");
	CHECK_EQ(bi->initrd_size, INITRD_LEN, "initrd size");
	CHECK(a % 4096 == 0 && a + INITRD_LEN - 1 <= k->initrd_max, "initrd aligned, below initrd_addr_max");
	CHECK(a >= bi->kernel_addr + k->init_size || a + INITRD_LEN <= bi->kernel_addr,
	      "initrd outside [kernel, kernel + init_size)");
	CHECK_EQ(rd32(zp + 0x218), a, "ramdisk_image");
	CHECK_EQ(rd32(zp + 0x21c), INITRD_LEN, "ramdisk_size");
	CHECK_EQ(rd32(zp + 0xc0) | (uint64_t)rd32(zp + 0xc4), 0, "ext_ramdisk_image/size");
	CHECK(memcmp(gpa(gm, a, INITRD_LEN), initrd, INITRD_LEN) == 0, "initrd content");
}

static void run_one(const struct kinfo *k, uint64_t mem, const uint8_t *initrd)
{
	struct x86_boot_config cfg = { .kernel = k->img, .kernel_len = k->len,
				       .initrd = initrd, .initrd_len = INITRD_LEN,
				       .cmdline = CMDLINE, .ncpus = 2 };
	struct x86_boot_info bi;
	struct gmem gm;

	if (test_gmem_new(&gm, mem) != 0) {
		CHECK(0, "cannot allocate %llu MiB of test RAM", (unsigned long long)(mem >> 20));
		return;
	}
	printf("# %llu MiB of guest RAM\n", (unsigned long long)(mem >> 20));
	CHECK_EQ(x86_boot_setup(&gm, &cfg, &bi), 0, "x86_boot_setup");
	check_kernel(&gm, k, &bi);
	check_hdr(&gm, k, &bi);
	check_initrd(&gm, k, &bi, initrd);
	check_e820(&gm, &bi);
	check_pagetables(&gm, &bi);
	check_gdt(&gm, &bi);
	test_gmem_free(&gm);
}

static int setup_rc(const uint8_t *img, size_t len, const char *cmdline,
		    uint64_t mem, size_t initrd_len)
{
	static uint8_t *big;
	struct x86_boot_config cfg = { .kernel = img, .kernel_len = len,
				       .cmdline = cmdline, .ncpus = 1 };
	struct x86_boot_info bi;
	struct gmem gm;
	int rc;

	if (initrd_len && !big)
		big = mmap(NULL, 256 * MiB, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (big == MAP_FAILED)
		return -ENOMEM;
	cfg.initrd = initrd_len ? big : NULL;
	cfg.initrd_len = initrd_len;
	if (test_gmem_new(&gm, mem) != 0)
		return -ENOMEM;
	rc = x86_boot_setup(&gm, &cfg, &bi);
	test_gmem_free(&gm);
	return rc;
}

static void check_limits(const struct kinfo *k)
{
	char *cl = malloc(k->cmdline_size + 2);

	memset(cl, 'x', k->cmdline_size + 1);
	cl[k->cmdline_size + 1] = 0;
	CHECK_EQ(setup_rc(k->img, k->len, cl, 256 * MiB, 0), -E2BIG,
		 "command line of cmdline_size + 1 bytes: -E2BIG");
	cl[k->cmdline_size] = 0;
	CHECK_EQ(setup_rc(k->img, k->len, cl, 256 * MiB, 0), 0,
		 "command line of exactly cmdline_size bytes fits");
	free(cl);
	CHECK_EQ(setup_rc(k->img, k->len, "", k->pref + k->init_size - MiB, 0), -E2BIG,
		 "RAM ending below pref_address + init_size: -E2BIG");
	CHECK_EQ(setup_rc(k->img, k->len, "", k->pref + k->init_size, 0), 0,
		 "RAM ending exactly at pref_address + init_size fits");
	CHECK_EQ(setup_rc(k->img, k->len, "", 256 * MiB, 200 * MiB), -E2BIG,
		 "200 MiB initrd beside the kernel in 256 MiB: -E2BIG");
}

/* Corrupt one byte (or the length) of a copy and expect -ENOEXEC. */
static void check_corrupt(const struct kinfo *k)
{
	static const struct { size_t off; uint8_t val; const char *what; } bad[] = {
		{ 0x202, 'X', "HdrS magic" },
		{ 0x1fe, 0x00, "boot_flag" },
		{ 0x206, 0x05, "version 2.05 (low byte)" },
		{ 0x207, 0x01, "version 1.x (high byte)" },
		{ 0x236, 0x00, "xloadflags without XLF_KERNEL_64" },
		{ 0x211, 0x00, "loadflags without LOADED_HIGH" },
		{ 0x201, 0x10, "header shorter than init_size" },
		{ 0x230, 0x03, "kernel_alignment not a power of two" },
	};
	uint8_t *copy = malloc(k->len);
	enum x86_kernel_kind kind;

	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		memcpy(copy, k->img, k->len);
		copy[bad[i].off] = bad[i].val;
		CHECK_EQ(setup_rc(copy, k->len, "", 256 * MiB, 0), -ENOEXEC, bad[i].what);
	}
	CHECK_EQ(setup_rc(k->img, 0x400, "", 256 * MiB, 0), -ENOEXEC, "truncated to 1 KiB");
	CHECK_EQ(setup_rc(k->img, k->pm_off, "", 256 * MiB, 0), -ENOEXEC,
		 "truncated right before the protected-mode part");
	CHECK_EQ(setup_rc(k->img, k->pm_off + 0x200, "", 256 * MiB, 0), -ENOEXEC,
		 "protected-mode part 0x200 bytes: the 64-bit entry at +0x200 not loaded");
	CHECK_EQ(setup_rc(k->img, 0x1f0, "", 256 * MiB, 0), -ENOEXEC, "truncated before the header");
	CHECK_EQ(x86_kernel_probe(k->img, 0x300, &kind), -ENOEXEC, "probe of a truncated header");
	free(copy);
}

static void test_kernel(const char *path)
{
	struct kinfo k;
	enum x86_kernel_kind kind = X86_KERNEL_ELF64;
	uint8_t *img, *initrd = make_initrd(INITRD_LEN);
	size_t len;

	printf("# kernel %s\n", path);
	if (read_whole_file(path, 512 * MiB, &img, &len) != 0) {
		CHECK(0, "read %s", path);
		return;
	}
	kinfo_read(&k, img, len);
	CHECK(x86_kernel_probe(img, len, &kind) == 0 && kind == X86_KERNEL_BZIMAGE,
	      "probe says bzImage");
	run_one(&k, 256 * MiB, initrd);
	run_one(&k, 5 * GiB, initrd);
	check_limits(&k);
	check_corrupt(&k);
	free(initrd);
	free(img);
}

int main(void)
{
	const char *cache = getenv("VMM_CACHE"), *home = getenv("HOME");
	char pattern[4096];
	glob_t g;

	if (cache && *cache)
		snprintf(pattern, sizeof(pattern), "%s/kernels/vmlinuz-*", cache);
	else
		snprintf(pattern, sizeof(pattern), "%s/.cache/vmm/kernels/vmlinuz-*",
			 home ? home : "/root");
	if (glob(pattern, 0, NULL, &g) != 0)
		CHECK_SKIP_ALL("no kernel matches %s (run the setup script to fetch one)", pattern);
	log_set_level(LOG_ERR);
	for (size_t i = 0; i < g.gl_pathc; i++)
		test_kernel(g.gl_pathv[i]);
	globfree(&g);
	return check_done();
}
