#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "vm.h"
#include "vsock_broker.h"

void cli_usage(FILE *f)
{
	fprintf(f,
"usage: vmm-monitor --kernel FILE [options]\n"
"\n"
"Run one " CLI_ARCH_NAME " virtual machine on KVM. The guest's serial console is this\n"
"terminal: Ctrl-A x quits, Ctrl-A Ctrl-A sends Ctrl-A.\n"
"\n"
"  --kernel FILE     " CLI_KERNEL_HELP "\n"
"  --initrd FILE     initial ramdisk, placed high in guest RAM\n"
"  --cmdline STR     kernel command line (default \"%s\")\n"
"  --mem SIZE        guest RAM, suffix K/M/G (default 256M, at least %lluM,\n"
"                    at most the host's RAM, a multiple of 4K)\n"
"  --cpus N          number of vCPUs (default 1, at most what KVM allows)\n"
"  --devices MODE    process: one vmm-devproc process per device (default);\n"
"                    inproc: devices inside the monitor (the baseline)\n"
"  --sandbox MODE    confinement of the device processes: strict (default):\n"
"                    namespaces, empty root, Landlock, no capabilities and a\n"
"                    seccomp profile per class, a syscall outside it stops the\n"
"                    VM; log: the same, but such syscalls are reported and run;\n"
"                    off: no confinement (debugging). The monitor's own threads\n"
"                    get a seccomp profile each in strict and log mode too.\n"
"                    --devices inproc cannot be confined: it takes the default\n"
"                    or off, not strict|log\n"
"  --print-profile THREAD  print the seccomp profile of the monitor's main or\n"
"                    vcpu threads and exit (vmm-devproc --print-profile CLASS\n"
"                    prints a device's)\n"
"  --disk path=FILE[,readonly=on][,direct=on][,aio=native|threads][,serial=S]\n"
"                    attach FILE (a raw image) as a virtio-blk disk; repeatable\n"
"                    (at most %d); readonly disks refuse writes; direct=on\n"
"                    bypasses the host's page cache (O_DIRECT); aio: Linux AIO\n"
"                    (native, default) or I/O threads\n"
"  --net tap=NAME[,mac=MAC][,queues=N]\n"
"                    add a virtio-net on the existing tap NAME (ip tuntap add\n"
"                    NAME mode tap [multi_queue]); repeatable (at most %d);\n"
"                    MAC: six hex pairs, unicast (default 52:54:00:12:34:56);\n"
"                    queues: 1 to 4 queue pairs (more than 1: a multi_queue tap)\n"
"  --console out=FILE[,in=FILE]\n"
"                    add a virtio-console: guest output appended to FILE,\n"
"                    guest input read from in=FILE (a file or FIFO)\n"
"  --vsock cid=N,socket=PATH\n"
"                    add a virtio-vsock with guest CID N (3 to 4294967294); host\n"
"                    programs connect to PATH and write \"CONNECT <port>\\n\";\n"
"                    guest connections to host port P reach PATH_P\n"
"  --spin-us N       a vCPU waiting for a device spins at most N us before\n"
"                    sleeping, as long as spinning pays (default %u)\n"
"  --device-spin-us N  a device process spins at most N us for the next\n"
"                    access before sleeping, as long as spinning pays (default %u)\n"
"  --device-timeout-ms N  a device that leaves a read unanswered this long\n"
"                    has failed: it is killed and replaced (default %u);\n"
"                    one the host keeps from running is waited for, 60 s at most\n"
"  --device-restart N  a device process that dies or hangs is replaced, and\n"
"                    the guest goes on, up to N times per device per minute;\n"
"                    then, or with 0, the VM stops (default %u, at most %u)\n"
"  --device-restart-violations  replace a device its sandbox stopped, too\n"
"                    (by default a sandbox violation stops the VM)\n"
"  --api-socket PATH serve the control API (vmm-ctl) on a Unix socket at PATH\n"
"                    (mode 0600; the monitor's user and root only)\n"
"  --record-traps FILE  append every trapped access the devices serve to FILE\n"
"                    (text; tests/fuzz/seeds.py turns it into fuzz seeds)\n"
"  -v, --verbose     log debug detail (unclaimed accesses, trap counts)\n"
"  -h, --help        show this text\n"
"  --version         show the version\n"
"\n"
"Exit status: 0 the guest powered off, reset or was quit; 1 the VM failed\n"
"(triple fault, KVM error, device failure); 2 bad command line or input;\n"
"3 no usable /dev/kvm (scripts/kvm-machine.sh runs a VM where there is none).\n",
		CLI_DEFAULT_CMDLINE, (unsigned long long)(VM_MIN_MEM >> 20), MACHINE_MAX_DISKS,
		MACHINE_MAX_NICS,
		CLI_DEFAULT_VCPU_SPIN_US, CLI_DEFAULT_DEV_SPIN_US, CLI_DEFAULT_DEV_TIMEOUT_MS,
		CLI_DEFAULT_DEV_RESTART, CLI_MAX_DEV_RESTART);
}

static int opt_mem(const char *arg, uint64_t host_mem, uint64_t *out, FILE *err)
{
	int r = parse_size(arg, out);

	if (r) {
		fprintf(err, "vmm-monitor: --mem %s: not a size (use e.g. 256M or 2G)\n", arg);
		return -EINVAL;
	}
	if (*out < VM_MIN_MEM) {
		fprintf(err, "vmm-monitor: --mem %s: too small, the minimum is %lluM\n", arg,
			(unsigned long long)(VM_MIN_MEM >> 20));
		return -EINVAL;
	}
	if (host_mem && *out > host_mem) {
		fprintf(err, "vmm-monitor: --mem %s: more than this host's %llu MiB of RAM\n",
			arg, (unsigned long long)(host_mem >> 20));
		return -EINVAL;
	}
	if (*out & 0xfff) {
		fprintf(err, "vmm-monitor: --mem %s: not a multiple of 4K\n", arg);
		return -EINVAL;
	}
	return 0;
}

static int opt_cpus(const char *arg, unsigned max_cpus, unsigned *out, FILE *err)
{
	uint64_t v;

	if (parse_uint(arg, 1, max_cpus, &v)) {
		fprintf(err, "vmm-monitor: --cpus %s: must be a number from 1 to %u\n", arg,
			max_cpus);
		return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}

/* Match arg against names[]; the index, or -EINVAL with a message. */
static int opt_choice(const char *opt, const char *arg, const char *const *names,
		      int n, FILE *err)
{
	for (int i = 0; i < n; i++)
		if (strcmp(arg, names[i]) == 0)
			return i;
	fprintf(err, "vmm-monitor: --%s %s: must be one of", opt, arg);
	for (int i = 0; i < n; i++)
		fprintf(err, " %s", names[i]);
	fprintf(err, "\n");
	return -EINVAL;
}

enum { OPT_KERNEL = 256, OPT_INITRD, OPT_CMDLINE, OPT_MEM, OPT_CPUS, OPT_DEVICES,
       OPT_SANDBOX, OPT_VERSION, OPT_SPIN, OPT_DEV_SPIN, OPT_DEV_TIMEOUT, OPT_DISK, OPT_NET,
       OPT_CONSOLE, OPT_VSOCK, OPT_RECORD_TRAPS, OPT_PRINT_PROFILE, OPT_API_SOCKET,
       OPT_DEV_RESTART, OPT_DEV_RESTART_VIOLATIONS };

static const struct option long_opts[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "mem", required_argument, NULL, OPT_MEM },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "devices", required_argument, NULL, OPT_DEVICES },
	{ "sandbox", required_argument, NULL, OPT_SANDBOX },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "net", required_argument, NULL, OPT_NET },
	{ "console", required_argument, NULL, OPT_CONSOLE },
	{ "vsock", required_argument, NULL, OPT_VSOCK },
	{ "spin-us", required_argument, NULL, OPT_SPIN },
	{ "device-spin-us", required_argument, NULL, OPT_DEV_SPIN },
	{ "device-timeout-ms", required_argument, NULL, OPT_DEV_TIMEOUT },
	{ "device-restart", required_argument, NULL, OPT_DEV_RESTART },
	{ "device-restart-violations", no_argument, NULL, OPT_DEV_RESTART_VIOLATIONS },
	{ "record-traps", required_argument, NULL, OPT_RECORD_TRAPS },
	{ "print-profile", required_argument, NULL, OPT_PRINT_PROFILE },
	{ "api-socket", required_argument, NULL, OPT_API_SOCKET },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

/* A bounded decimal option scaled to nanoseconds. */
static int opt_ns(const char *opt, const char *arg, uint64_t min, uint64_t max,
		  uint64_t scale, uint64_t *out, FILE *err)
{
	uint64_t v;

	if (parse_uint(arg, min, max, &v)) {
		fprintf(err, "vmm-monitor: --%s %s: must be a number from %llu to %llu\n", opt, arg,
			(unsigned long long)min, (unsigned long long)max);
		return -EINVAL;
	}
	*out = v * scale;
	return 0;
}

/*
 * Split "k1=v1,k2=v2" in place: calls fn for each pair. Returns 0 or the
 * first non-zero fn result; a pair without '=' is an error (-EINVAL).
 */
static int kv_each(char *s, int (*fn)(void *ctx, const char *k, const char *v), void *ctx)
{
	for (char *save = NULL, *tok = strtok_r(s, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		int r;

		if (!eq || eq == tok)
			return -EINVAL;
		*eq = '\0';
		r = fn(ctx, tok, eq + 1);
		if (r)
			return r;
	}
	return 0;
}

static int onoff(const char *v, bool *out)
{
	if (strcmp(v, "on") == 0 || strcmp(v, "off") == 0) {
		*out = v[1] == 'n';
		return 0;
	}
	return -EINVAL;
}

static int disk_kv(void *ctx, const char *k, const char *v)
{
	struct machine_disk *d = ctx;

	if (strcmp(k, "path") == 0 && *v)
		d->path = v;
	else if (strcmp(k, "readonly") == 0)
		return onoff(v, &d->readonly);
	else if (strcmp(k, "direct") == 0)
		return onoff(v, &d->direct);
	else if (strcmp(k, "aio") == 0 && (strcmp(v, "threads") == 0 || strcmp(v, "native") == 0))
		d->aio = v;
	else if (strcmp(k, "serial") == 0 && strlen(v) <= 20)
		d->serial = v;
	else
		return -EINVAL;
	return 0;
}

/*
 * One more of a repeatable key=value option (--disk, --net): item, the
 * next of *count slots (at most max `noun`), is cleared (size bytes) and filled by fn from
 * a copy of arg, which stays (the item's strings point into it); *required
 * must be set by then. Otherwise one line on err, showing `want`.
 */
static int opt_item(FILE *err, const char *opt, char *arg, unsigned *count, unsigned max,
		    const char *noun, int (*fn)(void *ctx, const char *k, const char *v), void *item, size_t size,
		    const char *const *required, const char *want)
{
	char *copy;

	if (*count >= max) {
		fprintf(err, "vmm-monitor: %s: at most %u %s\n", opt, max, noun);
		return -EINVAL;
	}
	memset(item, 0, size);
	copy = strdup(arg);	/* strtok_r writes; keep argv intact for ps */
	if (!copy || kv_each(copy, fn, item) || !*required) {
		fprintf(err, "vmm-monitor: %s %s: want %s\n", opt, arg, want);
		free(copy);
		return -EINVAL;
	}
	(*count)++;
	return 0;
}

static int opt_disk(char *arg, struct machine_opts *m, FILE *err)
{
	struct machine_disk *d = &m->disk[m->ndisks < MACHINE_MAX_DISKS ? m->ndisks : 0];

	return opt_item(err, "--disk", arg, &m->ndisks, MACHINE_MAX_DISKS, "disks", disk_kv, d, sizeof(*d),
			&d->path, "path=FILE[,readonly=on|off][,direct=on|off]"
			"[,aio=native|threads][,serial=S (at most 20 bytes)]");
}

static int net_kv(void *ctx, const char *k, const char *v)
{
	struct machine_nic *n = ctx;
	uint8_t mac[6];
	uint64_t q;

	if (strcmp(k, "tap") == 0 && *v && strlen(v) < IFNAMSIZ && !strchr(v, '/'))
		n->tap = v;
	else if (strcmp(k, "mac") == 0 && parse_mac(v, mac) == 0)
		n->mac = v;
	else if (strcmp(k, "queues") == 0 && parse_uint(v, 1, MACHINE_MAX_NIC_QUEUES, &q) == 0)
		n->queues = v;
	else
		return -EINVAL;
	return 0;
}

static int opt_net(char *arg, struct machine_opts *m, FILE *err)
{
	struct machine_nic *n = &m->nic[m->nnics < MACHINE_MAX_NICS ? m->nnics : 0];
	char want[96];

	snprintf(want, sizeof(want), "tap=NAME (at most %d bytes)[,mac=xx:xx:xx:xx:xx:xx "
		 "(unicast)][,queues=1..%d]", IFNAMSIZ - 1, MACHINE_MAX_NIC_QUEUES);
	return opt_item(err, "--net", arg, &m->nnics, MACHINE_MAX_NICS, "NICs", net_kv, n, sizeof(*n),
			&n->tap, want);
}

static int console_kv(void *ctx, const char *k, const char *v)
{
	struct machine_opts *m = ctx;

	if (strcmp(k, "out") == 0 && *v)
		m->console_out = v;
	else if (strcmp(k, "in") == 0 && *v)
		m->console_in = v;
	else
		return -EINVAL;
	return 0;
}

static int opt_console(char *arg, struct machine_opts *m, FILE *err)
{
	char *copy = strdup(arg);

	if (!copy || kv_each(copy, console_kv, m) || !m->console_out) {
		fprintf(err, "vmm-monitor: --console %s: want out=FILE[,in=FILE]\n", arg);
		free(copy);
		return -EINVAL;
	}
	return 0;	/* copy stays: the console's paths point into it */
}

static int vsock_kv(void *ctx, const char *k, const char *v)
{
	struct machine_opts *m = ctx;
	uint64_t cid;

	if (strcmp(k, "cid") == 0 && parse_uint(v, 3, 4294967294ull, &cid) == 0)
		m->vsock_cid = v;
	else if (strcmp(k, "socket") == 0 && *v && strlen(v) <= VSOCK_BROKER_PATH_MAX)
		m->vsock_socket = v;
	else
		return -EINVAL;
	return 0;
}

/* At most one --vsock: its CID is the guest's one address. */
static int opt_vsock(char *arg, struct machine_opts *m, FILE *err)
{
	char *copy;

	if (m->vsock_socket) {
		fprintf(err, "vmm-monitor: --vsock %s: at most one --vsock\n", arg);
		return -EINVAL;
	}
	copy = strdup(arg);
	if (!copy || kv_each(copy, vsock_kv, m) || !m->vsock_cid || !m->vsock_socket) {
		fprintf(err, "vmm-monitor: --vsock %s: want cid=3..4294967294,socket=PATH "
			"(at most %d bytes)\n", arg, VSOCK_BROKER_PATH_MAX);
		free(copy);
		return -EINVAL;
	}
	return 0;	/* copy stays: the option's strings point into it */
}

static int cli_option(int c, const char *arg, struct cli_opts *o, uint64_t host_mem,
		      unsigned max_cpus, FILE *err)
{
	static const char *const devices[] = { "inproc", "process" };
	static const char *const sandbox[] = { "strict", "log", "off" };
	int r;

	switch (c) {
	case OPT_KERNEL: o->kernel = arg; return 0;
	case OPT_INITRD: o->initrd = arg; return 0;
	case OPT_CMDLINE: o->cmdline = arg; return 0;
	case OPT_RECORD_TRAPS: o->record_traps = arg; return 0;
	case OPT_MEM: return opt_mem(arg, host_mem, &o->mem_size, err);
	case OPT_CPUS: return opt_cpus(arg, max_cpus, &o->ncpus, err);
	case OPT_DEVICES:
		r = opt_choice("devices", arg, devices, 2, err);
		o->devices = r == 1 ? CLI_DEVICES_PROCESS : CLI_DEVICES_INPROC;
		return r < 0 ? r : 0;
	case OPT_SANDBOX:
		r = opt_choice("sandbox", arg, sandbox, 3, err);
		o->sandbox = (enum cli_sandbox)(r + 1);
		return r < 0 ? r : 0;
	case OPT_DISK: return opt_disk((char *)arg, &o->machine, err);
	case OPT_NET: return opt_net((char *)arg, &o->machine, err);
	case OPT_CONSOLE: return opt_console((char *)arg, &o->machine, err);
	case OPT_VSOCK: return opt_vsock((char *)arg, &o->machine, err);
	case OPT_SPIN:
		return opt_ns("spin-us", arg, 0, 1000000, 1000, &o->vcpu_spin_ns, err);
	case OPT_DEV_SPIN:
		return opt_ns("device-spin-us", arg, 0, 1000000, 1000, &o->dev_spin_ns, err);
	case OPT_DEV_TIMEOUT:
		return opt_ns("device-timeout-ms", arg, 10, 600000, 1000000, &o->dev_timeout_ns, err);
	case OPT_DEV_RESTART: {
		uint64_t n;

		if (parse_uint(arg, 0, CLI_MAX_DEV_RESTART, &n)) {
			fprintf(err, "vmm-monitor: --device-restart %s: want 0 to %u\n", arg,
				CLI_MAX_DEV_RESTART);
			return -EINVAL;
		}
		o->dev_restart = (unsigned)n;
		return 0;
	}
	case OPT_DEV_RESTART_VIOLATIONS: o->dev_restart_violations = true; return 0;
	case 'v': o->verbose = true; return 0;
	case 'h': o->help = true; return 0;
	case OPT_API_SOCKET:
		if (o->api_socket) {
			fprintf(err, "vmm-monitor: --api-socket given twice\n");
			return -EINVAL;
		}
		o->api_socket = arg;
		return 0;
	case OPT_PRINT_PROFILE: {
		static const char *const threads[] = { "main", "vcpu" };

		r = opt_choice("print-profile", arg, threads, 2, err);
		o->print_profile = r < 0 ? NULL : threads[r];
		return r < 0 ? r : 0;
	}
	case OPT_VERSION: o->version = true; return 0;
	}
	/* getopt_long already printed "unrecognized option" or similar. */
	fprintf(err, "vmm-monitor: bad command line (see --help)\n");
	return -EINVAL;
}

int cli_parse(int argc, char **argv, struct cli_opts *o, uint64_t host_mem,
	      unsigned max_cpus, FILE *err)
{
	int c;

	*o = (struct cli_opts){ .cmdline = CLI_DEFAULT_CMDLINE, .mem_size = CLI_DEFAULT_MEM,
				.ncpus = 1, .devices = CLI_DEVICES_PROCESS,
				.vcpu_spin_ns = CLI_DEFAULT_VCPU_SPIN_US * 1000ull,
				.dev_spin_ns = CLI_DEFAULT_DEV_SPIN_US * 1000ull,
				.dev_timeout_ns = CLI_DEFAULT_DEV_TIMEOUT_MS * 1000000ull,
				.dev_restart = CLI_DEFAULT_DEV_RESTART };
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "vh", long_opts, NULL)) != -1) {
		if (c == '?') {
			fprintf(err, "vmm-monitor: unknown option or missing argument: %s\n",
				argv[optind - 1]);
			return -EINVAL;
		}
		if (cli_option(c, optarg, o, host_mem, max_cpus, err))
			return -EINVAL;
	}
	if (optind < argc) {
		fprintf(err, "vmm-monitor: unexpected argument: %s\n", argv[optind]);
		return -EINVAL;
	}
	if (!o->help && !o->version && !o->print_profile && !o->kernel) {
		fprintf(err, "vmm-monitor: --kernel FILE is required (see --help)\n");
		return -EINVAL;
	}
	if (host_mem && o->mem_size > host_mem) {
		fprintf(err, "vmm-monitor: default --mem is more than this host's RAM\n");
		return -EINVAL;
	}
	if (o->devices == CLI_DEVICES_INPROC &&
	    (o->sandbox == CLI_SANDBOX_STRICT || o->sandbox == CLI_SANDBOX_LOG)) {
		fprintf(err, "vmm-monitor: --sandbox %s: --devices inproc runs the devices inside "
			"the monitor, which cannot confine them (use --devices process)\n",
			o->sandbox == CLI_SANDBOX_STRICT ? "strict" : "log");
		return -EINVAL;
	}
	return 0;
}
