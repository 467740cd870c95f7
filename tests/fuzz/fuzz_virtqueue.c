/*
 * The split virtqueue code (devices/virtqueue.c) over a guarded guest RAM,
 * as every virtio device uses it. The guest owns the rings: the input
 * writes their contents and drives the device side.
 *
 * Input (see README.md): size byte (bit 7 set: the next le16 is a raw size;
 * else 1 << (b % 9)), flags byte (bit 0 event index), desc/avail/used gpas
 * (le16 each), then ops:
 *   0 pop      cap u8 (1 + cap % 64 iovecs)
 *   1 push     k u8 (which popped chain, or a raw head), written le32
 *   2 pending
 *   3 need_interrupt
 *   4 memwrite gpa le16, n u8, n bytes (wrapping at the end of RAM)
 *   5 unpop    (only right after a successful pop, as the contract says)
 *   6 setup    size byte, flags byte, three gpas as above
 *   7 store16  gpa le16, value le16 (an index or flags word)
 * Checks: a chain's buffers lie in guest RAM, are non-empty, at most cap,
 * readable before writable, and their sums match out_bytes/in_bytes; every
 * byte is read (readable) or written (writable), so a stray pointer faults;
 * a failed pop consumes nothing and says why; pending is -EPROTO or 0..size.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "virtqueue.h"

#define RAM_SIZE	0x10000ull
#define CAP_MAX		64
#define POPPED_MAX	64

static struct fz_ram ram;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_ram_init(&ram, RAM_SIZE);
	return 0;
}

static void setup(struct vq *vq, struct fz_host *h, struct fz_in *in)
{
	uint8_t b = fz_u8(in);
	uint16_t size = (b & 0x80) ? (uint16_t)fz_le(in, 2) : (uint16_t)(1u << (b % 9));
	bool ev = fz_u8(in) & 1;
	uint64_t d = fz_le(in, 2), a = fz_le(in, 2), u = fz_le(in, 2);
	int err = vq_setup(vq, &h->dp.host, size, d, a, u, ev);

	FZ_CHECK(err == 0 || err == -EINVAL || err == -EFAULT, "vq_setup: %d", err);
	FZ_CHECK(err == 0 ? vq->size == size : vq->size == 0 && vq->error, "vq_setup state");
}

static bool in_ram(const void *p, size_t len)
{
	const uint8_t *b = p;

	return b >= ram.base && len <= ram.size && (size_t)(b - ram.base) <= ram.size - len;
}

static void check_chain(const struct vq_chain *c, unsigned cap)
{
	size_t out = 0, in = 0;
	volatile uint8_t sink = 0;

	FZ_CHECK(c->nout + c->nin >= 1 && c->nout + c->nin <= cap, "chain of %u+%u buffers, cap %u",
		 c->nout, c->nin, cap);
	for (unsigned i = 0; i < c->nout + c->nin; i++) {
		uint8_t *p = c->iov[i].iov_base;
		size_t len = c->iov[i].iov_len;

		FZ_CHECK(len > 0 && in_ram(p, len), "buffer %u outside guest RAM or empty", i);
		if (i < c->nout) {
			out += len;
			for (size_t k = 0; k < len; k += 64)
				sink ^= p[k];
			sink ^= p[len - 1];
		} else {
			in += len;
			p[0] ^= 0;
			p[len - 1] ^= 0;
		}
	}
	(void)sink;
	FZ_CHECK(out == c->out_bytes && in == c->in_bytes, "byte counts %zu/%zu vs %zu/%zu",
		 out, in, c->out_bytes, c->in_bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz_host h;
	struct fz_in in = { data, size };
	struct iovec iov[CAP_MAX];
	uint16_t popped[POPPED_MAX];
	unsigned npopped = 0;
	bool just_popped = false;
	struct vq vq;

	fz_host_init(&h, &ram, 0);
	memset(&vq, 0, sizeof(vq));
	setup(&vq, &h, &in);
	for (unsigned step = 0; step < 4096 && fz_more(&in); step++) {
		uint8_t op = fz_u8(&in) & 7, buf[256];
		bool popped_now = false;
		uint64_t gpa;
		unsigned n, cap;
		int err;

		switch (op) {
		case 0: {
			struct vq_chain c = { .iov = iov };
			uint16_t before = vq.last_avail;

			cap = 1 + fz_u8(&in) % CAP_MAX;
			c.cap = cap;
			err = vq_pop(&vq, &c);
			if (err == 0) {
				check_chain(&c, cap);
				FZ_CHECK(c.head < vq.size, "head %u of a %u queue", c.head, vq.size);
				FZ_CHECK((uint16_t)(before + 1) == vq.last_avail, "pop took %u entries",
					 (uint16_t)(vq.last_avail - before));
				popped_now = npopped < POPPED_MAX;	/* unpop only what we hold */
				if (popped_now)
					popped[npopped++] = c.head;
			} else {
				FZ_CHECK(err == -EAGAIN || err == -EPROTO || err == -E2BIG, "vq_pop: %d", err);
				FZ_CHECK(before == vq.last_avail, "failed pop consumed an entry");
				FZ_CHECK(err == -EAGAIN || vq.error, "vq_pop %d without a reason", err);
			}
			break;
		}
		case 1: {
			uint8_t k = fz_u8(&in);
			uint32_t written = (uint32_t)fz_le(&in, 4);
			uint16_t used = vq.used_idx;

			if (npopped) {
				unsigned i = k % npopped;

				vq_push(&vq, popped[i], written);
				popped[i] = popped[--npopped];
			} else {
				vq_push(&vq, k, written);
			}
			FZ_CHECK(!vq.size || vq.used_idx == (uint16_t)(used + 1), "push did not publish");
			break;
		}
		case 2:
			err = vq_pending(&vq);
			FZ_CHECK(err == -EPROTO || (err >= 0 && err <= vq.size), "vq_pending: %d", err);
			break;
		case 3:
			(void)vq_need_interrupt(&vq);
			break;
		case 4:
			gpa = fz_le(&in, 2);
			n = (unsigned)fz_bytes(&in, buf, fz_u8(&in));
			for (unsigned i = 0; i < n; i++)
				ram.base[(gpa + i) % RAM_SIZE] = buf[i];
			break;
		case 5:
			if (just_popped) {
				vq_unpop(&vq);
				npopped--;
			}
			break;
		case 6:
			setup(&vq, &h, &in);
			npopped = 0;
			break;
		case 7:
			gpa = fz_le(&in, 2) & (RAM_SIZE - 2);
			n = (unsigned)fz_le(&in, 2);
			memcpy(ram.base + gpa, &(uint16_t){ (uint16_t)n }, 2);
			break;
		}
		just_popped = popped_now;
	}
	return 0;
}
