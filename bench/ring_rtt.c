/*
 * Read round trip through a trap ring between two processes, for several
 * spin budgets: the parent is a vCPU thread (ring_send of reads), a forked
 * child is a device process (ring_consume; when idle for the spin budget it
 * sleeps on its doorbell eventfd). Both sides use the same budget. Between
 * reads the vCPU "runs the guest" for a gap (busy loop), so that the
 * device's idle spin matters too. Prints median and p99 per budget and gap.
 *
 * Run:   build/bench/ring_rtt [iterations per point, default 20000]
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ring.h"
#include "util.h"

struct shared {
	_Atomic bool stop;
	_Atomic uint64_t dev_sleeps;
};

struct bench {
	struct ring_header *h;
	size_t len;
	struct shared *sh;
	int efd;
	uint64_t spin_ns, gap_ns, iters;
};

static int dev_serve(void *opaque, struct trap *t)
{
	trap_set_value(t, t->offset ^ 0x5a5a);
	return 0;
}

static void dev_sleep(struct bench *b)
{
	struct pollfd pfd = { .fd = b->efd, .events = POLLIN };
	uint64_t v;

	if (!ring_dev_sleep_begin(b->h, false))
		return;
	atomic_fetch_add(&b->sh->dev_sleeps, 1);
	if (poll(&pfd, 1, 100) > 0 && read(b->efd, &v, sizeof(v)) < 0)
		perror("doorbell");
	ring_dev_sleep_end(b->h);
}

/* The device process: serve, spin while idle for spin_ns, then sleep. */
static int dev_main(struct bench *b)
{
	uint64_t idle_since = now_ns();

	while (!atomic_load(&b->sh->stop)) {
		int n = ring_consume(b->h, dev_serve, NULL);

		if (n < 0)
			return 1;
		if (n > 0 || ring_pending(b->h))
			idle_since = now_ns();
		else if (now_ns() - idle_since < b->spin_ns)
			__builtin_ia32_pause();
		else {
			dev_sleep(b);
			idle_since = now_ns();
		}
	}
	return 0;
}

static void busy_for(uint64_t ns)
{
	uint64_t t0 = now_ns();

	while (now_ns() - t0 < ns)
		__builtin_ia32_pause();
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The vCPU side: iters reads; fills rtt[] and counts the slow ones. */
static int vcpu_run(struct bench *b, uint64_t *rtt, uint64_t *slow)
{
	struct ring_wait_cfg cfg = { .spin_ns = b->spin_ns, .deadline_ns = 1000000000 };
	struct ring_producer p;

	ring_producer_init(&p, b->h, 0, b->efd, NULL);
	*slow = 0;
	for (uint64_t i = 0; i < b->iters; i++) {
		struct trap t = { .bus = TRAP_PIO, .len = 4, .offset = i & 0xff };
		uint64_t t0 = now_ns();
		int err = ring_send(&p, &t, false, &cfg);

		rtt[i] = now_ns() - t0;
		if (err || trap_value(&t) != ((i & 0xff) ^ 0x5a5a))
			return err ? err : -EIO;
		*slow += rtt[i] >= b->spin_ns;
		busy_for(b->gap_ns);
	}
	return 0;
}

static int run_point(struct bench *b, uint64_t *rtt)
{
	uint64_t slow;
	pid_t pid;
	int err, status;

	if (ring_shm_init(b->h, b->len, 1))
		return -EINVAL;
	atomic_store(&b->sh->stop, false);
	atomic_store(&b->sh->dev_sleeps, 0);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		_exit(dev_main(b));
	err = vcpu_run(b, rtt, &slow);
	atomic_store(&b->sh->stop, true);
	if (write(b->efd, &(uint64_t){ 1 }, 8) != 8)
		perror("doorbell");
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		err = err ? err : -EPROTO;
	if (err)
		return err;
	qsort(rtt, b->iters, sizeof(*rtt), cmp_u64);
	printf("%8.1f %8.1f %10.2f %10.2f %9llu %10llu\n", b->spin_ns / 1e3, b->gap_ns / 1e3,
	       rtt[b->iters / 2] / 1e3, rtt[b->iters * 99 / 100] / 1e3,
	       (unsigned long long)slow, (unsigned long long)atomic_load(&b->sh->dev_sleeps));
	return 0;
}

static int bench_open(struct bench *b)
{
	int fd = memfd_create("ring_rtt", MFD_CLOEXEC);

	b->len = ring_shm_size(1);
	if (fd < 0 || ftruncate(fd, (off_t)b->len) < 0)
		return -errno;
	b->h = mmap(NULL, b->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	b->sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	b->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (b->h == MAP_FAILED || b->sh == MAP_FAILED || b->efd < 0)
		return -errno;
	return 0;
}

int main(int argc, char **argv)
{
	static const uint64_t spins[] = { 0, 1000, 10000, 50000, 200000 };
	static const uint64_t gaps[] = { 0, 20000, 100000 };
	struct bench b = { .iters = 20000 };
	uint64_t *rtt;
	int err;

	if (argc > 1 && parse_uint(argv[1], 100, 100000000, &b.iters)) {
		fprintf(stderr, "usage: %s [iterations per point]\n", argv[0]);
		return 2;
	}
	rtt = malloc(b.iters * sizeof(*rtt));
	if (!rtt || (err = bench_open(&b)) < 0) {
		fprintf(stderr, "ring_rtt: setup failed\n");
		return 1;
	}
	printf("# %s %llu: read RTT, vCPU process <-> device process\n", argv[0],
	       (unsigned long long)b.iters);
	printf("# spin_us   gap_us  median_us     p99_us  vcpu_slow  dev_sleeps\n");
	for (size_t s = 0; s < ARRAY_SIZE(spins); s++) {
		for (size_t g = 0; g < ARRAY_SIZE(gaps); g++) {
			b.spin_ns = spins[s];
			b.gap_ns = gaps[g];
			err = run_point(&b, rtt);
			if (err) {
				fprintf(stderr, "ring_rtt: %s\n", strerror(-err));
				return 1;
			}
		}
	}
	free(rtt);
	return 0;
}
