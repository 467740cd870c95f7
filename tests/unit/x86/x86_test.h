/*
 * Shared helpers for the arch/x86 unit tests: guest RAM without a VM, a
 * synthetic ELF64 kernel, and checks of what every boot must contain
 * (identity page tables, GDT, e820 map). The checks read guest memory at
 * raw offsets taken from the specs, not through the implementation's
 * structs, so that a layout mistake shows.
 */
#ifndef VMM_TESTS_X86_TEST_H
#define VMM_TESTS_X86_TEST_H

#include <elf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "boot.h"
#include "check.h"
#include "gmem.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define EBDA_HOLE (X86_HIMEM_START - X86_EBDA_START)	/* 640K..1M, reserved */

static inline uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

/* Guest-physical pointer; aborts the test program on a bad address. */
static inline uint8_t *gpa(const struct gmem *gm, uint64_t addr, uint64_t len)
{
	uint8_t *p = gmem_ptr(gm, addr, len);

	if (!p) {
		printf("Bail out! gpa 0x%llx+0x%llx is not guest RAM\n",
		       (unsigned long long)addr, (unsigned long long)len);
		exit(1);
	}
	return p;
}

/*
 * Guest RAM of size bytes laid out like a VM's, each range an anonymous
 * MAP_NORESERVE mapping: pages cost nothing until touched, so a 5 GiB
 * guest fits anywhere. (Not calloc: under meson's MALLOC_PERTURB_ every
 * allocation would be written in full.)
 */
static inline int test_gmem_new(struct gmem *gm, uint64_t size)
{
	gmem_layout_x86(gm, size);
	for (unsigned i = 0; i < gm->nranges; i++) {
		void *p = mmap(NULL, gm->r[i].size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		if (p == MAP_FAILED)
			return -1;
		gm->r[i].hva = p;
	}
	return 0;
}

static inline void test_gmem_free(struct gmem *gm)
{
	for (unsigned i = 0; i < gm->nranges; i++)
		munmap(gm->r[i].hva, gm->r[i].size);
}

/* Synthetic ELF64: text at 2 MiB, data + bss at 3 MiB, entry in text. */
#define TELF_TEXT	0x200000ULL
#define TELF_TEXT_SZ	0x100ULL
#define TELF_DATA	0x300000ULL
#define TELF_DATA_SZ	0x80ULL
#define TELF_DATA_MEM	0x2000ULL
#define TELF_ENTRY	(TELF_TEXT + 0x10)
#define TELF_PHOFF	sizeof(Elf64_Ehdr)
#define TELF_TEXT_OFF	0x1000ULL
#define TELF_DATA_OFF	0x1100ULL
#define TELF_LEN	0x1180ULL

struct telf {
	uint8_t bytes[TELF_LEN];
};

static inline Elf64_Ehdr *telf_ehdr(struct telf *t) { return (Elf64_Ehdr *)t->bytes; }
static inline Elf64_Phdr *telf_phdr(struct telf *t, unsigned i)
{
	return (Elf64_Phdr *)(t->bytes + TELF_PHOFF) + i;
}

static inline void telf_seg(Elf64_Phdr *ph, uint64_t off, uint64_t paddr,
			    uint64_t filesz, uint64_t memsz, uint32_t flags)
{
	ph->p_type = PT_LOAD;
	ph->p_flags = flags;
	ph->p_offset = off;
	ph->p_vaddr = paddr;
	ph->p_paddr = paddr;
	ph->p_filesz = filesz;
	ph->p_memsz = memsz;
	ph->p_align = 0x1000;
}

static inline void telf_build(struct telf *t)
{
	Elf64_Ehdr *eh = telf_ehdr(t);

	memset(t, 0, sizeof(*t));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = TELF_ENTRY;
	eh->e_phoff = TELF_PHOFF;
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = 3;
	telf_seg(telf_phdr(t, 0), TELF_TEXT_OFF, TELF_TEXT, TELF_TEXT_SZ, TELF_TEXT_SZ, PF_R | PF_X);
	telf_seg(telf_phdr(t, 1), TELF_DATA_OFF, TELF_DATA, TELF_DATA_SZ, TELF_DATA_MEM, PF_R | PF_W);
	telf_phdr(t, 2)->p_type = PT_NOTE;	/* ignored: not PT_LOAD */
	for (unsigned i = 0; i < TELF_TEXT_SZ + TELF_DATA_SZ; i++)
		t->bytes[TELF_TEXT_OFF + i] = (uint8_t)(i * 7 + 1);
}

/* The identity map: every 2 MiB page of [0, 4 GiB) present, writable, PS. */
static inline void check_pagetables(const struct gmem *gm, const struct x86_boot_info *bi)
{
	const uint8_t *pml4 = gpa(gm, bi->cr3, 4096);
	uint64_t pdpt = rd64(pml4) & ~0xfffULL;
	unsigned bad = 0;

	CHECK_EQ(bi->cr3, X86_PML4_ADDR, "cr3 is the fixed PML4");
	CHECK_EQ(rd64(pml4) & 3, 3, "PML4[0] present+writable");
	CHECK_EQ(rd64(pml4 + 8), 0, "PML4[1] empty");
	for (uint64_t va = 0; va < 4 * GiB; va += 2 * MiB) {
		uint64_t pdpte = rd64(gpa(gm, pdpt + (va >> 30) * 8, 8));
		uint64_t pde = rd64(gpa(gm, (pdpte & ~0xfffULL) + ((va >> 21) & 511) * 8, 8));

		if (!(pdpte & 1) || (pde & ~0xfffULL) != va || (pde & 0x83) != 0x83)
			bad++;
	}
	CHECK(bad == 0, "2048 PDEs map [0, 4 GiB) identity (%u wrong)", bad);
	CHECK(pdpt + 4096 <= X86_CMDLINE_ADDR && pdpt >= X86_PML4_ADDR + 4096,
	      "PDPT right after the PML4, below the command line");
}

static inline void check_gdt(const struct gmem *gm, const struct x86_boot_info *bi)
{
	const uint8_t *g = gpa(gm, bi->gdt, 32);
	uint64_t cs = rd64(g + 0x10), ds = rd64(g + 0x18);

	CHECK_EQ(bi->gdt, X86_GDT_ADDR, "GDT at the fixed address");
	CHECK_EQ(bi->gdt_limit, 31, "GDT limit: 4 descriptors");
	CHECK_EQ(rd64(g), 0, "GDT[0] null");
	CHECK(((cs >> 40) & 0xff) == 0x9b && ((cs >> 53) & 1) && !((cs >> 54) & 1) &&
	      ((cs >> 55) & 1) && (cs & 0xffff) == 0xffff && ((cs >> 48) & 0xf) == 0xf,
	      "GDT[0x10]: present DPL0 code, L=1 D=0 G=1, limit 0xfffff (0x%llx)",
	      (unsigned long long)cs);
	CHECK(((ds >> 40) & 0xff) == 0x93 && ((ds >> 54) & 1) && ((ds >> 55) & 1) &&
	      !((ds >> 53) & 1), "GDT[0x18]: present DPL0 data, D/B=1 G=1 (0x%llx)",
	      (unsigned long long)ds);
}

/* e820 in the zero page (count at 0x1e8, table at 0x2d0): exact entries. */
static inline void check_e820(const struct gmem *gm, const struct x86_boot_info *bi)
{
	const uint8_t *zp = gpa(gm, bi->zero_page, 4096);
	uint64_t low = gm->r[0].size, usable = 0;
	const uint64_t want[][3] = {
		{ 0, X86_EBDA_START, 1 },
		{ X86_EBDA_START, EBDA_HOLE, 2 },
		{ X86_HIMEM_START, low - X86_HIMEM_START, 1 },
		{ X86_HIGH_RAM_START, gm->nranges > 1 ? gm->r[1].size : 0, 1 },
	};
	unsigned n = zp[0x1e8];

	CHECK_EQ(n, gm->nranges > 1 ? 4 : 3, "e820 entry count");
	for (unsigned i = 0; i < n && i < 4; i++) {
		const uint8_t *e = zp + 0x2d0 + 20 * i;

		CHECK(rd64(e) == want[i][0] && rd64(e + 8) == want[i][1] && rd32(e + 16) == want[i][2],
		      "e820[%u] = 0x%llx+0x%llx type %u", i, (unsigned long long)rd64(e),
		      (unsigned long long)rd64(e + 8), rd32(e + 16));
		if (rd32(e + 16) == 1)
			usable += rd64(e + 8);
	}
	CHECK_EQ(usable, gm->total - EBDA_HOLE, "usable RAM = total - the 640K..1M hole");
}

#endif
