/*
 * One trapped guest access. Port I/O and MMIO are the same thing with a bus
 * tag; every handler sees the vCPU that made the access and the offset
 * inside its region. The layout is fixed: it also travels in ring entries
 * between the monitor and a device process.
 */
#ifndef VMM_DEVICES_TRAP_H
#define VMM_DEVICES_TRAP_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum trap_bus { TRAP_PIO = 0, TRAP_MMIO = 1, TRAP_NBUS };

struct trap {
	uint8_t bus;		/* enum trap_bus */
	uint8_t len;		/* 1, 2, 4 or 8 */
	uint8_t is_write;	/* 1 = guest write, data holds the value */
	uint8_t region;		/* index of the region within its device */
	uint16_t vcpu;		/* vCPU index that made the access */
	uint16_t _pad;
	uint64_t addr;		/* guest port or physical address */
	uint64_t offset;	/* addr - region base */
	uint8_t data[8];	/* little-endian value, len bytes used */
};
_Static_assert(sizeof(struct trap) == 32, "struct trap is a fixed ring layout");

/* Value of a write (or the value to return for a read), len bytes, LE. */
static inline uint64_t trap_value(const struct trap *t)
{
	uint64_t v = 0;

	memcpy(&v, t->data, t->len <= 8 ? t->len : 8);
	return v;
}

/* Set the read result: the low len bytes of v; other bytes are zeroed. */
static inline void trap_set_value(struct trap *t, uint64_t v)
{
	memset(t->data, 0, sizeof(t->data));
	memcpy(t->data, &v, t->len <= 8 ? t->len : 8);
}


/*
 * Shadowed registers: the current value of the registers of a device that
 * a read returns without changing anything (virtio common and device
 * configuration, the 8250's LCR or scratch...), as the device publishes
 * them, so that such a read is answered without asking the device. Regions
 * 0..TRAP_SHADOW_REGIONS-1 of a device, offsets 0..TRAP_SHADOW_BYTES-1.
 * lens[r][o] bit k set: a read of (1 << k) bytes at offset o of region r
 * returns bytes[r][o ...] (little-endian) and has no effect. A register
 * whose read has an effect (8250 RBR and IIR, virtio ISR) or whose value
 * is not known in advance is left out: its reads go to the device.
 * neutral[r][o] bit k set: a write of (1 << k) bytes at offset o of region
 * r changes no register in the shadow, nor which writes are neutral (the
 * 8250's THR outside loopback): a read need not wait for such a write,
 * since the image already shows what the read would see after it.
 * The layout is fixed: it also lives in the ring's shared memory.
 */
#define TRAP_SHADOW_REGIONS 4
#define TRAP_SHADOW_BYTES   64

struct trap_shadow {
	uint8_t lens[TRAP_SHADOW_REGIONS][TRAP_SHADOW_BYTES];
	uint8_t bytes[TRAP_SHADOW_REGIONS][TRAP_SHADOW_BYTES];
	uint8_t neutral[TRAP_SHADOW_REGIONS][TRAP_SHADOW_BYTES];
};
_Static_assert(sizeof(struct trap_shadow) == 768, "struct trap_shadow is a fixed shared layout");

/* The lens[] bit of an access of len bytes (1, 2, 4 or 8), else 0. */
static inline unsigned trap_shadow_len_bit(unsigned len)
{
	return len == 1 ? 1u : len == 2 ? 2u : len == 4 ? 4u : len == 8 ? 8u : 0u;
}

/*
 * Publish a register of `len` bytes (1, 2, 4 or 8) holding value at
 * offset of region: a read of exactly that size there is answered. A
 * register that does not fit the shadow is left out.
 */
static inline void trap_shadow_put(struct trap_shadow *s, unsigned region, unsigned offset,
				   unsigned len, uint64_t value)
{
	unsigned bit = trap_shadow_len_bit(len);

	if (!bit || region >= TRAP_SHADOW_REGIONS || offset >= TRAP_SHADOW_BYTES ||
	    len > TRAP_SHADOW_BYTES - offset)
		return;
	for (unsigned i = 0; i < len; i++)
		s->bytes[region][offset + i] = (uint8_t)(value >> (8 * i));
	s->lens[region][offset] |= (uint8_t)bit;
}

/*
 * Publish n bytes at offset of region as a byte array a read of any size
 * inside it answers (the little-endian concatenation of the bytes it
 * covers), as virtio device configuration reads are.
 */
static inline void trap_shadow_put_bytes(struct trap_shadow *s, unsigned region, unsigned offset,
					 const uint8_t *buf, unsigned n)
{
	if (region >= TRAP_SHADOW_REGIONS || offset >= TRAP_SHADOW_BYTES)
		return;
	if (n > TRAP_SHADOW_BYTES - offset)
		n = TRAP_SHADOW_BYTES - offset;
	memcpy(&s->bytes[region][offset], buf, n);
	for (unsigned o = 0; o < n; o++)
		for (unsigned len = 1; len <= 8 && len <= n - o; len *= 2)
			s->lens[region][offset + o] |= (uint8_t)trap_shadow_len_bit(len);
}

/* Declare a write of `len` bytes at offset of region neutral (above). */
static inline void trap_shadow_neutral(struct trap_shadow *s, unsigned region, unsigned offset,
				       unsigned len)
{
	unsigned bit = trap_shadow_len_bit(len);

	if (bit && region < TRAP_SHADOW_REGIONS && offset < TRAP_SHADOW_BYTES)
		s->neutral[region][offset] |= (uint8_t)bit;
}

/* Whether s declares the write t neutral. */
static inline bool trap_shadow_is_neutral(const struct trap_shadow *s, const struct trap *t)
{
	unsigned bit = trap_shadow_len_bit(t->len);

	return t->is_write && bit && t->region < TRAP_SHADOW_REGIONS &&
	       t->offset < TRAP_SHADOW_BYTES && (s->neutral[t->region][t->offset] & bit);
}

/*
 * The lens[] bit a read t would need, or 0 if t is not a read the shadow
 * could hold at all (a write, a size other than 1/2/4/8, out of range).
 */
static inline unsigned trap_shadow_bit(const struct trap *t)
{
	unsigned bit = trap_shadow_len_bit(t->len);

	if (t->is_write || t->region >= TRAP_SHADOW_REGIONS || t->offset >= TRAP_SHADOW_BYTES ||
	    t->len > TRAP_SHADOW_BYTES - t->offset)
		return 0;
	return bit;
}

/*
 * Answer read t from s if s has its register: true with t->data filled,
 * false (t untouched) if the read must go to the device.
 */
static inline bool trap_shadow_answer(const struct trap_shadow *s, struct trap *t)
{
	unsigned bit = trap_shadow_bit(t);

	if (!bit || !(s->lens[t->region][t->offset] & bit))
		return false;
	memset(t->data, 0, sizeof(t->data));
	memcpy(t->data, &s->bytes[t->region][t->offset], t->len);
	return true;
}

#endif
