/*
 * vmm-devproc's event loop. Rings first: after serving a request the loop
 * spins for spin_ns looking for the next one (a vCPU that posts while the
 * device spins pays no wake-up), then sleeps in epoll on the doorbell, the
 * control socket, the queue doorbells, the device's own wake fd (its worker
 * threads' or the kernel's AIO completions) and the backend fds the device
 * asked for.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devproc.h"
#include "log.h"
#include "spin.h"
#include "util.h"

#define TAG_DOORBELL 0x100
#define TAG_CONTROL  0x101
#define TAG_RESAMPLE 0x102
#define TAG_WAKE     0x103
#define TAG_QUEUE    0x200	/* + queue index */
/*
 * While spinning, look at the fds this often: queue doorbells (ioeventfds)
 * are only seen through epoll, so this bounds how late a virtio kick is
 * noticed while the device spins (an epoll_wait(0) costs well under 1 µs).
 */
#define POLL_EVERY_NS 10000ull
/*
 * For this long after its last work a device dozes (ring.h: posted writes
 * need no doorbell, it looks every RING_DOZE_NS) rather than sleeping;
 * then it sleeps until something rings: an idle device uses no CPU.
 */
#define DOZE_WINDOW_NS 20000000ull

int devproc_serve_trap(void *opaque, struct trap *t)
{
	struct devproc *dp = opaque;
	int ret;

	dp->traps++;
	dp->stop_posted = false;
	ret = dp->dev.ops->trap(&dp->dev, t);
	return ret == 0 && dp->stop_posted ? RING_STATUS_STOP : ret;
}

static int epoll_set(struct devproc *dp, int op, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return epoll_ctl(dp->epoll_fd, op, fd, &ev) < 0 ? -errno : 0;
}

/*
 * Bring the epoll set in line with the device's poll_mask. A regular file
 * cannot be in an epoll set (EPERM) but is always readable: such fds are
 * remembered in `always` and served from the loop directly.
 */
static void sync_backend_polls(struct devproc *dp)
{
	uint32_t want = dp->dev.poll_mask & ((1u << dp->dev.nfds) - 1);
	uint32_t diff = want ^ dp->polled;

	for (unsigned i = 0; diff; i++, diff >>= 1) {
		int err;

		if (!(diff & 1) || dp->dev.fds[i] < 0 || (dp->always & (1u << i)))
			continue;
		err = epoll_set(dp, (want >> i) & 1 ? EPOLL_CTL_ADD : EPOLL_CTL_DEL,
				dp->dev.fds[i], i);
		if (err == -EPERM)
			dp->always |= 1u << i;
		else if (err == 0)
			dp->polled ^= 1u << i;
	}
}

void devproc_shadow_refresh(struct devproc *dp)
{
	struct trap_shadow s;

	device_shadow(&dp->dev, &s);
	ring_shadow_publish(dp->shadow, &s);
}

void devproc_commit(void *opaque, const struct ring_resume *rs)
{
	struct devproc *dp = opaque;
	struct state_slot *sl;
	int len;

	if (!dp->state || dp->save_failed || !device_class_resumes(dp->dev.cls))
		return;
	sl = state_next(dp->state);
	len = device_save(&dp->dev, sl->data, sizeof(sl->data));
	if (len < 0) {
		dp->save_failed = true;	/* a restart resumes from the last commit */
		vmm_log(LOG_ERR, dp->name, "cannot save its state (%s): nothing more is committed",
			strerror(-len));
		return;
	}
	memcpy(&sl->ring, rs, sizeof(sl->ring));
	state_commit(dp->state, sl, (uint32_t)len);
}

/* After a call into the device outside a ring batch. */
static void commit_now(struct devproc *dp)
{
	devproc_commit(dp, &dp->resume);
}

/* Serve the always-readable backend fds the device wants; true if any. */
static bool serve_always_ready(struct devproc *dp)
{
	uint32_t ready = dp->always & dp->dev.poll_mask;

	if (!ready || !dp->dev.ops->backend)
		return ready != 0;
	for (unsigned i = 0; ready; i++, ready >>= 1)
		if (ready & 1)
			dp->dev.ops->backend(&dp->dev, i);
	commit_now(dp);
	devproc_shadow_refresh(dp);
	return (dp->always & dp->dev.poll_mask) != 0;
}

/* Serve what the rings hold; *waited: how many of them a vCPU waits for. */
static int serve_rings(struct devproc *dp, unsigned *waited)
{
	int n = ring_consume_commit(dp->ring, devproc_serve_trap, devproc_commit, dp,
				    &dp->resume, waited);

	if (n < 0)
		vmm_log(LOG_ERR, dp->name, "ring: impossible indexes; stopping");
	else if (n > 0) {
		sync_backend_polls(dp);
		devproc_shadow_refresh(dp);
	}
	return n;
}

static void send_stats(struct devproc *dp)
{
	struct control_stats cs = {
		.traps = dp->traps, .sleeps = dp->sleeps,
		.spins_paid = dp->spin.paid, .spins_wasted = dp->spin.wasted,
		.spins_preempted = dp->spin.preempted,
		.spin_budget_ns = spin_gov_budget(&dp->spin, dp->spin_ns, now_ns()),
	};

	if (control_send_stats(dp->sock, &cs))
		dp->stop = true;
}

/* One message from the monitor; anything but the expected ends the loop. */
static int control_input(struct devproc *dp)
{
	ControlMsg *m = NULL;
	int fds[CONTROL_MAX_FDS];
	unsigned nfds = 0;
	const char *why = "";
	int err = control_recv(dp->sock, &m, fds, &nfds, CONTROL_MAX_FDS);

	if (err == -EAGAIN)
		return 0;
	if (err == 0 && control_check_from_monitor(m, nfds, &why))
		err = -EBADMSG;
	if (err == 0 && m->body_case == CONTROL_MSG__BODY_STATS_REQUEST)
		send_stats(dp);
	else if (err == 0 && m->body_case == CONTROL_MSG__BODY_SHUTDOWN) {
		send_stats(dp);		/* the monitor prints them with -v */
		dp->stop = true;
	} else if (err == 0 && m->body_case == CONTROL_MSG__BODY_INPUT) {
		if (dp->dev.ops->input) {
			dp->dev.ops->input(&dp->dev, (enum device_input)m->input->what);
			commit_now(dp);
			devproc_shadow_refresh(dp);
		}
	}
	else if (err == 0)
		err = -EBADMSG;
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	control_msg_free(m);
	if (err == -ECONNRESET)
		dp->stop = true;	/* the monitor is gone: so are we */
	else if (err)
		vmm_log(LOG_ERR, dp->name, "control: %s (%s)", strerror(-err), why);
	return err == -ECONNRESET ? 0 : err;
}

static void drain_doorbell(struct devproc *dp)
{
	uint64_t v;

	if (read(dp->doorbell_fd, &v, sizeof(v)) < 0)
		return;	/* EAGAIN: nothing to drain */
}

/* A queue's ioeventfd fired: the guest rang that doorbell (maybe often). */
static void queue_notify(struct devproc *dp, unsigned q)
{
	uint64_t v;

	if (read(dp->queue_fds[q], &v, sizeof(v)) < 0)
		return;	/* EAGAIN: already drained */
	if (dp->dev.ops->notify)
		dp->dev.ops->notify(&dp->dev, q);
	sync_backend_polls(dp);
}

static int handle_event(struct devproc *dp, uint32_t tag)
{
	if (tag == TAG_DOORBELL) {
		drain_doorbell(dp);
		return 0;
	}
	if (tag >= TAG_QUEUE && tag - TAG_QUEUE < dp->nqueues) {
		queue_notify(dp, tag - TAG_QUEUE);
		return 0;
	}
	if (tag == TAG_CONTROL)
		return control_input(dp);
	if (tag == TAG_RESAMPLE) {
		devproc_intx_resample(dp);
		return 0;
	}
	if (tag == TAG_WAKE)
		dp->dev.ops->wake(&dp->dev);
	if (tag < DEVICE_MAX_FDS && dp->dev.ops->backend && (dp->dev.poll_mask & (1u << tag)))
		dp->dev.ops->backend(&dp->dev, tag);
	sync_backend_polls(dp);
	return 0;
}

/*
 * Wait for fds (timeout_ms, -1 forever) and handle what fired. *rang says
 * whether the doorbell did (what the rings hold tells whether a vCPU
 * waits), *busy whether the device itself had work: a kick, a backend or a
 * wake keeps it spinning as a waited request does, so that the next kick
 * of a stream of I/O finds it awake. A control message (the monitor's
 * liveness ping, once a --device-timeout-ms) is neither: after it the
 * device neither spins nor dozes, or every idle device would wake 20 times
 * a second for it.
 */
static int poll_fds(struct devproc *dp, int timeout_ms, bool *busy, bool *rang)
{
	struct epoll_event ev[8];
	int n = epoll_wait(dp->epoll_fd, ev, 8, timeout_ms);
	bool reached_device = false;
	int err = 0;

	*busy = *rang = false;
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n && !err; i++) {
		uint32_t tag = ev[i].data.u32;

		err = handle_event(dp, tag);
		*rang |= tag == TAG_DOORBELL;
		reached_device |= tag != TAG_DOORBELL && tag != TAG_CONTROL;
	}
	if (reached_device) {	/* a kick, a backend or a wake may change registers */
		commit_now(dp);
		devproc_shadow_refresh(dp);	/* (a doorbell's requests: serve_rings does) */
	}
	*busy = reached_device;
	return err;
}

/*
 * A replacement process: notify every queue once, as if its doorbell rang
 * (kicks the old process took but never acted on are not lost; a virtio
 * device re-interrupts its queues, virtio_pci.h), and commit.
 */
static void resume_queues(struct devproc *dp)
{
	for (unsigned q = 0; q < dp->nqueues && dp->dev.ops->notify; q++)
		dp->dev.ops->notify(&dp->dev, q);
	commit_now(dp);
}

enum spin_end { SPIN_WORK, SPIN_TIMEOUT, SPIN_PREEMPTED };

/*
 * Spin on the rings until `until` (the earlier of the next look at the fds
 * and the end of the spin budget): work came, time ran out, or the loop
 * was preempted (spin.h).
 */
static enum spin_end spin_for_work(struct devproc *dp, uint64_t until)
{
	uint64_t prev = now_ns(), now;

	for (unsigned i = 1;; i++) {
		if (ring_pending(dp->ring))
			return SPIN_WORK;
		spin_relax();
		if (i % SPIN_CLOCK_EVERY)
			continue;
		now = now_ns();
		if (spin_gap(prev, now))
			return SPIN_PREEMPTED;
		if (now >= until)
			return SPIN_TIMEOUT;
		prev = now;
	}
}

/*
 * The loop: serve what the rings hold; then spin for the next request as
 * long as the spin budget says (dp->spin, adapting: spin.h), looking at the
 * fds every POLL_EVERY_NS; then sleep in epoll until a doorbell, a kick, a
 * wake or a backend fd - dozing (waking every RING_DOZE_NS to look) within
 * DOZE_WINDOW_NS of its last work.
 *
 * Only what somebody waits for makes spinning worth a CPU: a vCPU's read or
 * sync write, a kick, a backend event. The spin is timed from the last of
 * those (spin_from) and counts as paid only when it catches one; posted
 * writes it finds are served on the way but neither extend nor pay it (a
 * dozing device applies them within RING_DOZE_NS with no wake-up: spinning
 * for them would only take a CPU from the vCPUs). Any work keeps the device
 * dozing rather than asleep (last_work), so that a stream of posted writes
 * rings no doorbell.
 */
int devproc_run(struct devproc *dp)
{
	uint64_t last_poll = now_ns(), last_work = last_poll, spin_from = last_poll, rang_at = 0;
	bool spun = false;	/* the rings' work was found by a spin */
	int err = 0;

	spin_gov_init(&dp->spin);
	if (dp->epoll_fd < 0)	/* devproc_confine made it before the sandbox */
		dp->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (dp->epoll_fd < 0)
		return -errno;
	err = epoll_set(dp, EPOLL_CTL_ADD, dp->doorbell_fd, TAG_DOORBELL);
	if (!err)
		err = epoll_set(dp, EPOLL_CTL_ADD, dp->sock, TAG_CONTROL);
	for (unsigned q = 0; q < dp->nqueues && !err; q++)
		err = epoll_set(dp, EPOLL_CTL_ADD, dp->queue_fds[q], TAG_QUEUE + q);
	if (!err && dp->intx_resample_fd >= 0)
		err = epoll_set(dp, EPOLL_CTL_ADD, dp->intx_resample_fd, TAG_RESAMPLE);
	if (!err && dp->dev.ops->wake)
		err = epoll_set(dp, EPOLL_CTL_ADD, dp->dev.wake_fd, TAG_WAKE);
	if (dp->restored)
		resume_queues(dp);
	sync_backend_polls(dp);
	devproc_shadow_refresh(dp);
	while (!err && !dp->stop) {
		unsigned waited = 0;
		int n = serve_rings(dp, &waited);
		bool busy = false, rang = false;
		uint64_t now, spin_end;
		bool doze;

		if (n < 0)
			return n;
		if (n > 0) {
			last_work = now_ns();
			if (waited && spun)
				spin_gov_paid(&dp->spin);
			else if (waited && rang_at)	/* a spin this long would have caught it */
				spin_gov_slept(&dp->spin, rang_at - spin_from, dp->spin_ns, rang_at);
			if (waited)
				spin_from = last_work;
		}
		spun = false;
		rang_at = 0;
		if (n > 0)
			continue;
		now = now_ns();
		spin_end = spin_from + spin_gov_budget(&dp->spin, dp->spin_ns, now);
		if (now < spin_end) {
			/* Spin to the next look at the fds, or to the budget's end. */
			bool last = last_poll + POLL_EVERY_NS >= spin_end;
			enum spin_end r = spin_for_work(dp, last ? spin_end : last_poll + POLL_EVERY_NS);

			if (r == SPIN_WORK) {
				spun = true;
				continue;
			}
			if (r == SPIN_PREEMPTED)	/* budget 0: the next turn sleeps */
				spin_gov_preempted(&dp->spin, now_ns());
			err = poll_fds(dp, 0, &busy, &rang);
			last_poll = now_ns();
			if (busy) {
				spin_from = last_work = last_poll;
				spin_gov_paid(&dp->spin);
			} else if (r == SPIN_TIMEOUT && last) {
				spin_gov_wasted(&dp->spin, dp->spin_ns);	/* the next turn sleeps */
			}
			continue;
		}
		if (serve_always_ready(dp)) {
			err = poll_fds(dp, 0, &busy, &rang);	/* a file to read: never sleep */
			last_poll = now_ns();
			if (busy)
				spin_from = last_work = last_poll;
			continue;
		}
		doze = now_ns() - last_work < DOZE_WINDOW_NS;
		if (!ring_dev_sleep_begin(dp->ring, doze))
			continue;
		dp->sleeps++;
		err = poll_fds(dp, doze ? (int)(RING_DOZE_NS / 1000000) : -1, &busy, &rang);
		ring_dev_sleep_end(dp->ring);
		last_poll = now_ns();
		if (rang)	/* judged once the rings tell whether a vCPU waits */
			rang_at = last_poll;
		if (busy) {	/* work came spin_from + gap: a spin that long would have caught it */
			spin_gov_slept(&dp->spin, last_poll - spin_from, dp->spin_ns, last_poll);
			spin_from = last_work = last_poll;
		}
	}
	/*
	 * Shutdown can overtake posted writes to this device (the stop came
	 * from another device): apply them, e.g. console bytes, before leaving.
	 */
	if (!err && dp->stop && serve_rings(dp, NULL) < 0)
		err = -EPROTO;
	return err;
}

void devproc_teardown(struct devproc *dp)
{
	if (dp->created)
		dp->dev.ops->destroy(&dp->dev);
	if (dp->ring)
		munmap(dp->ring, dp->ring_size);
	if (dp->state)
		munmap(dp->state, dp->state_size);
	gmem_unmap(&dp->mem);
	control_msg_free(dp->setup_msg);
	dp->setup_msg = NULL;
}
