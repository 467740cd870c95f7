/*
 * Trap rings under load: two producer threads (vCPU 0 and 1) and one
 * consumer thread that behaves like a device process (spin a little, then
 * sleep on the doorbell). The device is a file of 8 registers. Each
 * producer mixes posted writes and reads on its own registers (a read must
 * return exactly its own last write) and on one shared register (a read
 * must never return a value older than its own last write: the causality
 * the gseq order promises). The device publishes its registers as its
 * shadow after each batch it serves, and reads are answered from it where
 * ring_shadow_read allows: the same checks hold for them.
 *
 * Environment: RING_STRESS_OPS (per producer, default 2000000),
 * RING_STRESS_SPIN_NS (both sides in the first round, default 50000),
 * RING_STRESS_MAX_S (stop a round early after this long, default 8: the
 * checks hold for any number of operations, and a loaded 2-core machine
 * can be much slower).
 * Run: meson test -C build --suite ipc ring_stress --verbose
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "ring_test.h"
#include "util.h"

#define NREGS      8
#define PRIV_REGS  3		/* vCPU i owns registers 3i .. 3i+2 */
#define SHARED_REG 7
#define NPROD      2

/* ---- The device: a register file, touched only by the consumer thread ---- */

struct regfile {
	uint64_t reg[NREGS];
};

static int regfile_serve(void *opaque, struct trap *t)
{
	struct regfile *rf = opaque;
	uint64_t i = t->offset / 8;

	if (i >= NREGS)
		return -EINVAL;
	if (t->is_write)
		rf->reg[i] = trap_value(t);
	else
		trap_set_value(t, rf->reg[i]);
	return 0;
}

struct consumer {
	pthread_t thread;
	struct ring_header *h;
	struct ring_shadow *sh;
	int efd;
	uint64_t spin_ns;
	struct regfile rf;
	_Atomic bool stop;
	int err;
	uint64_t sleeps, doorbells, served;
};

/* Every register at every read size: the whole register file is effect-free. */
static void consumer_publish(struct consumer *c)
{
	struct trap_shadow img = { 0 };

	for (unsigned r = 0; r < NREGS; r++)
		for (unsigned len = 1; len <= 8; len *= 2)
			trap_shadow_put(&img, 0, r * 8, len, c->rf.reg[r]);
	ring_shadow_publish(c->sh, &img);
}

static void consumer_sleep(struct consumer *c)
{
	struct pollfd pfd = { .fd = c->efd, .events = POLLIN };
	uint64_t v;

	if (!ring_dev_sleep_begin(c->h, false))
		return;
	c->sleeps++;
	if (poll(&pfd, 1, 100) > 0 && read(c->efd, &v, sizeof(v)) == sizeof(v))
		c->doorbells += v;
	ring_dev_sleep_end(c->h);
}

static void *consumer_main(void *arg)
{
	struct consumer *c = arg;
	uint64_t idle_since = now_ns();

	while (!atomic_load(&c->stop)) {
		int n = ring_consume(c->h, regfile_serve, &c->rf);

		if (n < 0) {
			c->err = n;
			return NULL;
		}
		c->served += (uint64_t)n;
		if (n > 0)
			consumer_publish(c);
		if (n > 0 || ring_pending(c->h)) {
			idle_since = now_ns();
		} else if (now_ns() - idle_since < c->spin_ns) {
			__builtin_ia32_pause();
		} else {
			consumer_sleep(c);
			idle_since = now_ns();
		}
	}
	return NULL;
}

/* ---- The producers ---- */

/* Last shared-register counter each producer has finished posting. */
static _Atomic uint64_t shared_done[NPROD];

struct producer {
	pthread_t thread;
	unsigned id;
	struct ring_producer p;
	struct ring_shadow *sh;
	struct ring_wait_cfg cfg;
	uint64_t ops, done, rng;
	uint64_t stop_at;		/* now_ns() after which to stop early */
	uint64_t shadow[NREGS];
	uint64_t my_ctr;		/* counter of my last shared write */
	uint64_t snap;			/* the other's shared_done before it */
	uint32_t *rtt;
	uint64_t nrtt, slept, from_shadow;
	uint64_t send_err, exact_bad, causal_bad, seen_other;
	int first_err;
};

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t mask_len(uint64_t v, unsigned len)
{
	return len >= 8 ? v : v & ((1ull << (8 * len)) - 1);
}

static int prod_send(struct producer *pr, struct trap *t)
{
	int err;

	t->vcpu = (uint16_t)pr->id;
	err = ring_send(&pr->p, t, false, &pr->cfg);
	if (err && !pr->send_err++)
		pr->first_err = err;
	return err;
}

static int prod_read(struct producer *pr, unsigned reg, unsigned len, uint64_t *v)
{
	struct trap t = { .bus = TRAP_MMIO, .len = (uint8_t)len, .offset = reg * 8u,
			  .vcpu = (uint16_t)pr->id };
	uint64_t t0 = now_ns(), dt;
	int err = 0;

	if (ring_shadow_read(pr->sh, pr->p.h, NPROD, &t))
		pr->from_shadow++;
	else
		err = prod_send(pr, &t);

	dt = now_ns() - t0;
	pr->rtt[pr->nrtt++] = dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
	if (dt >= pr->cfg.spin_ns)
		pr->slept++;
	*v = trap_value(&t);
	return err;
}

static int prod_write(struct producer *pr, unsigned reg, unsigned len, uint64_t v)
{
	struct trap t = { .bus = TRAP_MMIO, .len = (uint8_t)len, .is_write = 1,
			  .offset = reg * 8u };

	trap_set_value(&t, v);
	return prod_send(pr, &t);
}

static void prod_private(struct producer *pr, uint64_t x)
{
	unsigned reg = pr->id * PRIV_REGS + (unsigned)((x >> 8) % PRIV_REGS);
	unsigned len = 1u << ((x >> 12) % 4);
	uint64_t v;

	if ((x & 15) < 12) {
		if (!prod_write(pr, reg, len, x >> 16))
			pr->shadow[reg] = mask_len(x >> 16, len);
		return;
	}
	if (!prod_read(pr, reg, len, &v) && v != mask_len(pr->shadow[reg], len))
		pr->exact_bad++;
}

/* Shared register values: counter << 8 | (producer id + 1). */
static void prod_shared_write(struct producer *pr)
{
	uint64_t snap = atomic_load(&shared_done[!pr->id]);

	if (prod_write(pr, SHARED_REG, 8, (pr->my_ctr + 1) << 8 | (pr->id + 1)))
		return;
	pr->my_ctr++;
	pr->snap = snap;
	atomic_store(&shared_done[pr->id], pr->my_ctr);
}

/*
 * My last write was served before this read. If the register shows the
 * other producer's value, that write was served after mine, so it cannot
 * be one the other had finished posting before mine started.
 */
static void prod_shared_read(struct producer *pr)
{
	uint64_t v;

	if (prod_read(pr, SHARED_REG, 8, &v) || pr->my_ctr == 0)
		return;
	if ((v & 0xff) == pr->id + 1) {
		pr->causal_bad += (v >> 8) != pr->my_ctr;
	} else if ((v & 0xff) == (!pr->id) + 1u) {
		pr->causal_bad += (v >> 8) <= pr->snap;
		pr->seen_other++;
	} else {
		pr->causal_bad++;
	}
}

static void *producer_main(void *arg)
{
	struct producer *pr = arg;

	for (pr->done = 0; pr->done < pr->ops && pr->send_err < 10; pr->done++) {
		uint64_t x = xorshift(&pr->rng);

		if ((pr->done & 4095) == 0 && now_ns() > pr->stop_at)
			break;

		if ((x >> 60) < 12)
			prod_private(pr, x);
		else if ((x >> 60) < 14)
			prod_shared_write(pr);
		else
			prod_shared_read(pr);
	}
	return NULL;
}

/* ---- Running it ---- */

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	uint64_t v;

	if (!s || parse_uint(s, 1, UINT64_MAX / 4, &v))
		return def;
	return v;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void report_rtt(struct producer *pr)
{
	uint32_t *all = malloc((pr[0].nrtt + pr[1].nrtt + 1) * sizeof(*all));
	uint64_t n = 0;

	if (!all)
		return;
	for (unsigned i = 0; i < NPROD; i++) {
		memcpy(all + n, pr[i].rtt, pr[i].nrtt * sizeof(*all));
		n += pr[i].nrtt;
	}
	qsort(all, n, sizeof(*all), cmp_u32);
	if (n)
		printf("# read RTT: %llu reads, median %.2f us, p99 %.2f us, max %.1f us\n",
		       (unsigned long long)n, all[n / 2] / 1e3, all[n * 99 / 100] / 1e3,
		       all[n - 1] / 1e3);
	free(all);
}

static int start_producers(struct producer *pr, struct ring_header *h, int efd,
			   uint64_t ops, uint64_t spin_ns, struct ring_shadow *sh)
{
	uint64_t stop_at = now_ns() + env_u64("RING_STRESS_MAX_S", 8) * 1000000000ull;

	for (unsigned i = 0; i < NPROD; i++) {
		memset(&pr[i], 0, sizeof(pr[i]));
		pr[i].id = i;
		pr[i].ops = ops;
		pr[i].stop_at = stop_at;
		pr[i].rng = 0x9e3779b97f4a7c15ull * (i + 1);
		pr[i].cfg = (struct ring_wait_cfg){ .spin_ns = spin_ns, .deadline_ns = 2000000000 };
		pr[i].sh = sh;
		pr[i].rtt = malloc(ops * sizeof(*pr[i].rtt));
		ring_producer_init(&pr[i].p, h, i, efd, NULL);
		if (!pr[i].rtt || pthread_create(&pr[i].thread, NULL, producer_main, &pr[i]))
			return -1;
	}
	return 0;
}

/* Let the consumer drain what is still posted, then stop it. */
static void stop_consumer(struct consumer *c)
{
	uint64_t t0 = now_ns();

	while (ring_pending(c->h) && now_ns() - t0 < 2000000000)
		usleep(100);
	atomic_store(&c->stop, true);
	if (write(c->efd, &(uint64_t){ 1 }, 8) != 8)
		perror("eventfd");
	pthread_join(c->thread, NULL);
}

static void check_producers(struct producer *pr, struct consumer *c)
{
	for (unsigned i = 0; i < NPROD; i++) {
		bool regs_ok = true;

		CHECK(pr[i].send_err == 0, "vCPU %u: %llu send errors (first %d)", i,
		      (unsigned long long)pr[i].send_err, pr[i].first_err);
		CHECK(pr[i].exact_bad == 0, "vCPU %u: %llu private reads saw a wrong value", i,
		      (unsigned long long)pr[i].exact_bad);
		CHECK(pr[i].causal_bad == 0, "vCPU %u: %llu shared reads went back in time", i,
		      (unsigned long long)pr[i].causal_bad);
		for (unsigned r = i * PRIV_REGS; r < (i + 1) * PRIV_REGS; r++)
			regs_ok = regs_ok && c->rf.reg[r] == pr[i].shadow[r];
		CHECK(regs_ok, "vCPU %u: final register values are its last writes", i);
		CHECK(pr[i].from_shadow > 0, "vCPU %u: %llu of %llu reads answered from the shadow",
		      i, (unsigned long long)pr[i].from_shadow, (unsigned long long)pr[i].nrtt);
		printf("# vCPU %u: %llu reads (%llu saw the other's shared value), "
		       "%llu outlasted the spin budget (slept)\n", i,
		       (unsigned long long)pr[i].nrtt, (unsigned long long)pr[i].seen_other,
		       (unsigned long long)pr[i].slept);
	}
}

/*
 * One round: fresh memory, device and producers. Returns after checking;
 * failures are recorded by CHECK.
 */
static void run_round(uint64_t ops, uint64_t spin_ns)
{
	static struct consumer c;
	static struct producer pr[NPROD];
	struct rt_mem m;
	uint64_t t0;

	memset(&c, 0, sizeof(c));
	memset(shared_done, 0, sizeof(shared_done));
	if (rt_mem_open(&m, NPROD))
		{ CHECK(0, "cannot map ring memory"); return; }
	c.h = m.h;
	c.sh = ring_shadow_of(m.h, NPROD);
	c.efd = m.efd;
	c.spin_ns = spin_ns;
	printf("# round: 2 x %llu ops, spin budget %llu ns\n", (unsigned long long)ops,
	       (unsigned long long)spin_ns);
	t0 = now_ns();
	if (pthread_create(&c.thread, NULL, consumer_main, &c) ||
	    start_producers(pr, m.h, m.efd, ops, spin_ns, c.sh))
		{ CHECK(0, "cannot start threads"); return; }
	for (unsigned i = 0; i < NPROD; i++)
		pthread_join(pr[i].thread, NULL);
	stop_consumer(&c);
	t0 = now_ns() - t0;
	CHECK(c.err == 0, "consumer: no ring error (%d)", c.err);
	ops = pr[0].done + pr[1].done;
	CHECK_EQ(c.served, ops - pr[0].from_shadow - pr[1].from_shadow,
		 "every request not answered from the shadow served exactly once");
	check_producers(pr, &c);
	printf("# %llu ops in %.2f s: %.0f ops/s%s\n", (unsigned long long)ops, t0 / 1e9,
	       ops / (t0 / 1e9), ops < NPROD * pr[0].ops ? " (stopped at the time limit)" : "");
	report_rtt(pr);
	printf("# device slept %llu times, %llu doorbells\n", (unsigned long long)c.sleeps,
	       (unsigned long long)c.doorbells);
	for (unsigned i = 0; i < NPROD; i++)
		free(pr[i].rtt);
	rt_mem_close(&m);
}

/*
 * Two rounds: the spin budget that keeps both sides awake, then a tiny one
 * so that nearly every read and every idle device goes through the
 * sleeping paths (fewer ops: each sleep costs a wake-up).
 */
int main(void)
{
	uint64_t ops = env_u64("RING_STRESS_OPS", 2000000);
	uint64_t spin_ns = env_u64("RING_STRESS_SPIN_NS", 50000);

	run_round(ops, spin_ns);
	run_round(ops / 8 + 1, 1000);
	return check_done();
}
