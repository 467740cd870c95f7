/*
 * Split virtqueues driven from a plain byte buffer, no VM, no transport:
 * well-formed chains, event index, wrapping indexes, and malformed rings
 * that must fail cleanly (never crash, never touch memory past the buffer).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fakehost.h"
#include "virtio_guest.h"
#include "virtqueue.h"

#define MEM_SIZE	(1u << 20)
#define QSZ		16
#define RING		0x1000ull
#define TABLE		0x8000ull
#define TABLE2		0x9000ull
#define DATA		0x10000ull

static uint8_t *mem;
static struct fakehost fh;
static struct gvq g;
static struct vq vq;
static struct iovec iov[64];
static struct vq_chain c = { .iov = iov, .cap = 64 };

static void fresh(bool event_idx)
{
	memset(mem, 0, MEM_SIZE);
	gvq_init(&g, mem, RING, QSZ);
	if (vq_setup(&vq, &fh.host, QSZ, g.desc, g.avail, g.used, event_idx))
		printf("# vq_setup failed: %s\n", vq.error);
	c.cap = 64;
}

static void test_setup_errors(void)
{
	CHECK(vq_setup(&vq, &fh.host, 0, RING, RING + 0x100, RING + 0x200, false) == -EINVAL,
	      "size 0 refused");
	CHECK(vq_setup(&vq, &fh.host, 12, RING, RING + 0x100, RING + 0x200, false) == -EINVAL,
	      "size 12 (not a power of two) refused");
	CHECK(vq.size == 0 && vq.error, "failed setup leaves the queue down, with a reason");
	CHECK(vq_setup(&vq, &fh.host, QSZ, RING + 8, RING + 0x100, RING + 0x200, false) == -EINVAL,
	      "descriptor table not 16-aligned refused");
	CHECK(vq_setup(&vq, &fh.host, QSZ, RING, RING + 0x101, RING + 0x200, false) == -EINVAL,
	      "avail ring at an odd address refused");
	CHECK(vq_setup(&vq, &fh.host, QSZ, RING, RING + 0x100, RING + 0x202, false) == -EINVAL,
	      "used ring not 4-aligned refused");
	CHECK(vq_setup(&vq, &fh.host, QSZ, MEM_SIZE - 0x80, RING + 0x100, RING + 0x200, false) == -EFAULT,
	      "descriptor table running past RAM refused");
	CHECK(vq_setup(&vq, &fh.host, QSZ, RING, RING + 0x100, MEM_SIZE - 0x10, false) == -EFAULT,
	      "used ring running past RAM refused");
	CHECK(vq_setup(&vq, &fh.host, QSZ, ~0ull - 0xff, RING + 0x100, RING + 0x200, false) == -EFAULT,
	      "descriptor table wrapping the address space refused");
	CHECK(vq_setup(&vq, &fh.host, QSZ, RING, RING + 0x100, RING + 0x200, false) == 0,
	      "a good ring is accepted");
}

static void test_direct(void)
{
	struct gbuf b[5] = {
		{ DATA, 16, false }, { DATA + 0x100, 100, false }, { DATA + 0x200, 1, false },
		{ DATA + 0x300, 512, true }, { DATA + 0x500, 1, true },
	};
	uint16_t head;

	fresh(false);
	CHECK(vq_pop(&vq, &c) == -EAGAIN, "empty ring: -EAGAIN");
	head = gvq_add(&g, b, 1);
	CHECK(vq_pending(&vq) == 1, "one chain pending");
	CHECK(vq_pop(&vq, &c) == 0 && c.head == head, "single buffer popped");
	CHECK(c.nout == 1 && c.nin == 0 && c.out_bytes == 16, "one readable buffer of 16 bytes");
	CHECK(c.iov[0].iov_base == mem + DATA, "iov points into guest RAM at the gpa");
	CHECK(vq_pop(&vq, &c) == -EAGAIN, "then empty");
	head = gvq_add(&g, b, 5);
	CHECK(vq_pop(&vq, &c) == 0 && c.head == head, "five-buffer chain popped");
	CHECK(c.nout == 3 && c.nin == 2, "three readable, then two writable");
	CHECK(c.out_bytes == 117 && c.in_bytes == 513, "byte counts per direction");
	CHECK(c.iov[3].iov_base == mem + DATA + 0x300 && c.iov[4].iov_len == 1,
	      "writable buffers in order");
}

static void test_indirect(void)
{
	struct gbuf b[3] = {
		{ DATA, 16, false }, { DATA + 0x100, 4096, true }, { DATA + 0x2000, 1, true },
	};
	uint16_t head;

	fresh(false);
	head = gvq_add_indirect(&g, TABLE, b, 3);
	CHECK(vq_pop(&vq, &c) == 0 && c.head == head, "indirect chain popped");
	CHECK(c.nout == 1 && c.nin == 2 && c.in_bytes == 4097, "indirect: 1 readable, 2 writable");
	/* A direct buffer, then an indirect table at the end of the chain. */
	gvq_set_table_desc(&g, TABLE, 0, DATA + 0x100, 64, VQ_DESC_F_WRITE, 0);
	gvq_set_desc(&g, 5, DATA, 16, VQ_DESC_F_NEXT, 6);
	gvq_set_desc(&g, 6, TABLE, 16, VQ_DESC_F_INDIRECT, 0);
	gvq_publish(&g, 5);
	CHECK(vq_pop(&vq, &c) == 0 && c.nout == 1 && c.nin == 1,
	      "direct buffer followed by an indirect table");
}

static void test_push_and_irq(void)
{
	struct gbuf b = { DATA, 8, true };
	uint32_t id, len;
	uint16_t h1, h2;

	fresh(false);
	h1 = gvq_add(&g, &b, 1);
	h2 = gvq_add(&g, &b, 1);
	CHECK(vq_pop(&vq, &c) == 0 && vq_pop(&vq, &c) == 0, "two chains popped");
	CHECK(!vq_need_interrupt(&vq), "nothing used yet: no interrupt");
	vq_push(&vq, h2, 7);
	vq_push(&vq, h1, 3);
	CHECK(gvq_used_idx(&g) == 2, "used idx advanced by two");
	CHECK(gvq_get_used(&g, &id, &len) && id == h2 && len == 7, "completed out of order: second first");
	CHECK(gvq_get_used(&g, &id, &len) && id == h1 && len == 3, "then the first");
	CHECK(vq_need_interrupt(&vq), "new used entries: interrupt");
	CHECK(!vq_need_interrupt(&vq), "nothing new since: no interrupt");
	gvq_set_avail_flags(&g, VQ_AVAIL_F_NO_INTERRUPT);
	gvq_add(&g, &b, 1);
	CHECK(vq_pop(&vq, &c) == 0, "popped");
	vq_unpop(&vq);
	CHECK(vq_pop(&vq, &c) == 0 && c.head == h2 + 1, "unpop gives the same chain again");
	vq_unpop(&vq);
	vq_unpop(&vq);
	CHECK(vq_pop(&vq, &c) == 0 && c.head == h2 + 1, "a second unpop gives back nothing more");
	vq_push(&vq, c.head, 0);
	CHECK(!vq_need_interrupt(&vq), "VRING_AVAIL_F_NO_INTERRUPT suppresses it");
}

static void test_event_idx(void)
{
	struct gbuf b = { DATA, 8, true };

	fresh(true);
	CHECK(vq_pop(&vq, &c) == -EAGAIN, "empty");
	CHECK(gvq_avail_event(&g) == 0, "avail_event armed at our index (0)");
	for (int i = 0; i < 4; i++)
		gvq_add(&g, &b, 1);
	for (int i = 0; i < 4; i++)
		CHECK(vq_pop(&vq, &c) == 0, "pop %d", i);
	CHECK(gvq_avail_event(&g) == 0, "avail_event untouched while chains remain");
	CHECK(vq_pop(&vq, &c) == -EAGAIN, "drained");
	CHECK(gvq_avail_event(&g) == 4, "drained: avail_event re-armed at 4");
	gvq_set_used_event(&g, 2);	/* interrupt when used idx passes 2 */
	vq_push(&vq, 0, 1);
	vq_push(&vq, 1, 1);
	CHECK(!vq_need_interrupt(&vq), "used idx 2 has not passed used_event 2");
	vq_push(&vq, 2, 1);
	CHECK(vq_need_interrupt(&vq), "used idx 3 passed used_event 2: interrupt");
	vq_push(&vq, 3, 1);
	CHECK(!vq_need_interrupt(&vq), "used_event already passed before: no second interrupt");
	gvq_set_used_event(&g, 4);
	gvq_add(&g, &b, 1);
	CHECK(vq_pop(&vq, &c) == 0, "pop");
	vq_push(&vq, c.head, 1);
	CHECK(vq_need_interrupt(&vq), "driver moved used_event: interrupt again");
}

static void test_wrap(void)
{
	struct gbuf b = { DATA, 8, true };
	uint32_t id, len;
	bool ok = true;

	fresh(true);
	gvq_set_start(&g, 65533);
	vq.last_avail = vq.used_idx = vq.signalled = 65533;
	gvq_set_used_event(&g, 65535);
	for (int i = 0; i < 6; i++)
		gvq_add(&g, &b, 1);
	CHECK(vq_pending(&vq) == 6, "6 pending across the 16-bit wrap");
	for (int i = 0; i < 6; i++) {
		ok &= vq_pop(&vq, &c) == 0 && c.head == i;
		vq_push(&vq, c.head, (uint32_t)i);
	}
	CHECK(ok, "popped in order across the wrap");
	CHECK(vq.last_avail == 3 && gvq_used_idx(&g) == 3, "indexes wrapped to 3");
	CHECK(vq_need_interrupt(&vq), "used_event 65535 crossed on the way to 3");
	for (int i = 0; i < 6; i++)
		ok &= gvq_get_used(&g, &id, &len) && id == (uint32_t)i && len == (uint32_t)i;
	CHECK(ok, "used entries in order across the wrap");
	CHECK(vq_pop(&vq, &c) == -EAGAIN && gvq_avail_event(&g) == 3, "avail_event re-armed at 3");
}

/* Publish head, expect vq_pop to fail with err, consuming nothing. */
static void expect_bad(uint16_t head, int err, const char *what)
{
	uint16_t before = vq.last_avail;
	int r;

	vq.error = NULL;
	gvq_publish(&g, head);
	r = vq_pop(&vq, &c);
	CHECK(r == err && vq.error != NULL && vq.last_avail == before,
	      "%s: got %d (%s), want %d", what, r, vq.error ? vq.error : "-", err);
}

static void test_malformed_direct(void)
{
	fresh(false);
	gvq_set_desc(&g, 0, MEM_SIZE - 4, 16, 0, 0);
	expect_bad(0, -EPROTO, "buffer running past the end of RAM");
	fresh(false);
	gvq_set_desc(&g, 0, MEM_SIZE + 0x1000, 16, 0, 0);
	expect_bad(0, -EPROTO, "buffer outside RAM");
	fresh(false);
	gvq_set_desc(&g, 0, ~0ull - 8, 64, 0, 0);
	expect_bad(0, -EPROTO, "address + length wrapping");
	fresh(false);
	gvq_set_desc(&g, 0, DATA, 0, 0, 0);
	expect_bad(0, -EPROTO, "zero-length buffer");
	fresh(false);
	gvq_set_desc(&g, 0, DATA, 16, VQ_DESC_F_NEXT, QSZ);
	expect_bad(0, -EPROTO, "next index out of range");
	fresh(false);
	gvq_set_desc(&g, 0, DATA, 16, VQ_DESC_F_NEXT, 1);
	gvq_set_desc(&g, 1, DATA, 16, VQ_DESC_F_NEXT, 0);
	expect_bad(0, -EPROTO, "loop a -> b -> a");
	fresh(false);
	gvq_set_desc(&g, 3, DATA, 16, VQ_DESC_F_NEXT, 3);
	expect_bad(3, -EPROTO, "descriptor pointing at itself");
	fresh(false);
	gvq_set_desc(&g, 0, DATA, 16, VQ_DESC_F_WRITE | VQ_DESC_F_NEXT, 1);
	gvq_set_desc(&g, 1, DATA, 16, 0, 0);
	expect_bad(0, -EPROTO, "readable after writable");
	fresh(false);
	expect_bad(QSZ, -EPROTO, "avail ring entry out of range");
}

static void test_chain_length(void)
{
	fresh(false);
	for (uint16_t i = 0; i < QSZ; i++)
		gvq_set_desc(&g, i, DATA + 16u * i, 16, VQ_DESC_F_NEXT, (uint16_t)((i + 1) % QSZ));
	expect_bad(0, -EPROTO, "chain longer than the queue (17th step revisits 0)");
	gvq_set_desc(&g, QSZ - 1, DATA, 16, 0, 0);
	CHECK(vq_pop(&vq, &c) == 0 && c.nout == QSZ, "a chain of exactly queue size is fine");
	fresh(false);
	c.cap = 4;
	for (uint16_t i = 0; i < 5; i++)
		gvq_set_desc(&g, i, DATA, 16, i < 4 ? VQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	expect_bad(0, -E2BIG, "chain longer than the caller's iovec array");
}

static void test_malformed_avail(void)
{
	struct gbuf b = { DATA, 8, true };

	fresh(false);
	gvq_add(&g, &b, 1);
	gvq_set_avail_idx(&g, QSZ + 1);
	CHECK(vq_pending(&vq) == -EPROTO, "avail idx 17 ahead of 0: pending says -EPROTO");
	CHECK(vq_pop(&vq, &c) == -EPROTO && vq.last_avail == 0, "and pop refuses");
	gvq_set_avail_idx(&g, QSZ);
	CHECK(vq_pending(&vq) == QSZ, "exactly size ahead is fine");
	gvq_set_avail_idx(&g, 0xffff);
	CHECK(vq_pop(&vq, &c) == -EPROTO, "avail idx going backwards (65535) refused");
}

static void test_malformed_indirect(void)
{
	fresh(false);
	gvq_set_desc(&g, 0, TABLE, 24, VQ_DESC_F_INDIRECT, 0);
	expect_bad(0, -EPROTO, "indirect table length not a multiple of 16");
	fresh(false);
	gvq_set_desc(&g, 0, TABLE, 0, VQ_DESC_F_INDIRECT, 0);
	expect_bad(0, -EPROTO, "indirect table of length 0");
	fresh(false);
	gvq_set_desc(&g, 0, MEM_SIZE - 32, 64, VQ_DESC_F_INDIRECT, 0);
	expect_bad(0, -EPROTO, "indirect table past the end of RAM");
	fresh(false);
	gvq_set_table_desc(&g, TABLE, 0, TABLE2, 16, VQ_DESC_F_INDIRECT, 0);
	gvq_set_table_desc(&g, TABLE2, 0, DATA, 16, 0, 0);
	gvq_set_desc(&g, 0, TABLE, 16, VQ_DESC_F_INDIRECT, 0);
	expect_bad(0, -EPROTO, "indirect within indirect");
	fresh(false);
	gvq_set_table_desc(&g, TABLE, 0, DATA, 16, VQ_DESC_F_NEXT, 1);
	gvq_set_table_desc(&g, TABLE, 1, DATA, 16, VQ_DESC_F_NEXT, 5);
	gvq_set_table_desc(&g, TABLE, 2, DATA, 16, 0, 0);
	gvq_set_desc(&g, 0, TABLE, 48, VQ_DESC_F_INDIRECT, 0);
	expect_bad(0, -EPROTO, "NEXT inside an indirect table pointing out of it");
	fresh(false);
	gvq_set_table_desc(&g, TABLE, 0, DATA, 16, VQ_DESC_F_NEXT, 1);
	gvq_set_table_desc(&g, TABLE, 1, DATA, 16, VQ_DESC_F_NEXT, 0);
	gvq_set_desc(&g, 0, TABLE, 32, VQ_DESC_F_INDIRECT, 0);
	expect_bad(0, -EPROTO, "loop inside an indirect table");
	fresh(false);
	gvq_set_table_desc(&g, TABLE, 0, DATA, 16, 0, 0);
	gvq_set_desc(&g, 0, TABLE, 16, VQ_DESC_F_INDIRECT | VQ_DESC_F_NEXT, 1);
	expect_bad(0, -EPROTO, "indirect descriptor with NEXT");
	fresh(false);
	gvq_set_table_desc(&g, TABLE, 0, MEM_SIZE, 16, 0, 0);
	gvq_set_desc(&g, 0, TABLE, 16, VQ_DESC_F_INDIRECT, 0);
	expect_bad(0, -EPROTO, "buffer in an indirect table outside RAM");
}

/*
 * A queue saved, the process going on after the save (returning one held
 * chain, taking and returning a new one), then a new queue loaded from the
 * save: the used ring decides - the chain still held is taken again first,
 * the one taken and returned after the save is passed over, nothing is
 * returned twice.
 */
static void test_save_load(void)
{
	struct gbuf b = { DATA, 8, true };
	uint8_t saved[256], bad[256];
	struct dev_state s = { .buf = saved, .cap = sizeof(saved) };
	struct dev_state r;
	uint16_t h1, h2, h3, h4, h5;
	uint32_t id, len;

	fresh(false);
	h1 = gvq_add(&g, &b, 1);
	h2 = gvq_add(&g, &b, 1);
	h3 = gvq_add(&g, &b, 1);
	for (int i = 0; i < 3; i++)
		CHECK(vq_pop(&vq, &c) == 0, "chain %d taken", i);
	vq_push(&vq, h1, 1);
	vq_save(&vq, &s);
	CHECK(s.err == 0 && s.pos > 0, "saved (%zu bytes)", s.pos);
	vq_push(&vq, h2, 2);		/* after the save: the process goes on */
	h4 = gvq_add(&g, &b, 1);
	CHECK(vq_pop(&vq, &c) == 0 && c.head == h4, "a fourth taken after the save");
	vq_push(&vq, h4, 4);

	CHECK(vq_setup(&vq, &fh.host, QSZ, g.desc, g.avail, g.used, false) == 0, "new queue");
	r = (struct dev_state){ .buf = saved, .cap = s.pos };
	CHECK_EQ(vq_load(&vq, &r), 0, "loaded");
	CHECK(r.pos == s.pos, "every saved byte read");
	CHECK_EQ(vq_pending(&vq), 2, "one chain to take again, one avail entry");
	CHECK(vq_pop(&vq, &c) == 0 && c.head == h3, "the chain held at the save comes first");
	CHECK_EQ(vq_pop(&vq, &c), -EAGAIN, "the chain returned after the save is not taken again");
	h5 = gvq_add(&g, &b, 1);
	CHECK(vq_pop(&vq, &c) == 0 && c.head == h5, "a new chain after it");
	vq_push(&vq, h3, 3);
	vq_push(&vq, h5, 5);
	for (int i = 0; i < 3; i++)
		gvq_get_used(&g, &id, &len);
	CHECK(gvq_get_used(&g, &id, &len) && id == h3 && len == 3, "held chain returned once");
	CHECK(gvq_get_used(&g, &id, &len) && id == h5 && len == 5, "then the new one");
	CHECK(!gvq_get_used(&g, &id, &len), "nothing returned twice");

	/* Hostile saves. */
	r = (struct dev_state){ .buf = saved, .cap = s.pos - 1 };
	CHECK_EQ(vq_load(&vq, &r), -EINVAL, "truncated save refused");
	memcpy(bad, saved, s.pos);
	bad[2] ^= 0x80;			/* saved used index: far behind the ring's */
	r = (struct dev_state){ .buf = bad, .cap = s.pos };
	CHECK_EQ(vq_load(&vq, &r), -EINVAL, "used ring further than a queue ahead refused");
	memcpy(bad, saved, s.pos);
	bad[6 + QSZ / 8] |= 1;		/* a held chain beyond the queue's size */
	r = (struct dev_state){ .buf = bad, .cap = s.pos };
	CHECK_EQ(vq_load(&vq, &r), -EINVAL, "held chain beyond the queue refused");
}

int main(void)
{
	mem = aligned_alloc(4096, MEM_SIZE);
	if (!mem)
		CHECK_SKIP_ALL("no memory");
	fakehost_init(&fh);
	fakehost_set_mem(&fh, mem, MEM_SIZE);
	test_setup_errors();
	test_direct();
	test_indirect();
	test_push_and_irq();
	test_event_idx();
	test_wrap();
	test_malformed_direct();
	test_chain_length();
	test_malformed_avail();
	test_malformed_indirect();
	test_save_load();
	free(mem);
	return check_done();
}
