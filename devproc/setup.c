/* vmm-devproc setup: take the Setup message apart and build the device. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devproc.h"
#include "log.h"

static int setup_fail(struct devproc *dp, int err, const char *what)
{
	vmm_log(LOG_ERR, dp->name, "setup: %s: %s", what, strerror(-err));
	return err;
}

static int setup_recv(struct devproc *dp, int timeout_ms, int *fds, unsigned *nfds)
{
	struct pollfd pfd = { .fd = dp->sock, .events = POLLIN };
	const char *why = "";
	int r = poll(&pfd, 1, timeout_ms);

	if (r <= 0)
		return setup_fail(dp, r == 0 ? -ETIMEDOUT : -errno, "waiting for Setup");
	r = control_recv(dp->sock, &dp->setup_msg, fds, nfds, CONTROL_MAX_FDS);
	if (r)
		return setup_fail(dp, r, "receiving Setup");
	if (dp->setup_msg->body_case != CONTROL_MSG__BODY_SETUP ||
	    control_check_from_monitor(dp->setup_msg, *nfds, &why)) {
		vmm_log(LOG_ERR, dp->name, "setup: bad first message: %s", why);
		return -EBADMSG;
	}
	return 0;
}

/* A memfd must really be as large as the monitor says, or mapping it faults. */
static int fd_size_check(int fd, uint64_t want)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	return (uint64_t)st.st_size == want ? 0 : -EINVAL;
}

static int setup_mem(struct devproc *dp, const Setup *s, int memfd)
{
	int err = fd_size_check(memfd, s->mem_total);

	if (err)
		return err;
	dp->mem.nranges = (unsigned)s->n_mem;
	dp->mem.total = s->mem_total;
	for (size_t i = 0; i < s->n_mem; i++)
		dp->mem.r[i] = (struct gmem_range){ .gpa = s->mem[i]->gpa, .size = s->mem[i]->size,
						    .fd_offset = s->mem[i]->fd_offset };
	return gmem_map(&dp->mem, memfd);
}

/* Map fd, which must be exactly size bytes, shared and writable. */
static int map_exact(int fd, uint64_t size, void **map)
{
	void *p;

	if (fd_size_check(fd, size))
		return -EINVAL;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	*map = p;
	return 0;
}

static int setup_ring(struct devproc *dp, const Setup *s, int ringfd)
{
	void *p;
	int err = map_exact(ringfd, s->ring_size, &p);

	if (err)
		return err;
	dp->ring = p;
	dp->ring_size = s->ring_size;
	dp->shadow = ring_shadow_of(dp->ring, s->nvcpus);
	return ring_shm_check(dp->ring, dp->ring_size, s->nvcpus);
}

static int setup_state(struct devproc *dp, const Setup *s, int statefd)
{
	void *p;
	int err = map_exact(statefd, s->state_size, &p);

	if (err)
		return err;
	dp->state = p;
	dp->state_size = s->state_size;
	return state_region_check(p, s->state_size);
}

/*
 * A replacement process: the device as the last one committed it, the
 * rings set back to where that state left them. A state that fails
 * validation leaves the device reset (device_load); rings that cannot be
 * set back are an error.
 */
static int setup_restore(struct devproc *dp)
{
	const struct state_slot *sl = state_committed(dp->state);
	int err;

	dp->restored = true;
	if (!sl) {
		vmm_log(LOG_WARN, dp->name, "restart: no committed state; the device starts afresh");
		return 0;
	}
	if (device_load(&dp->dev, sl->data, sl->len) == 0)
		vmm_log(LOG_DEBUG, dp->name, "restart: resumed from commit %llu (%u bytes), "
			"%u trapped accesses to serve", (unsigned long long)sl->gen, sl->len,
			ring_resume_pending(dp->ring, &sl->ring));
	err = ring_resume_apply(dp->ring, &sl->ring);
	if (err)
		vmm_log(LOG_ERR, dp->name, "restart: the committed ring positions are impossible");
	return err;
}

/* Hand the irqfds and backend fds to their owners; close what is unused. */
static void setup_fds(struct devproc *dp, const Setup *s, int *fds)
{
	unsigned next = CONTROL_FD_FIXED;

	dp->doorbell_fd = fds[CONTROL_FD_DOORBELL];
	dp->nirqs = (unsigned)s->spec->n_irqs;
	for (unsigned i = 0; i < dp->nirqs; i++)
		dp->irq_fds[i] = fds[next++];
	dp->nqueues = s->n_queue_fds;
	for (unsigned q = 0; q < dp->nqueues; q++)
		dp->queue_fds[q] = fds[next++];
	dp->intx_line = s->intx_line;
	dp->intx_resample_fd = s->intx_line >= 0 ? fds[next++] : -1;
	for (unsigned i = 0; i < DEVICE_MAX_FDS; i++)
		dp->dev.fds[i] = -1;
	for (unsigned i = 0; i < s->n_backend_fds; i++) {
		if (i < DEVICE_MAX_FDS)
			dp->dev.fds[i] = fds[next];
		else
			close(fds[next]);
		next++;
	}
	dp->dev.nfds = s->n_backend_fds < DEVICE_MAX_FDS ? s->n_backend_fds : DEVICE_MAX_FDS;
}

int devproc_setup(struct devproc *dp, int timeout_ms)
{
	int fds[CONTROL_MAX_FDS];
	unsigned nfds = 0;
	const struct device_class *cls;
	const Setup *s;
	int err;

	err = setup_recv(dp, timeout_ms, fds, &nfds);
	if (err)
		return err;
	s = dp->setup_msg->setup;
	dp->spin_ns = s->spin_ns;
	dp->sandbox = s->sandbox;	/* absent: the default, strict */
	setup_fds(dp, s, fds);
	cls = device_class_find(s->spec->klass);
	/* Guest RAM is mapped only for a class that uses it; the fd goes either way. */
	err = cls && cls->guest_ram ? setup_mem(dp, s, fds[CONTROL_FD_GUEST_MEM]) : 0;
#ifdef VMM_TEST_HOOKS
	dp->test_memfd = dup(fds[CONTROL_FD_GUEST_MEM]);
#endif
	close(fds[CONTROL_FD_GUEST_MEM]);	/* the mapping stays */
	if (err)
		return setup_fail(dp, err, "mapping guest RAM");
	err = setup_ring(dp, s, fds[CONTROL_FD_RING]);
	close(fds[CONTROL_FD_RING]);
	if (err) {
		close(fds[CONTROL_FD_STATE]);
		return setup_fail(dp, err, "mapping the rings");
	}
	err = setup_state(dp, s, fds[CONTROL_FD_STATE]);
	close(fds[CONTROL_FD_STATE]);
	if (err)
		return setup_fail(dp, err, "mapping the state region");
	if (!cls)
		return setup_fail(dp, -ENOENT, s->spec->klass);
	snprintf(dp->dev.id, sizeof(dp->dev.id), "%s", dp->name);
	devproc_host_init(dp);
	control_spec_from_wire(s->spec, &dp->spec);	/* borrows setup_msg's strings */
	err = device_create(&dp->dev, cls, &dp->spec);
	if (err)
		return setup_fail(dp, err, "creating the device");
	dp->created = true;
	err = s->restore ? setup_restore(dp) : 0;
	if (err)
		return setup_fail(dp, err, "restoring the device");
	ring_resume_init(dp->ring, &dp->resume);
	return 0;
}
