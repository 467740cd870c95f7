#include "virtio_guest.h"

#include <string.h>

#include "virtio_pci.h"

static void put16(uint8_t *mem, uint64_t gpa, uint16_t v)
{
	__atomic_store_n((uint16_t *)(mem + gpa), v, __ATOMIC_RELEASE);
}

static uint16_t get16(const uint8_t *mem, uint64_t gpa)
{
	return __atomic_load_n((const uint16_t *)(mem + gpa), __ATOMIC_ACQUIRE);
}

uint64_t gvq_init(struct gvq *g, uint8_t *mem, uint64_t base, uint16_t size)
{
	memset(g, 0, sizeof(*g));
	g->mem = mem;
	g->size = size;
	g->desc = base;
	g->avail = base + VQ_DESC_BYTES(size);
	g->used = (g->avail + VQ_AVAIL_BYTES(size) + 3) & ~3ull;
	memset(mem + base, 0, g->used + VQ_USED_BYTES(size) - base);
	return (g->used + VQ_USED_BYTES(size) + 15) & ~15ull;
}

void gvq_set_start(struct gvq *g, uint16_t idx)
{
	g->avail_idx = g->used_seen = idx;
	put16(g->mem, g->avail + 2, idx);
	put16(g->mem, g->used + 2, idx);
}

void gvq_set_table_desc(struct gvq *g, uint64_t table, uint16_t i, uint64_t addr,
			uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = g->mem + table + 16ull * i;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

void gvq_set_desc(struct gvq *g, uint16_t i, uint64_t addr, uint32_t len,
		  uint16_t flags, uint16_t next)
{
	gvq_set_table_desc(g, g->desc, i, addr, len, flags, next);
}

void gvq_set_avail_idx(struct gvq *g, uint16_t idx)
{
	put16(g->mem, g->avail + 2, idx);
}

void gvq_publish(struct gvq *g, uint16_t head)
{
	put16(g->mem, g->avail + 4 + 2u * (g->avail_idx % g->size), head);
	g->avail_idx++;
	gvq_set_avail_idx(g, g->avail_idx);
}

static uint16_t gvq_flags(const struct gbuf *b, bool more)
{
	return (uint16_t)((b->writable ? VQ_DESC_F_WRITE : 0) | (more ? VQ_DESC_F_NEXT : 0));
}

uint16_t gvq_add(struct gvq *g, const struct gbuf *bufs, unsigned n)
{
	uint16_t head = g->next_desc % g->size;

	for (unsigned i = 0; i < n; i++) {
		uint16_t d = (uint16_t)((head + i) % g->size);

		gvq_set_desc(g, d, bufs[i].gpa, bufs[i].len, gvq_flags(&bufs[i], i + 1 < n),
			     (uint16_t)((d + 1) % g->size));
	}
	g->next_desc = (uint16_t)((head + n) % g->size);
	gvq_publish(g, head);
	return head;
}

uint16_t gvq_add_indirect(struct gvq *g, uint64_t table, const struct gbuf *bufs, unsigned n)
{
	uint16_t head = g->next_desc % g->size;

	for (unsigned i = 0; i < n; i++)
		gvq_set_table_desc(g, table, (uint16_t)i, bufs[i].gpa, bufs[i].len,
				   gvq_flags(&bufs[i], i + 1 < n), (uint16_t)(i + 1));
	gvq_set_desc(g, head, table, 16 * n, VQ_DESC_F_INDIRECT, 0);
	g->next_desc = (uint16_t)((head + 1) % g->size);
	gvq_publish(g, head);
	return head;
}

uint16_t gvq_used_idx(const struct gvq *g)
{
	return get16(g->mem, g->used + 2);
}

bool gvq_get_used(struct gvq *g, uint32_t *id, uint32_t *len)
{
	const uint8_t *e;

	if (gvq_used_idx(g) == g->used_seen)
		return false;
	e = g->mem + g->used + 4 + 8u * (g->used_seen % g->size);
	memcpy(id, e, 4);
	memcpy(len, e + 4, 4);
	g->used_seen++;
	gvq_set_used_event(g, g->used_seen);	/* as Linux: interrupt on the next one */
	return true;
}

void gvq_set_used_event(struct gvq *g, uint16_t v)
{
	put16(g->mem, g->avail + VQ_AVAIL_BYTES(g->size) - 2, v);
}

uint16_t gvq_avail_event(const struct gvq *g)
{
	return get16(g->mem, g->used + VQ_USED_BYTES(g->size) - 2);
}

void gvq_set_avail_flags(struct gvq *g, uint16_t flags)
{
	put16(g->mem, g->avail, flags);
}

uint64_t vcfg_read(struct device *dev, unsigned off, unsigned len)
{
	return dev_in(dev, VIRTIO_PCI_REGION_COMMON, off, len);
}

void vcfg_write(struct device *dev, unsigned off, unsigned len, uint64_t v)
{
	dev_out(dev, VIRTIO_PCI_REGION_COMMON, off, len, v);
}

uint8_t vdrv_add_status(struct device *dev, uint8_t bits)
{
	uint8_t s = (uint8_t)vcfg_read(dev, VIRTIO_PCI_COMMON_STATUS, 1);

	vcfg_write(dev, VIRTIO_PCI_COMMON_STATUS, 1, s | bits);
	return (uint8_t)vcfg_read(dev, VIRTIO_PCI_COMMON_STATUS, 1);
}

uint64_t vdrv_negotiate(struct device *dev, uint64_t want)
{
	uint64_t offered;

	vcfg_write(dev, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	while (vcfg_read(dev, VIRTIO_PCI_COMMON_STATUS, 1) != 0)
		;
	vdrv_add_status(dev, VIRTIO_STATUS_ACKNOWLEDGE);
	vdrv_add_status(dev, VIRTIO_STATUS_DRIVER);
	vcfg_write(dev, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
	offered = vcfg_read(dev, VIRTIO_PCI_COMMON_DF, 4);
	vcfg_write(dev, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
	offered |= vcfg_read(dev, VIRTIO_PCI_COMMON_DF, 4) << 32;
	want &= offered;
	vcfg_write(dev, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	vcfg_write(dev, VIRTIO_PCI_COMMON_GF, 4, (uint32_t)want);
	vcfg_write(dev, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	vcfg_write(dev, VIRTIO_PCI_COMMON_GF, 4, want >> 32);
	if (!(vdrv_add_status(dev, VIRTIO_STATUS_FEATURES_OK) & VIRTIO_STATUS_FEATURES_OK))
		return 0;
	return want;
}

static void vdrv_write64(struct device *dev, unsigned off, uint64_t v)
{
	vcfg_write(dev, off, 4, (uint32_t)v);
	vcfg_write(dev, off + 4, 4, v >> 32);
}

uint16_t vdrv_setup_queue(struct device *dev, unsigned q, struct gvq *g, uint16_t vector)
{
	uint16_t got;

	vcfg_write(dev, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
	if (vcfg_read(dev, VIRTIO_PCI_COMMON_Q_SIZE, 2) < g->size ||
	    vcfg_read(dev, VIRTIO_PCI_COMMON_Q_ENABLE, 2) != 0)
		return 0xdead;
	vcfg_write(dev, VIRTIO_PCI_COMMON_Q_SIZE, 2, g->size);
	vdrv_write64(dev, VIRTIO_PCI_COMMON_Q_DESCLO, g->desc);
	vdrv_write64(dev, VIRTIO_PCI_COMMON_Q_AVAILLO, g->avail);
	vdrv_write64(dev, VIRTIO_PCI_COMMON_Q_USEDLO, g->used);
	(void)vcfg_read(dev, VIRTIO_PCI_COMMON_Q_NOFF, 2);
	vcfg_write(dev, VIRTIO_PCI_COMMON_Q_MSIX, 2, vector);
	got = (uint16_t)vcfg_read(dev, VIRTIO_PCI_COMMON_Q_MSIX, 2);
	vcfg_write(dev, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	return got;
}
