/* A device's state region: see state.h. */
#include "state.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

size_t state_region_size(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (sizeof(struct state_region) + page - 1) / page * page;
}

int state_region_init(void *mem, size_t len)
{
	struct state_region *r = mem;

	if (!mem || len < sizeof(*r))
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->magic = STATE_MAGIC;
	r->version = STATE_VERSION;
	r->slot_size = sizeof(struct state_slot);
	atomic_store(&r->gen, 0);
	return 0;
}

int state_region_check(const void *mem, size_t len)
{
	const struct state_region *r = mem;

	if (!mem || len < sizeof(*r) || r->magic != STATE_MAGIC || r->version != STATE_VERSION ||
	    r->slot_size != sizeof(struct state_slot))
		return -EPROTO;
	return 0;
}

struct state_slot *state_next(struct state_region *r)
{
	uint64_t gen = atomic_load_explicit(&r->gen, memory_order_relaxed);

	return &r->slot[(gen + 1) & 1];
}

void state_commit(struct state_region *r, struct state_slot *s, uint32_t len)
{
	uint64_t gen = atomic_load_explicit(&r->gen, memory_order_relaxed) + 1;

	s->gen = gen;
	s->len = len;
	atomic_store_explicit(&r->gen, gen, memory_order_release);
}

const struct state_slot *state_committed(const struct state_region *r)
{
	uint64_t gen = atomic_load_explicit(&r->gen, memory_order_acquire);
	const struct state_slot *s = &r->slot[gen & 1];

	if (gen == 0 || s->gen != gen || s->len > STATE_DATA_MAX)
		return NULL;
	return s;
}
