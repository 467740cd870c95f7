/*
 * The ELF64 path: a synthetic kernel with a text and a data+bss PT_LOAD
 * (and a PT_NOTE to skip) is loaded and checked byte for byte; then every
 * kind of malformed header must be refused with the right errno, without
 * touching anything outside the file.
 */
#include <errno.h>

#include "log.h"
#include "util.h"
#include "x86_test.h"

#define CMDLINE "console=ttyS0 panic=-1"
#define INITRD_LEN (64 * 1024 + 5)

static void check_loaded(const struct gmem *gm, const struct telf *t,
			 const struct x86_boot_info *bi)
{
	const uint8_t *data = gpa(gm, TELF_DATA, TELF_DATA_MEM);
	unsigned nonzero = 0;

	CHECK_EQ(bi->kind, X86_KERNEL_ELF64, "kind");
	CHECK_EQ(bi->entry, TELF_ENTRY, "entry = e_entry");
	CHECK_EQ(bi->kernel_addr, TELF_TEXT, "kernel_addr = lowest PT_LOAD");
	CHECK_EQ(bi->kernel_size, TELF_DATA + TELF_DATA_MEM - TELF_TEXT, "kernel_size spans bss");
	CHECK_EQ(bi->boot_protocol, 0, "boot_protocol 0 for ELF");
	CHECK(memcmp(gpa(gm, TELF_TEXT, TELF_TEXT_SZ), t->bytes + TELF_TEXT_OFF, TELF_TEXT_SZ) == 0,
	      "text bytes");
	CHECK(memcmp(data, t->bytes + TELF_DATA_OFF, TELF_DATA_SZ) == 0, "data bytes");
	for (uint64_t i = TELF_DATA_SZ; i < TELF_DATA_MEM; i++)
		nonzero += data[i] != 0;
	CHECK(nonzero == 0, "bss zeroed (%u bytes were not)", nonzero);
	CHECK_EQ(*gpa(gm, TELF_DATA + TELF_DATA_MEM, 1), 0xaa, "byte after bss untouched");
}

static void check_zero_page(const struct gmem *gm, const struct x86_boot_info *bi)
{
	const uint8_t *zp = gpa(gm, bi->zero_page, 4096);
	uint64_t top = 0x38000000;	/* ELF default initrd_addr_max + 1 */

	if (gm->r[0].size < top)
		top = gm->r[0].size;
	CHECK_EQ(rd16(zp + 0x1fe), 0xaa55, "hdr boot_flag");
	CHECK(memcmp(zp + 0x202, "HdrS", 4) == 0, "hdr HdrS");
	CHECK_EQ(rd16(zp + 0x206), 0x020f, "hdr version 2.15");
	CHECK_EQ(zp[0x210], 0xff, "type_of_loader");
	CHECK_EQ(rd32(zp + 0x228), X86_CMDLINE_ADDR, "cmd_line_ptr");
	CHECK(strcmp((const char *)gpa(gm, X86_CMDLINE_ADDR, sizeof(CMDLINE)), CMDLINE) == 0,
	      "command line");
	CHECK_EQ(rd32(zp + 0x22c), 0x37ffffff, "initrd_addr_max default");
	CHECK_EQ(bi->initrd_addr, ALIGN_DOWN(top - INITRD_LEN, 4096ULL), "initrd at the top");
	CHECK_EQ(rd32(zp + 0x218), bi->initrd_addr, "ramdisk_image");
	CHECK_EQ(rd32(zp + 0x21c), INITRD_LEN, "ramdisk_size");
	CHECK_EQ(rd64(zp + 0x70), X86_ACPI_ADDR, "acpi_rsdp_addr");
}

static void test_good(uint64_t mem)
{
	static uint8_t initrd[INITRD_LEN];
	struct telf t;
	struct x86_boot_config cfg = { .kernel = t.bytes, .kernel_len = sizeof(t.bytes),
				       .initrd = initrd, .initrd_len = sizeof(initrd),
				       .cmdline = CMDLINE, .ncpus = 4 };
	struct x86_boot_info bi;
	enum x86_kernel_kind kind = X86_KERNEL_BZIMAGE;
	struct gmem gm;

	printf("# %llu MiB\n", (unsigned long long)(mem >> 20));
	telf_build(&t);
	memset(initrd, 0x5a, sizeof(initrd));
	if (test_gmem_new(&gm, mem) != 0) {
		CHECK(0, "allocate test RAM");
		return;
	}
	memset(gpa(&gm, TELF_DATA, 2 * TELF_DATA_MEM), 0xaa, 2 * TELF_DATA_MEM);
	CHECK(x86_kernel_probe(t.bytes, sizeof(t.bytes), &kind) == 0 && kind == X86_KERNEL_ELF64,
	      "probe says ELF64");
	CHECK_EQ(x86_boot_setup(&gm, &cfg, &bi), 0, "x86_boot_setup");
	check_loaded(&gm, &t, &bi);
	check_zero_page(&gm, &bi);
	CHECK(memcmp(gpa(&gm, bi.initrd_addr, INITRD_LEN), initrd, INITRD_LEN) == 0, "initrd content");
	check_e820(&gm, &bi);
	check_pagetables(&gm, &bi);
	check_gdt(&gm, &bi);
	test_gmem_free(&gm);
}

static int setup_elf(const struct telf *t, size_t len, const char *cmdline, unsigned ncpus)
{
	struct x86_boot_config cfg = { .kernel = t->bytes, .kernel_len = len,
				       .cmdline = cmdline, .ncpus = ncpus };
	struct x86_boot_info bi;
	struct gmem gm;
	int rc;

	if (test_gmem_new(&gm, 256 * MiB) != 0)
		return -ENOMEM;
	rc = x86_boot_setup(&gm, &cfg, &bi);
	test_gmem_free(&gm);
	return rc;
}

/* One malformation each: build a good ELF, break it, expect rc. */
static void expect(int rc, const char *what, void (*breakit)(struct telf *))
{
	struct telf t;

	telf_build(&t);
	breakit(&t);
	CHECK_EQ(setup_elf(&t, sizeof(t.bytes), "", 1), (uint64_t)(int64_t)rc, what);
}

static void b_phoff(struct telf *t) { telf_ehdr(t)->e_phoff = TELF_LEN - 8; }
static void b_phoff_huge(struct telf *t) { telf_ehdr(t)->e_phoff = UINT64_MAX - 16; }
static void b_phnum(struct telf *t) { telf_ehdr(t)->e_phnum = 0xffff; }
static void b_phentsize(struct telf *t) { telf_ehdr(t)->e_phentsize = 32; }
static void b_filesz(struct telf *t) { telf_phdr(t, 1)->p_filesz = TELF_DATA_MEM + 1; }
static void b_offset(struct telf *t) { telf_phdr(t, 0)->p_offset = TELF_LEN - 0x10; }
static void b_offset_wrap(struct telf *t) { telf_phdr(t, 0)->p_offset = UINT64_MAX - 0x10; }
static void b_machine(struct telf *t) { telf_ehdr(t)->e_machine = EM_386; }
static void b_class(struct telf *t) { telf_ehdr(t)->e_ident[EI_CLASS] = ELFCLASS32; }
static void b_endian(struct telf *t) { telf_ehdr(t)->e_ident[EI_DATA] = ELFDATA2MSB; }
static void b_type(struct telf *t) { telf_ehdr(t)->e_type = ET_DYN; }
static void b_magic(struct telf *t) { t->bytes[1] = 'e'; }
static void b_entry(struct telf *t) { telf_ehdr(t)->e_entry = 0x100000; }
static void b_noload(struct telf *t) { telf_phdr(t, 0)->p_type = PT_NULL; telf_phdr(t, 1)->p_type = PT_NULL; }
static void b_outside(struct telf *t) { telf_phdr(t, 1)->p_paddr = 256 * MiB - 0x1000; }
static void b_above4g(struct telf *t) { telf_phdr(t, 1)->p_paddr = 5 * GiB; }
static void b_low(struct telf *t) { telf_phdr(t, 1)->p_paddr = X86_ZERO_PAGE_ADDR; }
static void b_below1m(struct telf *t) { telf_phdr(t, 1)->p_paddr = X86_HIMEM_START - 0x1000; }
static void b_wrap(struct telf *t) { telf_phdr(t, 1)->p_paddr = UINT64_MAX - 0xfff; }
static void b_memsz(struct telf *t) { telf_phdr(t, 1)->p_memsz = UINT64_MAX; }
static void b_none(struct telf *t) { (void)t; }

static void test_malformed(void)
{
	struct telf t;
	char *cl;

	expect(0, "unmodified ELF sets up", b_none);
	expect(-ENOEXEC, "e_phoff past the end of the file", b_phoff);
	expect(-ENOEXEC, "e_phoff near UINT64_MAX", b_phoff_huge);
	expect(-ENOEXEC, "e_phnum 65535", b_phnum);
	expect(-ENOEXEC, "e_phentsize wrong", b_phentsize);
	expect(-ENOEXEC, "p_filesz > p_memsz", b_filesz);
	expect(-ENOEXEC, "segment file range past the end", b_offset);
	expect(-ENOEXEC, "p_offset + p_filesz wraps", b_offset_wrap);
	expect(-ENOEXEC, "wrong machine (EM_386)", b_machine);
	expect(-ENOEXEC, "ELFCLASS32", b_class);
	expect(-ENOEXEC, "big-endian", b_endian);
	expect(-ENOEXEC, "ET_DYN", b_type);
	expect(-ENOEXEC, "bad magic", b_magic);
	expect(-ENOEXEC, "entry outside every segment", b_entry);
	expect(-ENOEXEC, "no PT_LOAD", b_noload);
	expect(-E2BIG, "segment running past the end of RAM", b_outside);
	expect(-E2BIG, "segment above 4 GiB (not RAM here)", b_above4g);
	expect(-E2BIG, "segment on the zero page", b_low);
	expect(-E2BIG, "segment straddling 1 MiB", b_below1m);
	expect(-E2BIG, "p_paddr + p_memsz wraps", b_wrap);
	expect(-E2BIG, "p_memsz UINT64_MAX", b_memsz);
	telf_build(&t);
	CHECK_EQ(setup_elf(&t, sizeof(Elf64_Ehdr) - 1, "", 1), (uint64_t)-ENOEXEC, "truncated header");
	CHECK_EQ(setup_elf(&t, TELF_DATA_OFF, "", 1), (uint64_t)-ENOEXEC, "truncated data segment");
	CHECK_EQ(setup_elf(&t, 0, "", 1), (uint64_t)-ENOEXEC, "empty file");
	CHECK_EQ(setup_elf(&t, sizeof(t.bytes), "", 0), (uint64_t)-EINVAL, "0 vCPUs");
	CHECK_EQ(setup_elf(&t, sizeof(t.bytes), "", X86_MAX_CPUS + 1), (uint64_t)-EINVAL, "65 vCPUs");
	cl = malloc(X86_CMDLINE_MAX + 1);
	memset(cl, 'a', X86_CMDLINE_MAX);
	cl[X86_CMDLINE_MAX] = 0;
	CHECK_EQ(setup_elf(&t, sizeof(t.bytes), cl, 1), (uint64_t)-E2BIG, "64 KiB command line");
	cl[X86_CMDLINE_MAX - 1] = 0;
	CHECK_EQ(setup_elf(&t, sizeof(t.bytes), cl, 1), 0, "64 KiB - 1 command line fits");
	free(cl);
}

int main(void)
{
	log_set_level(LOG_ERR);
	test_good(256 * MiB);
	test_good(5 * GiB);
	test_malformed();
	return check_done();
}
