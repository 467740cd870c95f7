/*
 * virtio_intx: the INTx fallback, as Linux's virtio_pci uses it when MSI-X
 * is unavailable: MSI-X left disabled, every vector NO_VECTOR, the
 * function's interrupt pin INTA on the GSI its interrupt line register
 * names (the one the DSDT _PRT and the MP table give for the slot), routed
 * in the IOAPIC level-triggered, active-low. One virtio-rng request must
 * raise that vector in the LAPIC IRR, and reading ISR must say "queue" once
 * (it clears on read). No command line keys.
 */
#include "virtio.h"

#define IOAPIC_LEVEL     (1u << 15)
#define IOAPIC_ACTIVELOW (1u << 13)

static struct vio_dev dev;

static void intx_route(unsigned gsi, uint8_t vector)
{
	ioapic_write((uint8_t)(0x11 + 2 * gsi), (uint32_t)lapic_id() << 24);
	ioapic_write((uint8_t)(0x10 + 2 * gsi), vector | IOAPIC_LEVEL | IOAPIC_ACTIVELOW);
}

int main(const void *zero_page);
int main(const void *zero_page)
{
	struct vio_buf b;
	uint32_t len = 0;
	uint8_t vec, pin, line, isr;

	bp_init(zero_page);
	t_begin("virtio_intx");
	if (!t_expect(vio_find(VIRTIO_ID_RNG, &dev, 1) == 1, "virtio-rng function found"))
		vio_end("virtio_intx");
	pin = pci_cfg_read8(dev.bus, dev.dev, dev.fn, 0x3d);
	line = pci_cfg_read8(dev.bus, dev.dev, dev.fn, 0x3c);
	t_expect(pin == 1, "interrupt pin INTA (%u)", pin);
	t_expect(line >= 16 && line < 24, "interrupt line names IOAPIC GSI %u (16..23)", line);
	dev.msix_cap = 0;	/* drive it as if MSI-X were not there */
	if (!vio_init(&dev, 0, 1, 0))
		vio_end("virtio_intx");
	vec = vio_vector_alloc();
	intx_route(line, vec);
	t_expect(!lapic_irr(vec), "vector 0x%x not pending before the request", vec);
	b = (struct vio_buf){ .addr = vio_dma_alloc(64, 64), .len = 64, .write = true };
	if (vio_add(&dev.q[0], &b, 1, false) >= 0)
		vio_kick(&dev.q[0]);
	t_expect(vio_wait_used(&dev.q[0], &len, 2000000) >= 0 && len > 0,
		 "the request completed (%u bytes)", len);
	t_expect(vio_irq_wait(vec, 10), "INTx: vector 0x%x in the LAPIC IRR", vec);
	isr = mmio_read8(dev.isr);
	t_expect(isr & 1, "ISR says queue interrupt (0x%x)", isr);
	isr = mmio_read8(dev.isr);
	t_expect(isr == 0, "ISR cleared by the read (0x%x)", isr);
	ioapic_mask(line);
	vio_end("virtio_intx");
}
