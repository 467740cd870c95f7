/* What ring.c (producer) and ring_consume.c (consumer) share. */
#ifndef VMM_IPC_RING_INT_H
#define VMM_IPC_RING_INT_H

#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ring.h"

/*
 * Number of rings to look at. The header is writable by the device, so
 * never trust nvcpus beyond the layout's own limit.
 */
static inline unsigned ring_count(const struct ring_header *h)
{
	return h->nvcpus <= RING_MAX_VCPUS ? h->nvcpus : RING_MAX_VCPUS;
}

static inline long ring_futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *ts)
{
	/* Not FUTEX_PRIVATE_FLAG: the word lives in memory shared with another process. */
	return syscall(SYS_futex, word, op, val, ts, NULL, 0);
}

#endif
