/*
 * vmm-trace: VM exits of one vmm-monitor, per device region, from KVM's
 * tracepoints (vmm_trace.bpf.c, a CO-RE program loaded through its libbpf
 * skeleton). Accesses are attributed to devices with the table the monitor
 * publishes (common/trap_table.h); what no region claims ("(no region)") is the kernel's
 * own devices (PIC, PIT, IOAPIC, ...).
 *
 *   vmm-trace [--interval S] [--count N] --pid PID
 *   vmm-trace [--interval S] [--count N] -- CMD [ARG...]
 *
 * With --pid it traces a running monitor; with a command it starts it
 * (traced from its first instruction) and exits with its status. Every
 * interval it prints each region's accesses per second, split into those
 * that exited to the monitor and those the kernel served (the ioeventfd
 * fast path for virtio doorbells), and the time from such an exit to the
 * vCPU's next entry (p50/p99, from a log2 histogram: an upper bound).
 * When the monitor ends (or after N intervals, or on SIGINT/SIGTERM) it
 * prints the totals, one "vmm-trace: total ..." line per region.
 * Needs root (BPF) and a kernel with BTF for the kvm module.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>

#include "trap_table.h"
#include "vmm_trace.h"
#include "vmm_trace.skel.h"

#define MAX_ROWS (TRAP_TABLE_MAX + 2)	/* the regions, then the kernel's per bus */

struct row {
	char name[56];
	uint64_t user_reads, user_writes, kernel_reads, kernel_writes, lat_ns;
	uint64_t lat[TRACE_LAT_BUCKETS];
};

struct tracer {
	struct vmm_trace *skel;
	pid_t pid;
	int pidfd;
	int table_fd;
	const struct trap_table *shared;	/* the monitor's, mapped read-only */
	struct trap_table table;		/* the last consistent copy */
	struct row now[MAX_ROWS], before[MAX_ROWS];
	unsigned nrows;
	uint64_t exits_now, user_exits_now, exits_before, user_exits_before;
};

static volatile sig_atomic_t stop_asked;

static void on_stop(int sig)
{
	(void)sig;
	stop_asked = 1;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- The monitor's region table ---- */

/* Find and map the monitor's table memfd; 0, or -ENOENT while it has none. */
static int table_find(struct tracer *t)
{
	char dir[64], link[PATH_MAX], target[PATH_MAX];
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)t->pid);
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		ssize_t n;

		snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strncmp(target, "/memfd:" TRAP_TABLE_NAME " ", strlen("/memfd:" TRAP_TABLE_NAME " ")))
			continue;
		t->table_fd = open(link, O_RDONLY | O_CLOEXEC);
		break;
	}
	closedir(d);
	if (t->table_fd < 0)
		return -ENOENT;
	t->shared = mmap(NULL, sizeof(*t->shared), PROT_READ, MAP_SHARED, t->table_fd, 0);
	if (t->shared == MAP_FAILED) {
		t->shared = NULL;
		close(t->table_fd);
		t->table_fd = -1;
		return -EIO;
	}
	return 0;
}

/* A consistent copy of the table (seqlock), checked; the last good one stays otherwise. */
static void table_read(struct tracer *t)
{
	static struct trap_table copy;

	if (!t->shared && table_find(t))
		return;
	for (int tries = 0; tries < 100; tries++) {
		uint32_t seq = __atomic_load_n(&t->shared->seq, __ATOMIC_ACQUIRE);

		if (seq & 1)
			continue;
		memcpy(&copy, t->shared, sizeof(copy));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&t->shared->seq, __ATOMIC_RELAXED) != seq)
			continue;
		if (copy.magic != TRAP_TABLE_MAGIC || copy.version != TRAP_TABLE_VERSION ||
		    copy.n > TRAP_TABLE_MAX)
			return;
		for (unsigned i = 0; i < copy.n; i++) {
			copy.r[i].name[sizeof(copy.r[i].name) - 1] = '\0';
			copy.r[i].label[sizeof(copy.r[i].label) - 1] = '\0';
		}
		t->table = copy;
		return;
	}
}

/* ---- Counting ---- */

/* The row an address belongs to: its region's, else the kernel's for its bus. */
static struct row *row_of(struct tracer *t, const struct trace_key *k)
{
	unsigned n = t->table.n;

	for (unsigned i = 0; i < n; i++) {
		const struct trap_table_region *r = &t->table.r[i];

		if (r->bus == k->bus && k->addr >= r->base && k->addr - r->base < r->size)
			return &t->now[i];
	}
	return &t->now[n + (k->bus == TRACE_BUS_MMIO)];
}

static void rows_name(struct tracer *t)
{
	unsigned n = t->table.n;

	for (unsigned i = 0; i < n; i++)
		snprintf(t->now[i].name, sizeof(t->now[i].name), "%s %s", t->table.r[i].name,
			 t->table.r[i].label);
	snprintf(t->now[n].name, sizeof(t->now[n].name), "(no region) pio");
	snprintf(t->now[n + 1].name, sizeof(t->now[n + 1].name), "(no region) mmio");
	t->nrows = n + 2;
}

/* Read every map into t->now (cumulative since the start). */
static void collect(struct tracer *t)
{
	int stats_fd = bpf_map__fd(t->skel->maps.stats), exits_fd = bpf_map__fd(t->skel->maps.exits);
	struct trace_key key, next;
	struct trace_stats s;
	__u32 ek, enext;
	bool first = true;

	table_read(t);
	memset(t->now, 0, sizeof(t->now));
	rows_name(t);
	while (bpf_map_get_next_key(stats_fd, first ? NULL : &key, &next) == 0) {
		struct row *r;

		first = false;
		key = next;
		if (bpf_map_lookup_elem(stats_fd, &key, &s))
			continue;
		r = row_of(t, &key);
		r->user_reads += s.user_reads;
		r->user_writes += s.user_writes;
		r->kernel_reads += s.kernel_reads;
		r->kernel_writes += s.kernel_writes;
		r->lat_ns += s.lat_ns;
		for (int b = 0; b < TRACE_LAT_BUCKETS; b++)
			r->lat[b] += s.lat[b];
	}
	t->exits_now = t->user_exits_now = 0;
	first = true;
	while (bpf_map_get_next_key(exits_fd, first ? NULL : &ek, &enext) == 0) {
		__u64 v;

		first = false;
		ek = enext;
		if (bpf_map_lookup_elem(exits_fd, &ek, &v))
			continue;
		if (ek >= TRACE_USER_EXITS)
			t->user_exits_now += v;
		else
			t->exits_now += v;
	}
}

/*
 * Upper bound of the p-th percentile (p in 0..100) in us, from the
 * histogram (exits whose vCPU came back: not the last one of a VM that
 * powered off); NAN if empty, which prints as "nan".
 */
static double percentile_us(const uint64_t *lat, unsigned p)
{
	uint64_t total = 0, want, seen = 0;

	for (int b = 0; b < TRACE_LAT_BUCKETS; b++)
		total += lat[b];
	if (!total)
		return NAN;
	want = (total * p + 99) / 100;
	for (int b = 0; b < TRACE_LAT_BUCKETS; b++) {
		seen += lat[b];
		if (seen >= want)
			return (double)(2ull << b) / 1000.0;
	}
	return (double)(2ull << (TRACE_LAT_BUCKETS - 1)) / 1000.0;
}

static uint64_t user(const struct row *r) { return r->user_reads + r->user_writes; }

static uint64_t lat_count(const struct row *r)
{
	uint64_t n = 0;

	for (int b = 0; b < TRACE_LAT_BUCKETS; b++)
		n += r->lat[b];
	return n;
}
static uint64_t kernel(const struct row *r) { return r->kernel_reads + r->kernel_writes; }

/* One interval's rates: t->now minus t->before, over secs. */
static void print_interval(struct tracer *t, double secs)
{
	printf("vmm-trace: pid %d: %.2f s: %.0f VM exits/s, %.0f to the monitor/s\n",
	       (int)t->pid, secs, (double)(t->exits_now - t->exits_before) / secs,
	       (double)(t->user_exits_now - t->user_exits_before) / secs);
	printf("  %-28s %10s %10s %10s %9s %9s\n", "region", "monitor/s", "kernel/s",
	       "accesses", "p50 us<=", "p99 us<=");
	for (unsigned i = 0; i < t->nrows; i++) {
		const struct row *n = &t->now[i];
		struct row d = *n;
		bool same = strcmp(n->name, t->before[i].name) == 0;

		if (same) {
			d.user_reads -= t->before[i].user_reads;
			d.user_writes -= t->before[i].user_writes;
			d.kernel_reads -= t->before[i].kernel_reads;
			d.kernel_writes -= t->before[i].kernel_writes;
			for (int b = 0; b < TRACE_LAT_BUCKETS; b++)
				d.lat[b] -= t->before[i].lat[b];
		}
		if (!user(&d) && !kernel(&d))
			continue;
		printf("  %-28s %10.0f %10.0f %10llu %9.1f %9.1f\n", d.name, (double)user(&d) / secs,
		       (double)kernel(&d) / secs, (unsigned long long)(user(&d) + kernel(&d)),
		       percentile_us(d.lat, 50), percentile_us(d.lat, 99));
	}
	fflush(stdout);
	memcpy(t->before, t->now, sizeof(t->now));
	t->exits_before = t->exits_now;
	t->user_exits_before = t->user_exits_now;
}

static void print_totals(struct tracer *t, double secs)
{
	printf("vmm-trace: total over %.2f s: %llu VM exits, %llu to the monitor\n", secs,
	       (unsigned long long)t->exits_now, (unsigned long long)t->user_exits_now);
	for (unsigned i = 0; i < t->nrows; i++) {
		const struct row *r = &t->now[i];

		if (!user(r) && !kernel(r))
			continue;
		printf("vmm-trace: total %s: to-monitor %llu (reads %llu, writes %llu) "
		       "in-kernel %llu (reads %llu, writes %llu) p50-us<= %.1f p99-us<= %.1f "
		       "mean-us %.1f\n", r->name, (unsigned long long)user(r),
		       (unsigned long long)r->user_reads, (unsigned long long)r->user_writes,
		       (unsigned long long)kernel(r), (unsigned long long)r->kernel_reads,
		       (unsigned long long)r->kernel_writes, percentile_us(r->lat, 50),
		       percentile_us(r->lat, 99),
		       lat_count(r) ? (double)r->lat_ns / (double)lat_count(r) / 1000.0 : NAN);
	}
	fflush(stdout);
}

/* ---- Setup ---- */

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static int tracer_load(struct tracer *t)
{
	int err;

	libbpf_set_print(libbpf_quiet);
	t->skel = vmm_trace__open();
	if (!t->skel) {
		fprintf(stderr, "vmm-trace: cannot open the BPF program: %s\n", strerror(errno));
		return -1;
	}
	t->skel->rodata->target_tgid = (__u32)t->pid;
	err = vmm_trace__load(t->skel);
	if (!err)
		err = vmm_trace__attach(t->skel);
	if (err) {
		fprintf(stderr, "vmm-trace: cannot load or attach the BPF program on the kvm "
			"tracepoints: %s (%s)\n", strerror(-err),
			access("/sys/kernel/tracing/events/kvm", F_OK) == 0 ? "root? a kernel with BTF?"
			: "no /sys/kernel/tracing/events/kvm: is kvm loaded and tracefs mounted "
			  "(mount -t tracefs tracefs /sys/kernel/tracing)?");
		return -1;
	}
	return 0;
}

/* Fork CMD, held until the tracer is attached: its pid, and the pipe end that releases it. */
static pid_t command_start(char **argv, int *go_fd)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		char c;

		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			_exit(127);	/* the tracer failed: do not run untraced */
		execvp(argv[0], argv);
		fprintf(stderr, "vmm-trace: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(p[0]);
	*go_fd = p[1];
	return pid;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: vmm-trace [--interval S] [--count N] --pid MONITOR_PID\n"
		   "       vmm-trace [--interval S] [--count N] -- vmm-monitor ARGS...\n"
		   "VM exits of one vmm-monitor per device region, from KVM's tracepoints:\n"
		   "accesses per second that exited to the monitor and that the kernel served\n"
		   "(ioeventfd: the virtio fast path), exit-to-entry time p50/p99; totals at\n"
		   "the end. Needs root.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' }, { "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'c' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct tracer t = { .table_fd = -1, .pidfd = -1 };
	double interval = 1.0;
	long count = 0, done = 0;
	int opt, go_fd = -1, status = 0;
	bool own = false;
	uint64_t start, last;

	while ((opt = getopt_long(argc, argv, "+p:i:c:h", opts, NULL)) != -1) {
		char *end;

		switch (opt) {
		case 'p': t.pid = (pid_t)strtol(optarg, &end, 10); break;
		case 'i': interval = strtod(optarg, &end); break;
		case 'c': count = strtol(optarg, &end, 10); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (*end || interval < 0.05 || interval > 3600 || count < 0 || t.pid < 0) {
			fprintf(stderr, "vmm-trace: bad value: %s\n", optarg);
			return 2;
		}
	}
	if ((t.pid > 0) == (optind < argc)) {
		usage(stderr);
		return 2;
	}
	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	signal(SIGPIPE, SIG_IGN);
	if (optind < argc) {
		t.pid = command_start(argv + optind, &go_fd);
		if (t.pid < 0) {
			fprintf(stderr, "vmm-trace: cannot start %s: %s\n", argv[optind], strerror(errno));
			return 1;
		}
		own = true;
	}
	t.pidfd = (int)syscall(SYS_pidfd_open, t.pid, 0);
	if (t.pidfd < 0) {
		fprintf(stderr, "vmm-trace: no process %d: %s\n", (int)t.pid, strerror(errno));
		return 1;
	}
	if (tracer_load(&t)) {
		if (own) {
			close(go_fd);
			waitpid(t.pid, NULL, 0);
		}
		return 1;
	}
	if (own && (write(go_fd, "g", 1) != 1 || close(go_fd) < 0))
		return 1;
	start = last = mono_ns();
	while (!stop_asked && (!count || done < count)) {
		struct pollfd p = { .fd = t.pidfd, .events = POLLIN };
		/* Until its table is found, look every 20 ms: it goes with the monitor's fds. */
		int wait_ms = t.shared ? (int)(interval * 1000) : 20, r;
		uint64_t now;

		r = poll(&p, 1, wait_ms);
		if (!t.shared && r == 0)
			table_find(&t);
		now = mono_ns();
		if (now - last >= (uint64_t)(interval * 1e9)) {
			collect(&t);
			print_interval(&t, (double)(now - last) / 1e9);
			last = now;
			done++;
		}
		if (r > 0)
			break;	/* the monitor ended */
	}
	collect(&t);
	print_totals(&t, (double)(mono_ns() - start) / 1e9);
	if (own) {
		if (stop_asked)
			kill(t.pid, SIGTERM);
		if (waitpid(t.pid, &status, 0) == t.pid)
			status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
	vmm_trace__destroy(t.skel);
	return own ? status : 0;
}
