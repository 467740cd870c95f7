#include "virtqueue.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

/* One descriptor as laid out in guest memory (little-endian). */
struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
_Static_assert(sizeof(struct vq_desc) == 16, "virtq_desc is 16 bytes");

/* Where the chain walk currently reads descriptors from. */
struct vq_table {
	const uint8_t *base;
	uint32_t n;		/* entries */
	bool indirect;
};

/*
 * Ring indexes are shared with the guest: 16-bit aligned atomics (vq_setup
 * checked the alignment), acquire on the driver's, release on ours.
 */
static uint16_t vq_load16(const uint8_t *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE));
}

static void vq_store16(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, htole16(v), __ATOMIC_RELEASE);
}

static int vq_fail(struct vq *vq, int err, const char *why)
{
	vq->error = why;
	return err;
}

static bool vq_aligned(uint64_t gpa, const void *hva, unsigned align)
{
	return gpa % align == 0 && (uintptr_t)hva % align == 0;
}

int vq_setup(struct vq *vq, struct device_host *host, uint16_t size,
	     uint64_t desc, uint64_t avail, uint64_t used, bool event_idx)
{
	uint8_t *d, *a, *u;

	vq_reset(vq);
	if (size == 0 || size > VQ_MAX_SIZE || (size & (size - 1)))
		return vq_fail(vq, -EINVAL, "queue size not a power of two");
	d = host->mem_ptr(host, desc, VQ_DESC_BYTES(size));
	a = host->mem_ptr(host, avail, VQ_AVAIL_BYTES(size));
	u = host->mem_ptr(host, used, VQ_USED_BYTES(size));
	if (!d || !a || !u)
		return vq_fail(vq, -EFAULT, "ring outside guest RAM");
	if (!vq_aligned(desc, d, 16) || !vq_aligned(avail, a, 2) || !vq_aligned(used, u, 4))
		return vq_fail(vq, -EINVAL, "ring misaligned");
	vq->host = host;
	vq->desc = d;
	vq->avail = a;
	vq->used = u;
	vq->event_idx = event_idx;
	vq->size = size;
	return 0;
}

void vq_reset(struct vq *vq)
{
	memset(vq, 0, sizeof(*vq));
	vq->last_head = -1;
}

static bool vq_bit(const uint64_t *map, uint32_t head)
{
	return head < VQ_TRACK_MAX && (map[head / 64] >> (head % 64)) & 1;
}

static void vq_bit_set(uint64_t *map, uint32_t head, bool on)
{
	if (head >= VQ_TRACK_MAX)
		return;
	if (on)
		map[head / 64] |= 1ull << (head % 64);
	else
		map[head / 64] &= ~(1ull << (head % 64));
}

/* The lowest head set in map, or -1. */
static int vq_bit_first(const uint64_t *map)
{
	for (unsigned w = 0; w < VQ_TRACK_WORDS; w++)
		if (map[w])
			return (int)(w * 64 + (unsigned)__builtin_ctzll(map[w]));
	return -1;
}

static uint16_t vq_avail_idx(const struct vq *vq)
{
	return vq_load16(vq->avail + 2);
}

/* Tell the driver (event index) that the next buffer after ours wants a kick. */
static void vq_arm_notify(struct vq *vq)
{
	vq_store16(vq->used + VQ_USED_BYTES(vq->size) - 2, vq->last_avail);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Chains available: -EPROTO if the driver claims more than the ring holds. */
static int vq_count(struct vq *vq)
{
	uint16_t n = (uint16_t)(vq_avail_idx(vq) - vq->last_avail);

	if (n > vq->size)
		return vq_fail(vq, -EPROTO, "avail index more than queue size ahead");
	return n;
}

/* Chains in the avail ring; when none, re-arm notifications. */
static int vq_avail_pending(struct vq *vq)
{
	int n = vq_count(vq);

	if (n == 0 && vq->event_idx) {
		vq_arm_notify(vq);
		n = vq_count(vq);
	}
	return n;
}

int vq_pending(struct vq *vq)
{
	int n;

	if (!vq->size)
		return 0;
	n = vq_avail_pending(vq);
	for (unsigned w = 0; n >= 0 && w < VQ_TRACK_WORDS; w++)
		n += __builtin_popcountll(vq->replay[w]);
	return n;
}

static void vq_read_desc(const struct vq_table *t, uint32_t i, struct vq_desc *d)
{
	memcpy(d, t->base + 16ull * i, sizeof(*d));
	d->addr = le64toh(d->addr);
	d->len = le32toh(d->len);
	d->flags = le16toh(d->flags);
	d->next = le16toh(d->next);
}

/* Switch the walk to the indirect table `d` describes. */
static int vq_enter_indirect(struct vq *vq, struct vq_table *t, const struct vq_desc *d)
{
	if (t->indirect)
		return vq_fail(vq, -EPROTO, "indirect descriptor inside an indirect table");
	if (d->flags & VQ_DESC_F_NEXT)
		return vq_fail(vq, -EPROTO, "indirect descriptor with NEXT");
	if (d->len == 0 || d->len % 16)
		return vq_fail(vq, -EPROTO, "indirect table length not a multiple of 16");
	t->base = vq->host->mem_ptr(vq->host, d->addr, d->len);
	if (!t->base)
		return vq_fail(vq, -EPROTO, "indirect table outside guest RAM");
	t->n = d->len / 16;
	t->indirect = true;
	return 0;
}

/* Append buffer d to the chain, readable ones strictly before writable ones. */
static int vq_add_buf(struct vq *vq, struct vq_chain *c, const struct vq_desc *d)
{
	bool wr = d->flags & VQ_DESC_F_WRITE;
	void *p;

	if (d->len == 0)
		return vq_fail(vq, -EPROTO, "zero-length buffer");
	if (!wr && c->nin)
		return vq_fail(vq, -EPROTO, "readable buffer after a writable one");
	if (c->nout + c->nin >= c->cap)
		return vq_fail(vq, -E2BIG, "chain longer than the device accepts");
	p = vq->host->mem_ptr(vq->host, d->addr, d->len);
	if (!p)
		return vq_fail(vq, -EPROTO, "buffer outside guest RAM");
	c->iov[c->nout + c->nin] = (struct iovec){ .iov_base = p, .iov_len = d->len };
	if (wr) {
		c->nin++;
		c->in_bytes += d->len;
	} else {
		c->nout++;
		c->out_bytes += d->len;
	}
	return 0;
}

/*
 * Walk the chain from head. Each table (the ring's, then at most one
 * indirect one) can be visited at most n times, which bounds loops.
 */
static int vq_walk(struct vq *vq, struct vq_chain *c, uint16_t head)
{
	struct vq_table t = { .base = vq->desc, .n = vq->size };
	uint32_t i = head, steps = 0;
	struct vq_desc d;
	int err;

	c->nout = c->nin = 0;
	c->out_bytes = c->in_bytes = 0;
	c->head = head;
	for (;;) {
		if (i >= t.n)
			return vq_fail(vq, -EPROTO, "descriptor index out of range");
		if (++steps > t.n)
			return vq_fail(vq, -EPROTO, "descriptor loop or chain longer than its table");
		vq_read_desc(&t, i, &d);
		if (d.flags & VQ_DESC_F_INDIRECT) {
			err = vq_enter_indirect(vq, &t, &d);
			if (err)
				return err;
			i = 0;
			steps = 0;
			continue;
		}
		err = vq_add_buf(vq, c, &d);
		if (err)
			return err;
		if (!(d.flags & VQ_DESC_F_NEXT))
			return 0;
		i = d.next;
	}
}

/* Take a chain held when the queue was saved, if one is left. */
static int vq_pop_replay(struct vq *vq, struct vq_chain *c)
{
	int head = vq_bit_first(vq->replay);
	int err;

	if (head < 0)
		return -EAGAIN;
	if (head >= vq->size)
		return vq_fail(vq, -EPROTO, "replayed chain out of range");
	err = vq_walk(vq, c, (uint16_t)head);
	if (err)
		return err;
	vq_bit_set(vq->replay, (uint32_t)head, false);
	vq->last_head = head;
	vq->last_replayed = true;
	return 0;
}

int vq_pop(struct vq *vq, struct vq_chain *c)
{
	uint16_t head;
	int n, err;

	if (!vq->size)
		return -EAGAIN;
	err = vq_pop_replay(vq, c);
	if (err != -EAGAIN)
		return err;
	for (;;) {
		n = vq_avail_pending(vq);
		if (n < 0)
			return n;
		if (n == 0)
			return -EAGAIN;
		/* The acquire load of avail->idx orders this read after it. */
		head = vq_load16(vq->avail + 4 + 2u * (vq->last_avail & (vq->size - 1)));
		if (head >= vq->size)
			return vq_fail(vq, -EPROTO, "avail ring entry out of range");
		if (!vq_bit(vq->skip, head))
			break;
		vq_bit_set(vq->skip, head, false);	/* returned before the resume */
		vq->last_avail++;
	}
	err = vq_walk(vq, c, head);
	if (err)
		return err;
	vq->last_avail++;
	vq_bit_set(vq->inflight, head, true);
	vq->last_head = head;
	vq->last_replayed = false;
	return 0;
}

void vq_save(const struct vq *vq, struct dev_state *s)
{
	if (vq->size > VQ_TRACK_MAX && !s->err)
		s->err = -E2BIG;
	dev_state_put(s, &vq->last_avail, sizeof(vq->last_avail));
	dev_state_put(s, &vq->used_idx, sizeof(vq->used_idx));
	dev_state_put(s, &vq->signalled, sizeof(vq->signalled));
	/* Held chains, whether still to replay or taken again since. */
	for (unsigned w = 0; w < VQ_TRACK_WORDS; w++) {
		uint64_t held = vq->inflight[w] | vq->replay[w];

		dev_state_put(s, &held, sizeof(held));
	}
}

int vq_load(struct vq *vq, struct dev_state *s)
{
	uint16_t saved_used, now_used, delta;
	uint64_t held[VQ_TRACK_WORDS];

	dev_state_get(s, &vq->last_avail, sizeof(vq->last_avail));
	dev_state_get(s, &saved_used, sizeof(saved_used));
	dev_state_get(s, &vq->signalled, sizeof(vq->signalled));
	dev_state_get(s, held, sizeof(held));
	if (s->err)
		return vq_fail(vq, -EINVAL, "saved queue state truncated");
	for (unsigned h = vq->size; h < VQ_TRACK_MAX; h++)
		if (vq_bit(held, h))
			return vq_fail(vq, -EINVAL, "saved chain beyond the queue");
	now_used = vq_load16(vq->used + 2);
	delta = (uint16_t)(now_used - saved_used);
	if (delta > vq->size)
		return vq_fail(vq, -EINVAL, "used ring moved more than a queue since the save");
	memset(vq->skip, 0, sizeof(vq->skip));
	for (uint16_t i = 0; i < delta; i++) {
		uint32_t id;

		memcpy(&id, vq->used + 4 + 8u * ((uint16_t)(saved_used + i) & (vq->size - 1)),
		       sizeof(id));
		id = le32toh(id);
		if (id >= vq->size)
			return vq_fail(vq, -EINVAL, "used ring holds a chain out of range");
		if (vq_bit(held, id))
			vq_bit_set(held, id, false);	/* completed after the save */
		else
			vq_bit_set(vq->skip, id, true);	/* taken and completed after it */
	}
	vq->used_idx = now_used;
	memcpy(vq->replay, held, sizeof(held));
	memcpy(vq->inflight, held, sizeof(held));
	vq->last_head = -1;
	return 0;
}

static size_t vq_iov_copy(const struct iovec *iov, unsigned n, size_t off, uint8_t *buf,
			  size_t len, bool to_iov)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t take;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		take = iov[i].iov_len - off < len - done ? iov[i].iov_len - off : len - done;
		if (to_iov)
			memcpy((uint8_t *)iov[i].iov_base + off, buf + done, take);
		else
			memcpy(buf + done, (uint8_t *)iov[i].iov_base + off, take);
		done += take;
		off = 0;
	}
	return done;
}

size_t vq_iov_read(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len)
{
	return vq_iov_copy(iov, n, off, buf, len, false);
}

size_t vq_iov_write(const struct iovec *iov, unsigned n, size_t off, const void *buf, size_t len)
{
	return vq_iov_copy(iov, n, off, (uint8_t *)buf, len, true);
}

void vq_unpop(struct vq *vq)
{
	if (vq->last_head < 0)
		return;
	if (vq->last_replayed) {
		vq_bit_set(vq->replay, (uint32_t)vq->last_head, true);
	} else {
		vq_bit_set(vq->inflight, (uint32_t)vq->last_head, false);
		vq->last_avail--;
	}
	vq->last_head = -1;
}

void vq_push_many(struct vq *vq, const uint16_t *heads, const uint32_t *written, unsigned n)
{
	if (!vq->size)
		return;
	for (unsigned i = 0; i < n; i++) {
		uint32_t elem[2] = { htole32(heads[i]), htole32(written[i]) };

		memcpy(vq->used + 4 + 8u * ((uint16_t)(vq->used_idx + i) & (vq->size - 1)), elem,
		       sizeof(elem));
		vq_bit_set(vq->inflight, heads[i], false);
		vq_bit_set(vq->replay, heads[i], false);
	}
	vq->last_head = -1;
	vq->used_idx += (uint16_t)n;
	vq_store16(vq->used + 2, vq->used_idx);
}

void vq_push(struct vq *vq, uint16_t head, uint32_t written)
{
	vq_push_many(vq, &head, &written, 1);
}

/* virtio 1.x 2.7.10: the driver asked for an interrupt once used_idx passes event. */
static bool vq_crossed(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

bool vq_need_interrupt(struct vq *vq)
{
	uint16_t old = vq->signalled, now = vq->used_idx;

	if (!vq->size || old == now)
		return false;
	vq->signalled = now;
	/* Our used->idx store must be visible before we read the driver's wish. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vq->event_idx)
		return vq_crossed(vq_load16(vq->avail + VQ_AVAIL_BYTES(vq->size) - 2), now, old);
	return !(vq_load16(vq->avail) & VQ_AVAIL_F_NO_INTERRUPT);
}
