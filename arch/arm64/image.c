/*
 * The arm64 Image and initrd in guest RAM (Documentation/arch/arm64/
 * booting.rst): the kernel at a 2 MiB-aligned base plus its text_offset,
 * the device tree in a 2 MiB block of its own (the kernel maps it with
 * block mappings), the initrd below that.
 */
#include "arm64.h"

#include <errno.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define SZ_2M (2ULL << 20)
#define OLD_TEXT_OFFSET 0x80000ULL	/* kernels without image_size (before 3.17) */

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int arm64_image_probe(const uint8_t *img, size_t len, struct arm64_image *out)
{
	if (len < ARM64_IMAGE_HDR_SIZE ||
	    (uint32_t)le64(img + 56) != ARM64_IMAGE_MAGIC)
		return -ENOEXEC;
	out->text_offset = le64(img + 8);
	out->image_size = le64(img + 16);
	out->flags = le64(img + 24);
	if (out->image_size == 0) {
		out->text_offset = OLD_TEXT_OFFSET;
		out->image_size = len;
	}
	if (out->flags & 1)
		return -ENOEXEC;	/* big-endian */
	if (out->image_size < len || out->text_offset >= SZ_2M || out->text_offset % 4096)
		return -ENOEXEC;
	return 0;
}

void arm64_mem_layout(struct gmem *gm, uint64_t mem_size)
{
	memset(gm->r, 0, sizeof(gm->r));
	gm->r[0] = (struct gmem_range){ .gpa = ARM64_RAM_START, .size = mem_size };
	gm->nranges = 1;
	gm->total = mem_size;
}

int arm64_boot_load(struct gmem *gm, const struct arm64_boot_config *cfg,
		    struct arm64_boot_info *out)
{
	struct arm64_image im;
	uint64_t ram = gm->r[0].gpa, end = gm->r[0].gpa + gm->r[0].size;

	memset(out, 0, sizeof(*out));
	if (gm->nranges != 1 || ram % SZ_2M) {
		log_err("arm64: guest RAM must be one range from a 2 MiB boundary");
		return -EINVAL;
	}
	if (arm64_image_probe(cfg->kernel, cfg->kernel_len, &im)) {
		log_err("--kernel: not a little-endian arm64 Image");
		return -ENOEXEC;
	}
	out->kernel_addr = ram + im.text_offset;
	out->kernel_end = out->kernel_addr + im.image_size;
	/* The device tree's 2 MiB block: the last whole one of RAM. */
	out->fdt_addr = ALIGN_DOWN(end, SZ_2M) - SZ_2M;
	if (out->fdt_addr < out->kernel_end || out->fdt_addr < ram) {
		log_err("--kernel: the kernel (%llu MiB with its bss) and the device tree "
			"do not fit in %llu MiB of RAM", (unsigned long long)(im.image_size >> 20),
			(unsigned long long)(gm->total >> 20));
		return -E2BIG;
	}
	if (gmem_write(gm, out->kernel_addr, cfg->kernel, cfg->kernel_len))
		return -E2BIG;
	if (cfg->initrd && cfg->initrd_len) {
		uint64_t start = ALIGN_DOWN(out->fdt_addr - cfg->initrd_len, 4096);

		if (cfg->initrd_len > out->fdt_addr - out->kernel_end ||
		    start < ALIGN_UP(out->kernel_end, 4096)) {
			log_err("--initrd: %llu MiB do not fit in RAM beside the kernel",
				(unsigned long long)(cfg->initrd_len >> 20));
			return -E2BIG;
		}
		if (gmem_write(gm, start, cfg->initrd, cfg->initrd_len))
			return -E2BIG;
		out->initrd_start = start;
		out->initrd_end = start + cfg->initrd_len;
	}
	return 0;
}
