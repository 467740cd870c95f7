/*
 * The virtio-pci (modern, virtio 1.x) transport shared by every virtio
 * device model, and the contract between those models and the monitor.
 *
 * == What the monitor sets up (its side: PCI config space, BARs, MSI-X) ==
 *
 * Each virtio device is one PCI function: vendor VIRTIO_PCI_VENDOR_ID,
 * device VIRTIO_PCI_DEVICE_ID(virtio id), revision VIRTIO_PCI_REVISION,
 * class code from struct virtio_pci_ident, no legacy interface.
 *
 * BAR0 is a 64-bit memory BAR of VIRTIO_PCI_BAR0_SIZE bytes holding the
 * virtio structures, served by the device as the four MMIO regions of its
 * spec, in this order (trap.region == index; the device only ever uses
 * t->region and t->offset, so the regions follow BAR0 wherever it moves):
 *
 *   region 0  common configuration   BAR0 + 0x0000, 0x1000 bytes
 *   region 1  ISR status             BAR0 + 0x1000, 0x1000 bytes (byte 0 used)
 *   region 2  device configuration   BAR0 + 0x2000, 0x1000 bytes
 *   region 3  notifications          BAR0 + 0x3000, 0x1000 bytes
 *
 * The vendor capabilities point at these: cfg_type COMMON/ISR/DEVICE/NOTIFY,
 * bar 0, the offsets and lengths above (length VIRTIO_PCI_REGION_SIZE), and
 * the notify capability's notify_off_multiplier VIRTIO_PCI_NOTIFY_MULTIPLIER.
 * queue_notify_off of queue q reads q, so q's doorbell is
 * VIRTIO_PCI_NOTIFY_ADDR(bar0, q). The monitor puts a KVM ioeventfd (any
 * length, no datamatch) on each of the ident's nqueues doorbells and the
 * device process turns an eventfd wake into ops->notify(dev, q). A doorbell
 * write that reaches trap() anyway is served as notify(q).
 *
 * BAR2 (VPCI_BAR_MSIX: BAR0 is 64-bit, so it takes two slots) holds the
 * MSI-X table and PBA, owned by the monitor; the table has nvectors
 * entries (ident: one for config changes + one per queue, which is what
 * Linux asks for first). Interrupt lines in spec.irqs:
 *
 *   irqs[0 .. n)   MSI-X vectors 0 .. n-1 (line index == vector number);
 *                  irq_set(v, 1) is an edge: "send vector v"
 *   irqs[n]        optionally the INTx line, level-triggered, named by the
 *                  param "intx=<n>", which must be the last line.
 *
 * The device cannot see the MSI-X enable bit (config space is the
 * monitor's), so it decides per interrupt: if the guest programmed a vector
 * for it (msix_config / queue_msix_vector != VIRTIO_MSI_NO_VECTOR, accepted
 * only when < n) it sends that vector; otherwise, if there is an INTx line,
 * it sets the ISR bit (0 queue, 1 config) and asserts the line, which a
 * guest read of ISR clears and deasserts. A vector the device cannot serve
 * reads back as VIRTIO_MSI_NO_VECTOR, as the spec requires. Linux leaves
 * every vector at NO_VECTOR when it runs on INTx, and sets them all when on
 * MSI-X, so this matches what it expects; the monitor must still ignore INTx
 * assertions while the function's MSI-X enable bit is set.
 *
 * Features offered by every device: VIRTIO_F_VERSION_1,
 * VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC, plus the class's
 * own. Not VIRTIO_F_ACCESS_PLATFORM (no IOMMU), not packed rings.
 *
 * Common configuration: fields are served at their natural width (64-bit
 * addresses also as two 32-bit halves, as Linux writes them); an access of
 * another width reads 0 and is dropped, logged once. Queue size: at most
 * VIRTIO_PCI_QUEUE_MAX, the driver may lower it to another power of two.
 * Bad guest input (a size that is not a power of two, a ring outside RAM or
 * misaligned at queue_enable, a malformed descriptor, DRIVER_OK without
 * FEATURES_OK) sets DEVICE_NEEDS_RESET (status 0x40), raises the config
 * interrupt, logs once and stops the device until the driver resets it by
 * writing 0 to device_status.
 */
#ifndef VMM_DEVICES_VIRTIO_PCI_H
#define VMM_DEVICES_VIRTIO_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "device.h"
#include "virtqueue.h"

/* --- PCI identity and BAR layout (the monitor builds config space from these) --- */
#define VIRTIO_PCI_VENDOR_ID		0x1af4
#define VIRTIO_PCI_DEVICE_ID(id)	(0x1040 + (id))
#define VIRTIO_PCI_SUBSYS_VENDOR_ID	0x1af4
#define VIRTIO_PCI_REVISION		1

#define VIRTIO_PCI_BAR0_SIZE		0x4000
#define VIRTIO_PCI_REGION_SIZE		0x1000
#define VIRTIO_PCI_NREGIONS		4
#define VIRTIO_PCI_REGION_COMMON	0
#define VIRTIO_PCI_REGION_ISR		1
#define VIRTIO_PCI_REGION_DEVICE	2
#define VIRTIO_PCI_REGION_NOTIFY	3
#define VIRTIO_PCI_COMMON_OFF		0x0000
#define VIRTIO_PCI_ISR_OFF		0x1000
#define VIRTIO_PCI_DEVICE_OFF		0x2000
#define VIRTIO_PCI_NOTIFY_OFF		0x3000
#define VIRTIO_PCI_NOTIFY_MULTIPLIER	4
#define VIRTIO_PCI_NOTIFY_ADDR(bar0, q) \
	((bar0) + VIRTIO_PCI_NOTIFY_OFF + (uint64_t)VIRTIO_PCI_NOTIFY_MULTIPLIER * (q))

/* virtio_pci_cap.cfg_type */
#define VIRTIO_PCI_CAP_COMMON_CFG	1
#define VIRTIO_PCI_CAP_NOTIFY_CFG	2
#define VIRTIO_PCI_CAP_ISR_CFG		3
#define VIRTIO_PCI_CAP_DEVICE_CFG	4
#define VIRTIO_PCI_CAP_PCI_CFG		5

#define VIRTIO_PCI_QUEUE_MAX		256
#define VIRTIO_MSI_NO_VECTOR		0xffff

/* Virtio device ids. */
#define VIRTIO_ID_NET			1
#define VIRTIO_ID_BLOCK			2
#define VIRTIO_ID_CONSOLE		3
#define VIRTIO_ID_RNG			4

/* --- virtio 1.x register values --- */
#define VIRTIO_STATUS_ACKNOWLEDGE	0x01
#define VIRTIO_STATUS_DRIVER		0x02
#define VIRTIO_STATUS_DRIVER_OK		0x04
#define VIRTIO_STATUS_FEATURES_OK	0x08
#define VIRTIO_STATUS_NEEDS_RESET	0x40
#define VIRTIO_STATUS_FAILED		0x80

#define VIRTIO_F_INDIRECT_DESC		28
#define VIRTIO_F_EVENT_IDX		29
#define VIRTIO_F_VERSION_1		32
#define VIRTIO_F_ACCESS_PLATFORM	33

#define VIRTIO_ISR_QUEUE		0x01
#define VIRTIO_ISR_CONFIG		0x02

/* struct virtio_pci_common_cfg offsets (region 0). */
enum {
	VIRTIO_PCI_COMMON_DFSELECT	= 0x00,	/* le32 */
	VIRTIO_PCI_COMMON_DF		= 0x04,	/* le32, RO */
	VIRTIO_PCI_COMMON_GFSELECT	= 0x08,	/* le32 */
	VIRTIO_PCI_COMMON_GF		= 0x0C,	/* le32 */
	VIRTIO_PCI_COMMON_MSIX		= 0x10,	/* le16 */
	VIRTIO_PCI_COMMON_NUMQ		= 0x12,	/* le16, RO */
	VIRTIO_PCI_COMMON_STATUS	= 0x14,	/* u8 */
	VIRTIO_PCI_COMMON_CFGGENERATION	= 0x15,	/* u8, RO */
	VIRTIO_PCI_COMMON_Q_SELECT	= 0x16,	/* le16 */
	VIRTIO_PCI_COMMON_Q_SIZE	= 0x18,	/* le16 */
	VIRTIO_PCI_COMMON_Q_MSIX	= 0x1A,	/* le16 */
	VIRTIO_PCI_COMMON_Q_ENABLE	= 0x1C,	/* le16 */
	VIRTIO_PCI_COMMON_Q_NOFF	= 0x1E,	/* le16, RO */
	VIRTIO_PCI_COMMON_Q_DESCLO	= 0x20,	/* le64 as two le32 */
	VIRTIO_PCI_COMMON_Q_DESCHI	= 0x24,
	VIRTIO_PCI_COMMON_Q_AVAILLO	= 0x28,
	VIRTIO_PCI_COMMON_Q_AVAILHI	= 0x2C,
	VIRTIO_PCI_COMMON_Q_USEDLO	= 0x30,
	VIRTIO_PCI_COMMON_Q_USEDHI	= 0x34,
	VIRTIO_PCI_COMMON_SIZE		= 0x38,
};

struct virtio_pci;

/*
 * What a virtio device model fills in (one static const per model). The
 * transport calls these from the device's trap/notify/reset paths. The
 * model's PCI identity and queue count come from its device class
 * (dev->cls->virtio).
 */
struct virtio_dev_class {
	uint16_t queue_max;		/* per queue, power of two <= VIRTIO_PCI_QUEUE_MAX */
	uint16_t config_size;		/* bytes of device configuration */
	/* Fill buf with the whole device configuration (config_size bytes). */
	void (*config_read)(struct virtio_pci *vp, uint8_t *buf);
	/* Queue q has buffers (notify, or DRIVER_OK with q enabled). */
	void (*queue_notify)(struct virtio_pci *vp, unsigned q);
	/* Device reset (driver wrote 0 or the host reset it). May be NULL. */
	void (*reset)(struct virtio_pci *vp);
	/*
	 * The model's own saved state (device_ops save/load, after the
	 * transport's): NULL when it has none beyond the transport's. load
	 * checks what it reads as guest input: 0 or -EINVAL.
	 */
	void (*save)(struct virtio_pci *vp, struct dev_state *s);
	int (*load)(struct virtio_pci *vp, struct dev_state *s);
};

struct virtio_pci_queue {
	struct vq vq;
	uint16_t size;			/* what the driver chose (max until it writes) */
	uint16_t msix_vector;
	bool enabled;
	uint64_t desc, avail, used;	/* as the driver wrote them */
};

/* Transport state; dev->priv of every virtio device points at one. */
struct virtio_pci {
	struct device *dev;
	const struct virtio_dev_class *cls;
	const struct virtio_pci_ident *ident;
	void *model;			/* the device model's own state */
	uint16_t nqueues;
	uint16_t nvectors;		/* MSI-X vectors: lines 0 .. nvectors-1 */
	uint64_t features;		/* offered: the model's and the transport's */
	int intx_line;			/* -1 without INTx */
	bool intx_level;
	uint8_t status, isr, config_generation;
	uint32_t dfselect, gfselect;
	uint64_t driver_features;
	uint16_t msix_config, queue_select;
	bool resumed;			/* loaded: interrupt every queue at the first notify */
	struct virtio_pci_queue *queues;	/* nqueues entries */
};

/*
 * Validate spec (VIRTIO_PCI_NREGIONS MMIO regions of VIRTIO_PCI_REGION_SIZE,
 * irqs and the "intx" param as above), allocate the transport for a model
 * of class cls with state `model` (owned by the caller, ready for
 * cls->reset, which create calls) offering the device-specific `features`
 * (the transport adds VERSION_1, EVENT_IDX, INDIRECT_DESC), and point
 * dev->priv at it. Returns 0 or -errno (-EINVAL for a bad spec, logged);
 * on error nothing is allocated.
 */
int virtio_pci_create(struct device *dev, const struct device_spec *spec,
		      const struct virtio_dev_class *cls, void *model, uint64_t features)
	__attribute__((warn_unused_result));

/* Free the transport (not the model) and clear dev->priv. */
void virtio_pci_destroy(struct device *dev);

/* device_ops entry points every virtio model uses as they are. */
int virtio_pci_trap(struct device *dev, struct trap *t);
void virtio_pci_notify(struct device *dev, unsigned queue);
void virtio_pci_reset(struct device *dev);
/*
 * Saved state (virtio_pci_state.c): the transport's, then the model's. After
 * a load the first notify (the host notifies every queue once when it
 * resumes a device) interrupts every enabled queue - the old process may
 * have returned buffers without telling the driver - and the queues' held
 * chains are taken again before new ones (virtqueue.h: vq_load).
 */
void virtio_pci_save(struct device *dev, struct dev_state *s);
int virtio_pci_load(struct device *dev, struct dev_state *s) __attribute__((warn_unused_result));
/* The common and device configuration: every read there is free of effects (ISR's is not). */
void virtio_pci_shadow(struct device *dev, struct trap_shadow *sh);

/* The transport of dev and the model state of vp. */
static inline struct virtio_pci *virtio_pci_of(struct device *dev)
{
	return dev->priv;
}

/* Whether feature `bit` was negotiated (FEATURES_OK accepted). */
bool virtio_pci_has_feature(const struct virtio_pci *vp, unsigned bit);

/*
 * Whether the device may process queues: DRIVER_OK set and not in
 * NEEDS_RESET. Models check it before touching a queue from a backend path.
 */
bool virtio_pci_running(const struct virtio_pci *vp);

/* The virtqueue of queue q (q < nqueues), set up or not. */
struct vq *virtio_pci_vq(struct virtio_pci *vp, unsigned q);

/*
 * After pushing used buffers to queue q: interrupt the driver if the ring
 * says it wants one (vq_need_interrupt), by vector or INTx as above.
 */
void virtio_pci_queue_interrupt(struct virtio_pci *vp, unsigned q);

/*
 * Bad guest input: log `why` once, set DEVICE_NEEDS_RESET, raise the config
 * interrupt and stop processing until the driver resets the device.
 */
void virtio_pci_fail(struct virtio_pci *vp, const char *why);

#endif
