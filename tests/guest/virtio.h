/*
 * A small virtio-pci (modern, virtio 1.x) driver for the test guests.
 *
 * It follows what Linux's virtio_pci_modern and virtio core do, step by
 * step, so that a device model that works with it works with Linux:
 *
 *   find:  bus 0 functions with vendor 0x1af4, device 0x1040 + virtio id;
 *          walk the capability list for the virtio vendor capabilities
 *          (common, notify, ISR, device; bar/offset/length each) and the
 *          MSI-X capability; decode the BARs (64-bit ones too), assigning a
 *          BAR from a free window at 0xe0000000 if no firmware did (or put
 *          it above 4 GiB, which the guest does not map); command register
 *          memory + bus master on.
 *   init:  reset (0, wait for 0), ACKNOWLEDGE, DRIVER, device features
 *          through device_feature_select 0/1, driver features (VERSION_1
 *          plus what the caller asks for and the device offers),
 *          FEATURES_OK and read it back; MSI-X on (table entries with
 *          address 0xFEE00000, data = an APIC vector); msix_config read
 *          back; per queue: select, size (lowered to what we have), queue
 *          vector read back (NO_VECTOR back: refused), ring addresses as
 *          32-bit halves, queue_enable; then DRIVER_OK.
 *
 * The guest keeps IF=0: an interrupt is observed as its APIC vector's bit
 * in the local APIC IRR. A bit in IRR stays set until the CPU takes the
 * interrupt, which it never does, so each check that wants to see a new
 * interrupt first moves the MSI-X entry to a fresh APIC vector
 * (vio_irq_rearm) and then waits for that vector.
 *
 * Rings live in .bss (zeroed at every queue setup); data buffers come from
 * vio_dma_alloc, a bump allocator over RAM above 16 MiB. Nothing is ever
 * freed: a guest runs once.
 */
#ifndef VMM_TEST_GUEST_VIRTIO_H
#define VMM_TEST_GUEST_VIRTIO_H

#include "rt.h"

/* ---- register access at the width the spec gives each field ---------- */

static inline uint16_t mmio_read16(uint64_t pa)
{
	return *(volatile uint16_t *)(uintptr_t)pa;
}

static inline void mmio_write16(uint64_t pa, uint16_t v)
{
	*(volatile uint16_t *)(uintptr_t)pa = v;
}

/* Compiler barrier; x86 keeps stores in order, so this is all we need. */
#define vio_barrier() __asm__ volatile("" ::: "memory")

/* ---- virtio constants (virtio 1.x spec; Linux uapi names) ------------- */

#define VIO_VENDOR		0x1af4
#define VIO_DEVICE_BASE		0x1040

#define VIRTIO_ID_NET		1
#define VIRTIO_ID_BLOCK		2
#define VIRTIO_ID_CONSOLE	3
#define VIRTIO_ID_RNG		4

#define VIO_S_ACKNOWLEDGE	0x01
#define VIO_S_DRIVER		0x02
#define VIO_S_DRIVER_OK		0x04
#define VIO_S_FEATURES_OK	0x08
#define VIO_S_NEEDS_RESET	0x40
#define VIO_S_FAILED		0x80

#define VIO_F_INDIRECT_DESC	28
#define VIO_F_EVENT_IDX		29
#define VIO_F_VERSION_1		32
#define VIO_F_ACCESS_PLATFORM	33

#define VIO_NO_VECTOR		0xffff

#define VIO_CAP_COMMON		1
#define VIO_CAP_NOTIFY		2
#define VIO_CAP_ISR		3
#define VIO_CAP_DEVICE		4

/* struct virtio_pci_common_cfg */
#define VIO_COMMON_DFSELECT	0x00
#define VIO_COMMON_DF		0x04
#define VIO_COMMON_GFSELECT	0x08
#define VIO_COMMON_GF		0x0c
#define VIO_COMMON_MSIX		0x10
#define VIO_COMMON_NUMQ		0x12
#define VIO_COMMON_STATUS	0x14
#define VIO_COMMON_CFGGEN	0x15
#define VIO_COMMON_Q_SELECT	0x16
#define VIO_COMMON_Q_SIZE	0x18
#define VIO_COMMON_Q_MSIX	0x1a
#define VIO_COMMON_Q_ENABLE	0x1c
#define VIO_COMMON_Q_NOFF	0x1e
#define VIO_COMMON_Q_DESCLO	0x20
#define VIO_COMMON_Q_DESCHI	0x24
#define VIO_COMMON_Q_AVAILLO	0x28
#define VIO_COMMON_Q_AVAILHI	0x2c
#define VIO_COMMON_Q_USEDLO	0x30
#define VIO_COMMON_Q_USEDHI	0x34

#define VRING_DESC_F_NEXT	1
#define VRING_DESC_F_WRITE	2
#define VRING_DESC_F_INDIRECT	4
#define VRING_AVAIL_F_NO_INTERRUPT 1

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

/* ---- sizes of what we keep ------------------------------------------- */

#define VIO_MAX_DEVS	8	/* functions vio_find remembers */
#define VIO_MAX_QUEUES	4	/* per device */
#define VIO_QSIZE_MAX	128	/* entries per ring we allocate */
#define VIO_IND_MAX	8	/* descriptors per indirect table */
#define VIO_RINGS	12	/* ring sets in .bss */

struct vio_dev;

/* One split virtqueue as the driver sees it. */
struct vio_queue {
	struct vio_dev *vd;
	uint16_t index;
	uint16_t size;		/* 0: not set up */
	struct vring_desc *desc;
	volatile uint16_t *avail;	/* flags, idx, ring[size], used_event */
	volatile uint8_t *used;		/* flags, idx, ring[size], avail_event */
	struct vring_desc (*ind)[VIO_IND_MAX];	/* one indirect table per head */
	uint16_t avail_idx;	/* next avail index we publish */
	uint16_t kicked_idx;	/* avail index at the last notification */
	uint16_t last_used;	/* next used entry we consume */
	uint16_t free_head, num_free;
	uint16_t chain_len[VIO_QSIZE_MAX];	/* descriptors in the chain at head */
	uint16_t msix;		/* MSI-X table entry, or VIO_NO_VECTOR */
	uint8_t apic;		/* APIC vector that entry sends */
	bool event_idx;
	bool irq_off;		/* vio_irq_suppress(q, true) in force */
	uint64_t notify_addr;
	unsigned kicks;		/* notifications written */
};

/* One virtio-pci function. */
struct vio_dev {
	unsigned bus, dev, fn;
	uint16_t virtio_id;
	uint64_t bar[6];	/* memory BAR addresses (0: none/not memory) */
	uint64_t common, isr, devcfg, notify;	/* structure addresses */
	uint32_t devcfg_len;
	uint32_t notify_mult;
	unsigned msix_cap;	/* config offset, 0 if none */
	unsigned msix_n;	/* table entries */
	uint64_t msix_table;
	uint64_t dev_features;	/* offered */
	uint64_t features;	/* negotiated */
	uint16_t config_msix;	/* entry for config changes, or VIO_NO_VECTOR */
	uint8_t config_apic;
	unsigned nq;
	struct vio_queue q[VIO_MAX_QUEUES];
	int ring_set[VIO_MAX_QUEUES];	/* index into the .bss ring sets, -1 */
};

/* A buffer to put in a chain. */
struct vio_buf {
	uint64_t addr;
	uint32_t len;
	bool write;		/* device-writable */
};

/* ---- finding and setting up functions ------------------------------- */

/*
 * Scan bus 0 for virtio functions of `virtio_id` (0: any), fill up to max
 * entries of out (capabilities and BARs decoded, BARs assigned if needed,
 * memory decode and bus mastering on). Returns the number found; a function
 * whose capabilities are unusable is reported with t_fail and skipped.
 */
unsigned vio_find(uint16_t virtio_id, struct vio_dev *out, unsigned max);

/* 16-bit PCI config write (rt.h has only the 32-bit one). */
void vio_pci_write16(const struct vio_dev *vd, unsigned reg, uint16_t v);

/*
 * Point memory BAR `bar` (the low half of a 64-bit one) at addr, with
 * memory decode off while the halves are inconsistent, then on again.
 * Does not update vd->bar or the structure addresses (a hostile guest
 * uses it to move BARs where they must not go, then moves them back).
 */
void vio_bar_set(const struct vio_dev *vd, unsigned bar, uint64_t addr);

/* Device status register. */
uint8_t vio_status(struct vio_dev *vd);
void vio_set_status(struct vio_dev *vd, uint8_t s);

/*
 * Write 0 to device_status and wait (bounded) until it reads 0. Returns
 * false if it never did.
 */
bool vio_reset(struct vio_dev *vd);

/*
 * The whole driver sequence above, for queues 0 .. nq-1 of at most qsize
 * entries each (0: VIO_QSIZE_MAX), accepting VERSION_1 and those of
 * `want` (feature bits) the device offers. MSI-X: the config vector is
 * entry 0 and queue i entry i+1 where the table has room (else shared),
 * each with a fresh APIC vector; without MSI-X everything is NO_VECTOR.
 * Returns true at DRIVER_OK, false (with a FAIL line naming the step,
 * status FAILED written) otherwise.
 */
bool vio_init(struct vio_dev *vd, uint64_t want, unsigned nq, unsigned qsize);

/* Whether feature `bit` was negotiated. */
static inline bool vio_has(const struct vio_dev *vd, unsigned bit)
{
	return (vd->features >> bit) & 1;
}

/* Device configuration space reads (at the width asked). */
uint8_t vio_cfg8(struct vio_dev *vd, unsigned off);
uint16_t vio_cfg16(struct vio_dev *vd, unsigned off);
uint32_t vio_cfg32(struct vio_dev *vd, unsigned off);
uint64_t vio_cfg64(struct vio_dev *vd, unsigned off);	/* two halves, gen checked */

/* "00:03.0" style name of the function (static buffer, one at a time). */
const char *vio_name(const struct vio_dev *vd);

/* ---- interrupts --------------------------------------------------------- */

/* A fresh APIC vector (0x40..0xef, then wraps); LAPIC enabled on first use. */
uint8_t vio_vector_alloc(void);

/* Program MSI-X table entry `entry` to send `apic` to APIC 0 and unmask it. */
void vio_msix_set(struct vio_dev *vd, unsigned entry, uint8_t apic);

/*
 * Move queue q's (or with q NULL, the config) MSI-X entry to a fresh APIC
 * vector, so the next interrupt is distinguishable in IRR. Returns it.
 */
uint8_t vio_irq_rearm(struct vio_dev *vd, struct vio_queue *q);

/*
 * Wait up to `seconds` (counted on the RTC, so that a slow machine waits
 * as long as a fast one) for vector's IRR bit; EOI afterwards. An interrupt
 * by irqfd is injected asynchronously to the used-ring update the driver
 * polled for, so it may arrive well after it. Also bounded by a count of
 * IRR reads, should the RTC stop ticking.
 */
bool vio_irq_wait(uint8_t vector, unsigned seconds);

/* ---- virtqueues --------------------------------------------------------- */

/*
 * Add a chain of n buffers (readable ones first) and publish it in the
 * avail ring; with indirect (VIRTIO_F_INDIRECT_DESC negotiated, n <=
 * VIO_IND_MAX) it goes through one indirect descriptor. Does not notify.
 * Returns the head index, or -1 if the ring lacks free descriptors.
 */
int vio_add(struct vio_queue *q, const struct vio_buf *b, unsigned n, bool indirect);

/*
 * Tell the device about what was published since the last kick, if it
 * wants to know (event index: avail_event crossed; else unless
 * VRING_USED_F_NO_NOTIFY), by writing the queue index to its doorbell.
 */
void vio_kick(struct vio_queue *q);

/*
 * Take one used entry: returns its head (its descriptors freed) and the
 * bytes written in *len, or -1 if none is there yet.
 */
int vio_get_used(struct vio_queue *q, uint32_t *len);

/*
 * Poll for a used entry at least `spins` times and, past that, until
 * VIO_WAIT_S seconds on the RTC have gone by (a slow machine may not run
 * the device process for a while; capped at 100 * spins polls should the
 * RTC stop). Returns as vio_get_used.
 */
#define VIO_WAIT_S 10
int vio_wait_used(struct vio_queue *q, uint32_t *len, unsigned long spins);

/* Ask for no interrupts (polling) or an interrupt per used entry. */
void vio_irq_suppress(struct vio_queue *q, bool off);

/* Publish head `head` in the avail ring without any checks (hostile use). */
void vio_publish_raw(struct vio_queue *q, uint16_t head);

/* Write the queue index to the doorbell unconditionally. */
void vio_notify(struct vio_queue *q);

/* Used index the device has published. */
uint16_t vio_used_idx(struct vio_queue *q);

/* ---- memory ------------------------------------------------------------- */

/*
 * `size` bytes of guest RAM aligned to `align` (a power of two), from a
 * bump allocator starting at 16 MiB; checked against the e820 map when
 * there is one. Returns 0 if RAM ran out. Contents are whatever was there.
 */
uint64_t vio_dma_alloc(uint64_t size, uint64_t align);

/* Zero n bytes (n a multiple of 8, p 8-aligned) with rep stosq. */
void vio_zero(void *p, uint64_t n);

/* Fill n bytes (multiple of 8) with the 64-bit word v (rep stosq). */
void vio_fill64(void *p, uint64_t v, uint64_t n);

/* Index of the first 64-bit word of p[0, n) that differs from v, or n/8. */
uint64_t vio_scan64(const void *p, uint64_t v, uint64_t n);

/*
 * End the run as t_end() does. With the command-line key `qemu_exit`
 * (QEMU, where ACPI S5 type 5 means nothing), print the verdict line
 * for `name` and write isa-debug-exit (port 0xf4) first.
 */
__attribute__((noreturn)) void vio_end(const char *name);

/*
 * Deadline counted in RTC second ticks: vio_deadline_start, then
 * vio_deadline_passed returns true once `seconds` ticks went by. Cheap
 * enough to call in a polling loop (reads the RTC every 256th call).
 */
struct vio_deadline {
	uint8_t last;
	unsigned ticks, calls, seconds;
};
void vio_deadline_start(struct vio_deadline *d, unsigned seconds);
bool vio_deadline_passed(struct vio_deadline *d);

#endif
