/*
 * Shared bits of the ring tests: a ring memory in an anonymous shared
 * mapping with its doorbell eventfd, and a consumer thread that runs
 * ring_consume until told to stop.
 */
#ifndef VMM_TESTS_RING_TEST_H
#define VMM_TESTS_RING_TEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ring.h"

struct rt_mem {
	void *mem;
	size_t len;
	struct ring_header *h;
	int efd;			/* doorbell, non-blocking */
};

/* Map and format rings for nvcpus; 0 or -1. */
static inline int rt_mem_open(struct rt_mem *m, unsigned nvcpus)
{
	m->len = ring_shm_size(nvcpus);
	m->mem = mmap(NULL, m->len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m->mem == MAP_FAILED)
		return -1;
	m->h = m->mem;
	m->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (m->efd < 0 || ring_shm_init(m->mem, m->len, nvcpus))
		return -1;
	return 0;
}

static inline void rt_mem_close(struct rt_mem *m)
{
	munmap(m->mem, m->len);
	close(m->efd);
}

struct rt_consumer {
	pthread_t thread;
	struct ring_header *h;
	ring_serve_fn serve;
	void *opaque;
	_Atomic bool stop;
	int err;			/* last negative ring_consume result */
	_Atomic unsigned served, waited;	/* requests served; of them waited for */
};

static inline void *rt_consumer_main(void *arg)
{
	struct rt_consumer *c = arg;

	while (!atomic_load(&c->stop)) {
		unsigned w = 0;
		int n = ring_consume_commit(c->h, c->serve, NULL, c->opaque, NULL, &w);

		if (n > 0) {
			atomic_fetch_add(&c->served, (unsigned)n);
			atomic_fetch_add(&c->waited, w);
		}
		if (n < 0)
			c->err = n;
		if (n <= 0)
			__builtin_ia32_pause();
	}
	return NULL;
}

static inline int rt_consumer_start(struct rt_consumer *c, struct ring_header *h,
				    ring_serve_fn serve, void *opaque)
{
	c->h = h;
	c->serve = serve;
	c->opaque = opaque;
	atomic_store(&c->served, 0);
	atomic_store(&c->waited, 0);
	c->err = 0;
	atomic_store(&c->stop, false);
	return pthread_create(&c->thread, NULL, rt_consumer_main, c);
}

static inline void rt_consumer_stop(struct rt_consumer *c)
{
	atomic_store(&c->stop, true);
	pthread_join(c->thread, NULL);
}

#endif
