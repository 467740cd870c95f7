/*
 * Kernel images: recognising them, and loading a bzImage's protected-mode
 * part for the 64-bit Linux boot protocol (Documentation/arch/x86/boot.rst).
 *
 * Placement rule: the 64-bit entry of the decompressor works out where to
 * decompress from its own address, but never below LOAD_PHYSICAL_ADDR,
 * which the header reports as pref_address (2.10+). Loading at
 * pref_address (aligned up to kernel_alignment for a relocatable kernel)
 * is therefore the lowest address that needs no more RAM than
 * [pref_address, pref_address + init_size), and a non-relocatable kernel
 * must be there anyway. That whole range must be RAM below the 32-bit
 * hole; nothing else the monitor places goes in it.
 */
#include "x86_priv.h"

#include <elf.h>
#include <errno.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define BZ_HDR_OFFSET	0x1f1
#define BZ_JUMP_OFFSET	0x201		/* second byte of the jump: header length */
#define BZ_MAGIC	0x53726448	/* "HdrS" */
#define BZ_BOOT_FLAG	0xaa55
#define BZ_MIN_VERSION	0x020c		/* xloadflags appeared in 2.12 */
#define BZ_ENTRY64	0x200		/* 64-bit entry: load address + 0x200 */
#define BZ_HEAP_END	0xfe00		/* heap_end_ptr, as for a 2.02+ kernel */
#define BZ_LOADER_ID	0xff		/* type_of_loader: no assigned id */

/* Bytes of the setup header the file provides, from 0x1f1. */
static size_t bz_header_len(const uint8_t *img)
{
	size_t end = 0x202 + (size_t)img[BZ_JUMP_OFFSET];

	return end - BZ_HDR_OFFSET;
}

/*
 * Validate the setup header of a would-be bzImage and copy it into *h:
 * exactly the bytes the file provides (0x202 + byte at 0x201, capped at the
 * header we know), zero past them. 0 or -ENOEXEC.
 */
static int bz_read_header(const uint8_t *img, size_t len, struct setup_header *h,
			  size_t *hlen)
{
	size_t n;

	if (len < BZ_HDR_OFFSET + sizeof(*h))
		return -ENOEXEC;
	n = bz_header_len(img);
	/* The header must at least reach init_size (2.10+), which we use. */
	if (n < offsetof(struct setup_header, handover_offset))
		return -ENOEXEC;
	if (n > sizeof(*h))
		n = sizeof(*h);
	memset(h, 0, sizeof(*h));
	memcpy(h, img + BZ_HDR_OFFSET, n);
	if (h->boot_flag != BZ_BOOT_FLAG || h->header != BZ_MAGIC ||
	    h->version < BZ_MIN_VERSION || !(h->xloadflags & XLF_KERNEL_64) ||
	    !(h->loadflags & LOADED_HIGH))
		return -ENOEXEC;
	*hlen = n;
	return 0;
}

/* Offset of the protected-mode part: after the boot sector and setup. */
static size_t bz_pm_offset(const struct setup_header *h)
{
	unsigned sects = h->setup_sects ? h->setup_sects : 4;

	return ((size_t)sects + 1) * 512;
}

static int elf_probe(const uint8_t *img, size_t len)
{
	const Elf64_Ehdr *eh = (const void *)img;

	if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return -ENOEXEC;
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh->e_ident[EI_VERSION] != EV_CURRENT ||
	    eh->e_machine != EM_X86_64 || eh->e_type != ET_EXEC)
		return -ENOEXEC;
	return 0;
}

int x86_kernel_probe(const uint8_t *img, size_t len, enum x86_kernel_kind *kind)
{
	struct setup_header h;
	size_t hlen;

	if (!img)
		return -ENOEXEC;
	if (bz_read_header(img, len, &h, &hlen) == 0 &&
	    bz_pm_offset(&h) < len) {
		*kind = X86_KERNEL_BZIMAGE;
		return 0;
	}
	if (elf_probe(img, len) == 0) {
		*kind = X86_KERNEL_ELF64;
		return 0;
	}
	return -ENOEXEC;
}

int x86_fits_high(const struct x86_setup *s, uint64_t addr, uint64_t len)
{
	return addr >= X86_HIMEM_START && len <= s->low_end &&
	       addr <= s->low_end - len;
}

/* Where the protected-mode part goes (see the rule at the top). */
static int bz_load_addr(const struct setup_header *h, uint64_t *addr)
{
	uint64_t pref = h->pref_address, align = h->kernel_alignment;

	if (!h->relocatable_kernel) {
		if (pref < X86_HIMEM_START)
			return -ENOEXEC;
		*addr = pref;
		return 0;
	}
	if (align == 0 || (align & (align - 1)) || align > (1ULL << 30))
		return -ENOEXEC;
	if (pref < X86_HIMEM_START)
		pref = X86_HIMEM_START;
	*addr = ALIGN_UP(pref, align);
	return 0;
}

/* The header fields a boot loader writes (boot.rst "loader" fields). */
static void bz_fill_header(struct setup_header *h, uint64_t load)
{
	h->type_of_loader = BZ_LOADER_ID;
	h->loadflags |= CAN_USE_HEAP;
	h->heap_end_ptr = BZ_HEAP_END;
	h->vid_mode = 0xffff;		/* "normal" */
	h->code32_start = (uint32_t)load;
	h->setup_data = 0;
	h->hardware_subarch = X86_SUBARCH_PC;
}

int x86_bzimage_load(struct x86_setup *s)
{
	const uint8_t *img = s->cfg->kernel;
	struct setup_header *h = &s->bp->hdr;
	size_t hlen, off;
	uint64_t load, need;

	if (bz_read_header(img, s->cfg->kernel_len, h, &hlen) != 0 ||
	    (off = bz_pm_offset(h)) >= s->cfg->kernel_len ||
	    bz_load_addr(h, &load) != 0) {
		log_err("kernel: bad bzImage setup header");
		return -ENOEXEC;
	}
	/* the 64-bit entry (load + 0x200) must be one of the bytes loaded */
	if (s->cfg->kernel_len - off <= BZ_ENTRY64) {
		log_err("kernel: bzImage's protected-mode part is %zu bytes, too short for its "
			"64-bit entry at +0x%x", s->cfg->kernel_len - off, BZ_ENTRY64);
		return -ENOEXEC;
	}
	need = s->cfg->kernel_len - off;
	if (h->init_size > need)
		need = h->init_size;
	if (!x86_fits_high(s, load, need)) {
		log_err("kernel: needs RAM [0x%llx, 0x%llx) (init_size), RAM below the hole ends at 0x%llx",
			(unsigned long long)load, (unsigned long long)(load + need),
			(unsigned long long)s->low_end);
		return -E2BIG;
	}
	if (gmem_write(s->gm, load, img + off, s->cfg->kernel_len - off) != 0)
		return -EFAULT;
	bz_fill_header(h, load);
	s->bi->entry = load + BZ_ENTRY64;
	s->bi->kernel_addr = load;
	s->bi->kernel_size = s->cfg->kernel_len - off;
	s->bi->boot_protocol = h->version;
	s->kernel_end = load + need;
	s->initrd_max = h->initrd_addr_max;
	s->cmdline_max = h->cmdline_size;
	return 0;
}
