/*
 * ELF64 kernels (a vmlinux, or the project's test guests): PT_LOAD segments
 * are copied to their physical addresses, bss zeroed, entered at e_entry
 * through the same 64-bit boot protocol as a bzImage. Every header field
 * is checked against the file length before it is used: a corrupt file is
 * -ENOEXEC, a segment outside RAM at or above 1 MiB is -E2BIG (below 1 MiB
 * live the monitor's own structures).
 */
#include "x86_priv.h"

#include <elf.h>
#include <errno.h>
#include <string.h>

#include "log.h"

#define ELF_MAX_PHDRS 128

/* The program header table, or NULL if it is not inside the file. */
static const Elf64_Phdr *elf_phdrs(const uint8_t *img, size_t len)
{
	const Elf64_Ehdr *eh = (const void *)img;
	uint64_t size = (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr);

	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 ||
	    eh->e_phnum > ELF_MAX_PHDRS || eh->e_phoff % 8 != 0 ||
	    eh->e_phoff > len || size > len - eh->e_phoff)
		return NULL;
	return (const void *)(img + eh->e_phoff);
}

/* Check one PT_LOAD against the file and guest RAM. 0 or -errno, logged. */
static int elf_check_seg(const struct x86_setup *s, const Elf64_Phdr *ph)
{
	size_t len = s->cfg->kernel_len;

	if (ph->p_filesz > ph->p_memsz || ph->p_offset > len ||
	    ph->p_filesz > len - ph->p_offset) {
		log_err("kernel: ELF segment at 0x%llx: file range outside the image or filesz > memsz",
			(unsigned long long)ph->p_paddr);
		return -ENOEXEC;
	}
	if (!x86_fits_high(s, ph->p_paddr, ph->p_memsz)) {
		log_err("kernel: ELF segment [0x%llx, +0x%llx) is not in RAM between 1 MiB and 0x%llx",
			(unsigned long long)ph->p_paddr, (unsigned long long)ph->p_memsz,
			(unsigned long long)s->low_end);
		return -E2BIG;
	}
	return 0;
}

/* Validate every PT_LOAD and find their span; the entry must be inside one. */
static int elf_scan(struct x86_setup *s, const Elf64_Phdr *ph, unsigned n,
		    uint64_t entry, uint64_t *lo, uint64_t *hi)
{
	int err, entry_ok = 0;

	*lo = UINT64_MAX;
	*hi = 0;
	for (unsigned i = 0; i < n; i++) {
		if (ph[i].p_type != PT_LOAD || ph[i].p_memsz == 0)
			continue;
		err = elf_check_seg(s, &ph[i]);
		if (err)
			return err;
		if (ph[i].p_paddr < *lo)
			*lo = ph[i].p_paddr;
		if (ph[i].p_paddr + ph[i].p_memsz > *hi)
			*hi = ph[i].p_paddr + ph[i].p_memsz;
		if (entry >= ph[i].p_paddr && entry - ph[i].p_paddr < ph[i].p_memsz)
			entry_ok = 1;
	}
	if (*hi == 0 || !entry_ok) {
		log_err("kernel: ELF has no loadable segment holding the entry point 0x%llx",
			(unsigned long long)entry);
		return -ENOEXEC;
	}
	return 0;
}

/* Copy the (already validated) segments; memsz past filesz is zeroed. */
static void elf_copy(struct x86_setup *s, const Elf64_Phdr *ph, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint8_t *dst;

		if (ph[i].p_type != PT_LOAD || ph[i].p_memsz == 0)
			continue;
		dst = gmem_ptr(s->gm, ph[i].p_paddr, ph[i].p_memsz);
		memcpy(dst, s->cfg->kernel + ph[i].p_offset, ph[i].p_filesz);
		memset(dst + ph[i].p_filesz, 0, ph[i].p_memsz - ph[i].p_filesz);
	}
}

/* An ELF kernel brings no setup header: give it the minimal one. */
static void elf_fill_header(struct x86_setup *s)
{
	struct setup_header *h = &s->bp->hdr;

	h->boot_flag = 0xaa55;
	h->header = 0x53726448;		/* "HdrS" */
	h->version = X86_ELF_BOOT_VERSION;
	h->type_of_loader = 0xff;
	h->loadflags = LOADED_HIGH | CAN_USE_HEAP;
	h->heap_end_ptr = 0xfe00;
	h->vid_mode = 0xffff;
	h->code32_start = (uint32_t)s->bi->kernel_addr;
	h->initrd_addr_max = (uint32_t)X86_ELF_INITRD_MAX;
	h->cmdline_size = (uint32_t)(X86_CMDLINE_MAX - 1);
	h->xloadflags = XLF_KERNEL_64;
}

int x86_elf_load(struct x86_setup *s)
{
	const Elf64_Ehdr *eh = (const void *)s->cfg->kernel;
	const Elf64_Phdr *ph = elf_phdrs(s->cfg->kernel, s->cfg->kernel_len);
	uint64_t lo, hi;
	int err;

	if (!ph) {
		log_err("kernel: ELF program header table is malformed or outside the file");
		return -ENOEXEC;
	}
	err = elf_scan(s, ph, eh->e_phnum, eh->e_entry, &lo, &hi);
	if (err)
		return err;
	elf_copy(s, ph, eh->e_phnum);
	s->bi->entry = eh->e_entry;
	s->bi->kernel_addr = lo;
	s->bi->kernel_size = hi - lo;
	s->bi->boot_protocol = 0;
	s->kernel_end = hi;
	s->initrd_max = X86_ELF_INITRD_MAX;
	s->cmdline_max = X86_CMDLINE_MAX - 1;
	elf_fill_header(s);
	return 0;
}
