#include "gmem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

void *gmem_ptr(const struct gmem *gm, uint64_t gpa, uint64_t len)
{
	if (len == 0 || gpa + len < gpa)
		return NULL;
	for (unsigned i = 0; i < gm->nranges; i++) {
		const struct gmem_range *r = &gm->r[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size &&
		    len <= r->size - (gpa - r->gpa))
			return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

int gmem_read(const struct gmem *gm, uint64_t gpa, void *buf, size_t len)
{
	void *p = gmem_ptr(gm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(buf, p, len);
	return 0;
}

int gmem_write(const struct gmem *gm, uint64_t gpa, const void *buf, size_t len)
{
	void *p = gmem_ptr(gm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, buf, len);
	return 0;
}

void gmem_layout_x86(struct gmem *gm, uint64_t mem_size)
{
	uint64_t low = mem_size < X86_MMIO_HOLE_START ? mem_size : X86_MMIO_HOLE_START;

	memset(gm, 0, sizeof(*gm));
	gm->fd = -1;
	gm->total = mem_size;
	gm->r[0] = (struct gmem_range){ .gpa = 0, .size = low, .fd_offset = 0 };
	gm->nranges = 1;
	if (mem_size > low) {
		gm->r[1] = (struct gmem_range){ .gpa = X86_HIGH_RAM_START,
						.size = mem_size - low,
						.fd_offset = low };
		gm->nranges = 2;
	}
}

void gmem_unmap(struct gmem *gm)
{
	for (unsigned i = 0; i < gm->nranges; i++) {
		if (gm->r[i].hva)
			munmap(gm->r[i].hva, gm->r[i].size);
		gm->r[i].hva = NULL;
	}
}

int gmem_map(struct gmem *gm, int fd)
{
	for (unsigned i = 0; i < gm->nranges; i++) {
		struct gmem_range *r = &gm->r[i];
		void *p = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED,
			       fd, (off_t)r->fd_offset);

		if (p == MAP_FAILED) {
			int err = -errno;

			gmem_unmap(gm);
			return err;
		}
		r->hva = p;
	}
	gm->fd = fd;
	return 0;
}
