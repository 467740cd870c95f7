/*
 * The monitor's side of a trap ring (ipc/ring.c: ring_send and the
 * completion it takes) against a device process that writes whatever it
 * likes into the shared ring memory: the device is the attacker here.
 * Single-threaded: the "device" prepares the memory before each send, and
 * sends use a zero or tiny deadline, so a missing completion is a timeout,
 * never a hang.
 *
 * Input (see README.md): vcpu byte (& 1, of 2 rings), then ops:
 *   0 send      lenc u8, flags u8 (bit 0 write, bit 1 sync, bit 2 1 us deadline
 *               instead of 0), value (len bytes) for a write
 *   1 complete  delta u8 (signed), status le32, data 8 bytes: done.seq =
 *               next waited seq + delta, as a device that answers early
 *   2 poke      offset le16 (4-aligned, modulo the ring memory), value le32
 *   3 drain     tail = head on our ring (the device took everything)
 *   4 consume   the real device side (ring_consume) serving status le32
 *   5 dead      toggle the supervisor's "device is dead" flag
 *   6 wake      ring_wake_all(h, 2)
 *   7 shadow    region u8, offset u8, lenc u8: a read answered from the
 *               shadow (ring_shadow_read), whose bytes poke can write
 * Checks: ring_send returns 0, RING_STATUS_STOP, -ETIMEDOUT, -EPIPE,
 * -EPROTO or another -errno (1..4095); a failed read leaves t->data as it
 * was; a served read writes only its len bytes; a write's t is untouched;
 * a read the shadow did not answer is untouched, one it did has zeros
 * past its len; nothing outside the ring memory is touched (guard pages).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ring.h"

#define NVCPUS 2

static struct ring_header *ring;
static size_t ring_size;
static int32_t serve_status;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	ring_size = ring_shm_size(NVCPUS);
	ring = fz_guarded_alloc(ring_size);
	return 0;
}

static int serve(void *opaque, struct trap *t)
{
	if (!t->is_write)
		trap_set_value(t, 0x1122334455667788ull);
	return serve_status;
}

static void check_send(struct ring_producer *p, struct fz_in *in, const _Atomic bool *dead)
{
	uint8_t lenc = fz_u8(in), flags = fz_u8(in);
	struct ring_wait_cfg cfg = { .spin_ns = 0, .deadline_ns = (flags & 4) ? 1000 : 0 };
	struct trap t = { .bus = TRAP_MMIO, .len = (uint8_t)(1u << (lenc & 3)),
			  .is_write = flags & 1, .addr = 0x1000 };
	uint8_t before[8];
	int ret;

	if (t.is_write)
		memcpy(t.data, &(uint64_t){ fz_le(in, t.len) }, 8);
	else
		memset(t.data, 0xa5, 8);
	memcpy(before, t.data, 8);
	ret = ring_send(p, &t, flags & 2, &cfg);
	(void)dead;
	FZ_CHECK(ret == 0 || ret == RING_STATUS_STOP || (ret < 0 && ret >= -4095),
		 "ring_send returned %d", ret);
	if (t.is_write || (ret != 0 && ret != RING_STATUS_STOP)) {
		FZ_CHECK(memcmp(before, t.data, 8) == 0, "ring_send changed t->data (ret %d)", ret);
		return;
	}
	for (unsigned i = t.len; i < 8; i++)
		FZ_CHECK(t.data[i] == 0xa5, "a %u-byte read wrote byte %u", t.len, i);
}

static void check_shadow_read(struct fz_in *in)
{
	struct trap t = { .bus = TRAP_MMIO, .region = fz_u8(in), .offset = fz_u8(in) };
	uint8_t before[8];

	t.len = (uint8_t)(fz_u8(in) & 15);
	memset(t.data, 0xa5, 8);
	memcpy(before, t.data, 8);
	if (!ring_shadow_read(ring_shadow_of(ring, NVCPUS), ring, NVCPUS, &t)) {
		FZ_CHECK(memcmp(before, t.data, 8) == 0, "an unanswered shadow read changed t->data");
		return;
	}
	FZ_CHECK(trap_shadow_len_bit(t.len) && t.region < TRAP_SHADOW_REGIONS &&
		 t.offset + t.len <= TRAP_SHADOW_BYTES, "shadow answered a %u-byte read at %u/+%llu",
		 t.len, t.region, (unsigned long long)t.offset);
	for (unsigned i = t.len; i < 8; i++)
		FZ_CHECK(t.data[i] == 0, "a %u-byte shadow read left byte %u", t.len, i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	struct ring_producer p;
	_Atomic bool dead = false;
	unsigned vcpu = fz_u8(&in) & 1;
	struct ring_vcpu *r = &ring->vcpu[vcpu];

	if (ring_shm_init(ring, ring_size, NVCPUS))
		fz_fail("ring_shm_init");
	ring_producer_init(&p, ring, vcpu, -1, &dead);
	for (unsigned step = 0; step < 4096 && fz_more(&in); step++) {
		uint8_t op = fz_u8(&in) & 7;
		uint32_t v;

		switch (op) {
		case 0:
			check_send(&p, &in, &dead);
			break;
		case 1: {
			int8_t delta = (int8_t)fz_u8(&in);

			r->done.status = (int32_t)fz_le(&in, 4);
			fz_bytes(&in, r->done.data, 8);
			atomic_store(&r->done.seq, p.seq + 1 + (uint32_t)(int32_t)delta);
			break;
		}
		case 2: {
			size_t off = (fz_le(&in, 2) * 4) % ring_size;

			v = (uint32_t)fz_le(&in, 4);
			memcpy((uint8_t *)ring + off, &v, 4);
			break;
		}
		case 3:
			atomic_store(&r->tail, atomic_load(&r->head));
			break;
		case 4: {
			int n;

			/*
			 * A well-behaved device serving: its header is its own
			 * business (a device that breaks its own nvcpus only
			 * hurts itself), so restore that first.
			 */
			ring->nvcpus = NVCPUS;
			serve_status = (int32_t)fz_le(&in, 4);
			n = ring_consume(ring, serve, NULL);
			FZ_CHECK(n >= 0 || n == -EPROTO, "ring_consume: %d", n);
			break;
		}
		case 5:
			atomic_store(&dead, !atomic_load(&dead));
			break;
		case 6:
			ring_wake_all(ring, NVCPUS);
			break;
		case 7:
			check_shadow_read(&in);
			break;
		}
	}
	return 0;
}
