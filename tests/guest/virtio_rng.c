/*
 * virtio_rng: the virtio-rng function driven as Linux's virtio-rng does:
 * one device-writable buffer on the request queue, one kick, wait for the
 * used entry. Twice: each time the device must return bytes (no more than
 * the buffer), not all zero, the two draws must differ, and the queue's
 * MSI-X vector must show in the LAPIC IRR (a fresh vector per draw).
 *
 * Command line keys (all optional):
 *   rng_bytes=N   bytes per draw (default 256, max 4096)
 *   qemu_exit     end through isa-debug-exit (QEMU)
 */
#include "virtio.h"

#define IRQ_WAIT_S 10	/* seconds an interrupt may take (vio_irq_wait) */

static struct vio_dev dev;

/* Fill [buf, buf+n) from the device; returns bytes received. */
static uint64_t draw(struct vio_queue *q, uint64_t buf, uint64_t n, unsigned k)
{
	uint8_t vec = vio_irq_rearm(q->vd, q);
	uint64_t got = 0;
	unsigned rounds = 0;

	while (got < n && rounds++ < 16) {
		struct vio_buf b = { .addr = buf + got, .len = (uint32_t)(n - got), .write = true };
		uint32_t len = 0;

		if (vio_add(q, &b, 1, false) < 0)
			break;
		vio_kick(q);
		if (vio_wait_used(q, &len, 2000000) < 0) {
			t_fail("draw %u: no used entry after %lu of %lu bytes", k, got, n);
			return got;
		}
		if (len > n - got) {
			t_fail("draw %u: device claims %u bytes written into %lu", k, len, n - got);
			return got;
		}
		got += len;
	}
	t_expect(got == n, "draw %u: %lu of %lu bytes in %u request(s)", k, got, n, rounds);
	t_expect(!vec || vio_irq_wait(vec, IRQ_WAIT_S),
		 "draw %u: interrupt (vector 0x%x) in the LAPIC IRR", k, vec);
	return got;
}

static bool all_zero(uint64_t buf, uint64_t n)
{
	return vio_scan64((const void *)(uintptr_t)buf, 0, n & ~7ull) == n / 8;
}

int main(const void *zero_page);
int main(const void *zero_page)
{
	uint64_t n = 256, a, b, ga, gb;

	bp_init(zero_page);
	t_begin("virtio_rng");
	cmdline_get_u64("rng_bytes", &n);
	if (n < 8 || n > 4096)
		n = 256;
	n &= ~7ull;
	if (!t_expect(vio_find(VIRTIO_ID_RNG, &dev, 1) == 1, "virtio-rng function found"))
		vio_end("virtio_rng");
	if (!vio_init(&dev, 1ull << VIO_F_EVENT_IDX, 1, 0))
		vio_end("virtio_rng");
	t_info("%s: features 0x%lx of 0x%lx, queue size %u, %s", vio_name(&dev), dev.features,
	       dev.dev_features, dev.q[0].size, dev.msix_cap ? "MSI-X" : "no MSI-X");
	a = vio_dma_alloc(n, 64);
	b = vio_dma_alloc(n, 64);
	vio_zero((void *)(uintptr_t)a, n);
	vio_zero((void *)(uintptr_t)b, n);
	ga = draw(&dev.q[0], a, n, 1);
	gb = draw(&dev.q[0], b, n, 2);
	t_expect(ga == n && !all_zero(a, n), "draw 1 is not all zero (first bytes %02x %02x %02x %02x)",
		 mem8(a), mem8(a + 1), mem8(a + 2), mem8(a + 3));
	t_expect(gb == n && !all_zero(b, n), "draw 2 is not all zero (first bytes %02x %02x %02x %02x)",
		 mem8(b), mem8(b + 1), mem8(b + 2), mem8(b + 3));
	t_expect(memcmp((void *)(uintptr_t)a, (void *)(uintptr_t)b, n) != 0,
		 "the two draws differ");
	vio_end("virtio_rng");
}
