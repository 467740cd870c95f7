/*
 * Guest physical memory as the host sees it: a short list of RAM ranges,
 * each backed by one mapping of the guest's memfd. Every access a device or
 * loader makes to guest memory goes through gmem_ptr(), which bounds-checks
 * the whole range, so nothing outside guest RAM is ever touched.
 */
#ifndef VMM_COMMON_GMEM_H
#define VMM_COMMON_GMEM_H

#include <stddef.h>
#include <stdint.h>

#define GMEM_MAX_RANGES 4

struct gmem_range {
	uint64_t gpa;		/* guest physical start */
	uint64_t size;		/* bytes */
	uint64_t fd_offset;	/* offset of this range inside the memfd */
	uint8_t *hva;		/* host mapping of [gpa, gpa + size) */
};

struct gmem {
	int fd;			/* the sealed memfd, -1 if none (tests) */
	uint64_t total;		/* sum of range sizes == memfd size */
	unsigned nranges;
	struct gmem_range r[GMEM_MAX_RANGES];
};

/*
 * Return a host pointer to guest physical [gpa, gpa + len) if the whole
 * range lies inside one RAM range, else NULL. len 0 is refused (NULL).
 * Overflow of gpa + len is refused. The pointer stays valid while gm lives.
 */
void *gmem_ptr(const struct gmem *gm, uint64_t gpa, uint64_t len);

/*
 * Copy len bytes between guest physical memory and buf. Returns 0, or
 * -EFAULT if any byte of the range is not guest RAM (nothing is copied).
 */
int gmem_read(const struct gmem *gm, uint64_t gpa, void *buf, size_t len)
	__attribute__((warn_unused_result));
int gmem_write(const struct gmem *gm, uint64_t gpa, const void *buf, size_t len)
	__attribute__((warn_unused_result));

/*
 * Describe the x86 guest RAM layout for mem_size bytes: RAM below the
 * 32-bit MMIO hole (X86_MMIO_HOLE_START) and the rest from 4 GiB up.
 * Fills gm->r[].gpa/size/fd_offset and gm->total; hva and fd are left for
 * the caller to map (gmem_map) or point at a test buffer.
 */
void gmem_layout_x86(struct gmem *gm, uint64_t mem_size);

/*
 * Map every range of gm from fd (MAP_SHARED, read/write). Returns 0 or a
 * negative errno; on error nothing stays mapped. gmem_unmap undoes it.
 */
int gmem_map(struct gmem *gm, int fd) __attribute__((warn_unused_result));
void gmem_unmap(struct gmem *gm);

/* Start of the 32-bit MMIO hole (PCI BARs, IOAPIC, LAPIC) on x86. */
#define X86_MMIO_HOLE_START 0xC0000000ULL
#define X86_HIGH_RAM_START  0x100000000ULL

#endif
