/*
 * The monitor's threads' seccomp profiles and their loading: see
 * confine.h. Each rule says who needs it; confine_print_profile shows
 * them. Rules that name an fd are filled in when the VM exists.
 */
#include "confine.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "arch.h"
#include "log.h"
#include "util.h"

#define CONFINE_MAX_RULES 48
#define CONFINE_MAX_SYSCALLS 40

/* Placeholders in the tables, replaced by the real fds (rules_fill). */
#define FD_VM 0x7fff0001ull
#define FD_VCPU 0x7fff0002ull
#define FD_API 0x7fff0003ull

/* Every thread: memory, locks, clocks, logging, leaving. */
static const struct sandbox_rule common_rules[] = {
	SB_ANY("read", "drain eventfds (stop, wake, doorbells); the terminal; /proc files"),
	SB_ANY("write", "log lines to stderr; eventfds; the console's output"),
	SB_ANY("futex", "glibc's locks; a vCPU's wait on a device's completion word"),
	SB_ANY("clock_gettime", "deadlines and spin budgets, when the vDSO falls back to it"),
	SB_IF("mmap", "malloc (never executable)", 1,
	      SB_MASKED(2, PROT_EXEC, 0, "prot without PROT_EXEC")),
	SB_IF("mprotect", "malloc grows a thread's arena (never executable)", 1,
	      SB_MASKED(2, PROT_EXEC, 0, "prot without PROT_EXEC")),
	SB_ANY("munmap", "free; guest RAM and the rings at the end"),
	SB_ANY("brk", "malloc's main heap"),
	SB_IF("madvise", "free's trimming; a thread's stack at its end", 1,
	      SB_EQ(2, MADV_DONTNEED, "advice == MADV_DONTNEED")),
	SB_ANY("rt_sigreturn", "return from a signal handler (stop signals, the vCPU kick)"),
	SB_ANY("restart_syscall", "a sleep interrupted by a signal"),
	SB_ANY("clock_nanosleep", "short naps while a device or thread is awaited"),
	SB_ANY("exit_group", "the end, or after a violation report"),
	SB_IF("ioctl", "the terminal's settings given back on a crash (tcsetattr TCSAFLUSH)", 1,
	      SB_EQ(1, TCSETSF, "request == TCSETSF")),
	SB_IF("ioctl", "tcsetattr reads the settings back to check them", 1,
	      SB_EQ(1, TCGETS, "request == TCGETS")),
};

/* /proc reads: how busy a device that does not answer is (proc_activity.c). */
static const struct sandbox_rule proc_rules[] = {
	SB_IF("openat", "read a slow device's threads' files in /proc (read-only)", 1,
	      SB_MASKED(2, O_ACCMODE | O_CREAT | O_TRUNC, O_RDONLY, "flags read-only, no O_CREAT")),
	SB_ANY("getdents64", "list a slow device's threads in /proc"),
	SB_ANY("newfstatat", "opendir's look at the directory"),
	SB_ANY("close", "files read in /proc; fds of devices and the VM at the end"),
	SB_IF("pidfd_send_signal", "kill a device that does not answer or misbehaves", 1,
	      SB_EQ(1, SIGKILL, "sig == SIGKILL")),
};

static const struct sandbox_rule vcpu_rules[] = {
	SB_IF("ioctl", "run the guest", 2, SB_EQ(0, FD_VCPU, "fd == its own vCPU's"),
	      SB_EQ(1, KVM_RUN, "request == KVM_RUN")),
	SB_IF("ioctl", "registers for a guest fault's report", 2,
	      SB_EQ(0, FD_VCPU, "fd == its own vCPU's"),
	      SB_EQ(1, ARCH_VCPU_WHERE_IOCTL, "request == " ARCH_VCPU_WHERE_IOCTL_NAME)),
	SB_IF("ioctl", "the guest programs an MSI-X vector: its route", 2,
	      SB_EQ(0, FD_VM, "fd == the VM's"),
	      SB_EQ(1, KVM_SET_GSI_ROUTING, "request == KVM_SET_GSI_ROUTING")),
	SB_IF("ioctl", "the guest switches a function between INTx and MSI-X", 2,
	      SB_EQ(0, FD_VM, "fd == the VM's"), SB_EQ(1, KVM_IRQFD, "request == KVM_IRQFD")),
	SB_IF("ioctl", "the guest enables or resets a virtqueue: its doorbell", 2,
	      SB_EQ(0, FD_VM, "fd == the VM's"), SB_EQ(1, KVM_IOEVENTFD, "request == KVM_IOEVENTFD")),
	SB_ANY("sched_yield", "give way while a device is busy (trap bus)"),
	SB_IF("rt_sigprocmask", "glibc blocks signals in a thread that ends", 1,
	      SB_EQ(0, SIG_BLOCK, "how == SIG_BLOCK")),
	SB_ANY("exit", "the thread ends (the VM stops)"),
};

static const struct sandbox_rule main_rules[] = {
	SB_ANY(SB_SYS_POLL, "the control loop; waits for devices and helpers"),
	SB_ANY("ppoll", "the control loop; waits for devices and helpers"),
	SB_ANY("recvmsg", "device control messages (READY, events, logs, stats, violations)"),
	SB_ANY("sendmsg", "Shutdown and stats requests to devices; the spawner's requests"),
	SB_IF("waitid", "reap a device process through its pidfd", 1,
	      SB_EQ(0, P_PIDFD, "idtype == P_PIDFD")),
	SB_ANY("wait4", "reap the spawner and the vsock broker at the end"),
	SB_IF("kill", "a helper that does not exit in time", 1, SB_EQ(1, SIGKILL, "sig == SIGKILL")),
	SB_IF("tgkill", "kick a vCPU out of KVM_RUN when the VM stops", 1,
	      SB_EQ(2, SIGUSR1, "sig == SIGUSR1 (the kick)")),
	SB_IF("ioctl", "irqfds deassigned at the end", 2, SB_EQ(0, FD_VM, "fd == the VM's"),
	      SB_EQ(1, KVM_IRQFD, "request == KVM_IRQFD")),
	SB_IF("ioctl", "doorbells deassigned at the end", 2, SB_EQ(0, FD_VM, "fd == the VM's"),
	      SB_EQ(1, KVM_IOEVENTFD, "request == KVM_IOEVENTFD")),
	SB_IF("socketpair", "a replacement device process's control socket", 2,
	      SB_EQ(0, AF_UNIX, "domain == AF_UNIX"),
	      SB_EQ(1, SOCK_SEQPACKET | SOCK_CLOEXEC, "type == SOCK_SEQPACKET | SOCK_CLOEXEC")),
	SB_IF("fcntl", "the console input pipe's size", 1,
	      SB_EQ(1, F_GETPIPE_SZ, "cmd == F_GETPIPE_SZ")),
	SB_IF("fcntl", "a replacement device process's control socket never blocks", 2,
	      SB_EQ(1, F_SETFL, "cmd == F_SETFL"), SB_EQ(2, O_NONBLOCK, "flags == O_NONBLOCK")),
	SB_IF("ioctl", "how much console input waits in its pipe", 1,
	      SB_EQ(1, FIONREAD, "request == FIONREAD")),
};

/* The control API (api.h), with --api-socket. */
static const struct sandbox_rule api_rules[] = {
	SB_IF("accept4", "control API clients", 1, SB_EQ(0, FD_API, "fd == the API's listener")),
	SB_IF("getsockopt", "an API client's uid (SO_PEERCRED)", 2,
	      SB_EQ(1, SOL_SOCKET, "level == SOL_SOCKET"), SB_EQ(2, SO_PEERCRED, "SO_PEERCRED")),
	SB_ANY(SB_SYS_UNLINK, "remove the API socket at the end (Landlock: in its directory only)"),
};

struct role {
	char name[16];		/* "main", "vcpu0" */
	struct sandbox_rule rules[CONFINE_MAX_RULES];
	struct sandbox_profile profile;
	struct sandbox_thread_filter filter;
};

struct confine {
	enum sandbox_mode mode;
	int landlock_fd;	/* every thread's ruleset: read /proc, nothing else; -1: none */
	int landlock_abi;
	unsigned ncpus;
	struct role main;
	struct role *vcpus;	/* [ncpus] */
};

/* The calling thread's name, for the report (signal context). */
static __thread const char *thread_name = "?";

static void report_write(const char *s)
{
	ssize_t r = write(STDERR_FILENO, s, strlen(s));

	(void)r;
}

/* Signal context: only writes. */
static void confine_report(int nr, uint32_t arch, bool allowed, void *opaque)
{
	const char *name = sandbox_syscall_name_safe(nr);
	char num[16];
	size_t i = sizeof(num);
	unsigned n = nr < 0 ? 0 : (unsigned)nr;

	(void)arch;
	(void)opaque;
	num[--i] = '\0';
	do
		num[--i] = (char)('0' + n % 10);
	while ((n /= 10) && i > 0);
	report_write(allowed ? "vmm-monitor: sandbox log: thread " : "vmm-monitor: thread ");
	report_write(thread_name);
	report_write(allowed ? ": syscall " : " made a forbidden syscall ");
	report_write(name ? name : "?");
	report_write(" (");
	report_write(num + i);
	report_write(allowed ? ") is not in its profile; allowed\n"
			     : "): the monitor stops (sandbox strict)\n");
}

/* Append table to r's rules, fds filled in. */
struct fds {
	int vm, vcpu, api;
};

static void rules_add(struct role *r, const struct sandbox_rule *table, size_t n,
		      const struct fds *fds)
{
	for (size_t i = 0; i < n && r->profile.nrules < CONFINE_MAX_RULES; i++) {
		struct sandbox_rule rule = table[i];

		for (unsigned a = 0; a < rule.nargs; a++) {
			if (rule.args[a].value == FD_VM)
				rule.args[a].value = (uint64_t)fds->vm;
			else if (rule.args[a].value == FD_VCPU)
				rule.args[a].value = (uint64_t)fds->vcpu;
			else if (rule.args[a].value == FD_API)
				rule.args[a].value = (uint64_t)fds->api;
		}
		r->rules[r->profile.nrules++] = rule;
	}
}

/* A role's profile: the common rules, /proc's, then its own (main: the API's if it has one). */
static void role_init(struct role *r, const char *name, bool vcpu, const struct fds *fds)
{
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->profile = (struct sandbox_profile){ .klass = r->name, .rules = r->rules,
					       .no_base = true,
					       .max_syscalls = CONFINE_MAX_SYSCALLS };
	rules_add(r, common_rules, ARRAY_SIZE(common_rules), fds);
	rules_add(r, proc_rules, ARRAY_SIZE(proc_rules), fds);
	if (vcpu)
		rules_add(r, vcpu_rules, ARRAY_SIZE(vcpu_rules), fds);
	else
		rules_add(r, main_rules, ARRAY_SIZE(main_rules), fds);
	if (!vcpu && fds->api >= 0)
		rules_add(r, api_rules, ARRAY_SIZE(api_rules), fds);
}

static int role_build(struct confine *c, struct role *r)
{
	struct sandbox_config cfg = { .mode = c->mode, .profile = &r->profile,
				      .report = confine_report };
	struct sandbox_result res = { 0 };
	int err = sandbox_thread_filter_build(&cfg, &r->filter, &res);

	r->filter.landlock_fd = c->landlock_fd;
	if (err)
		log_err("cannot build the seccomp filter of the monitor's thread %s: %s", r->name,
			res.detail[0] ? res.detail : strerror(-err));
	return err;
}

/*
 * Files: everything the command line names was opened during set-up; what
 * is left is reading /proc (proc_activity.c). A kernel without Landlock is
 * said once, as for devices.
 */
static int landlock_make(const char *api_path, int *abi, int *err)
{
	struct sandbox_result res = { 0 };
	char dir[PATH_MAX];
	int fd;

	/* The API socket's directory: its file is removed at the end. */
	snprintf(dir, sizeof(dir), "%s", api_path ? api_path : "");
	if (api_path && strrchr(dir, '/'))
		*(strrchr(dir, '/') == dir ? dir + 1 : strrchr(dir, '/')) = '\0';
	else if (api_path)
		snprintf(dir, sizeof(dir), ".");
	fd = sandbox_thread_landlock("/proc", api_path ? dir : NULL, abi, &res);

	*err = 0;
	if (fd == -1 && *abi == 0)
		log_warn("warning: this kernel has no Landlock: the monitor's file access is "
			 "limited by its seccomp profiles only");
	else if (fd < 0) {
		*err = fd;
		log_err("cannot confine the monitor: %s", res.detail);
	}
	return fd < 0 ? -1 : fd;
}

struct confine *confine_prepare(const struct confine_opts *o, int vm_fd, const int *vcpu_fds,
				unsigned ncpus, int *err)
{
	struct confine *c = calloc(1, sizeof(*c));
	enum sandbox_mode mode = (enum sandbox_mode)o->mode;
	struct fds fds = { .vm = vm_fd, .vcpu = -1, .api = o->api_fd };

	*err = 0;
	if (c)
		c->vcpus = calloc(ncpus, sizeof(*c->vcpus));
	if (!c || !c->vcpus) {
		free(c);
		*err = -ENOMEM;
		log_err("cannot confine the monitor: out of memory");
		return NULL;
	}
	c->mode = mode;
	c->ncpus = ncpus;
	c->landlock_fd = landlock_make(o->api_fd >= 0 ? o->api_path : NULL, &c->landlock_abi, err);
	role_init(&c->main, "main", false, &fds);
	if (!*err)
		*err = role_build(c, &c->main);
	for (unsigned i = 0; i < ncpus && !*err; i++) {
		char name[16];

		snprintf(name, sizeof(name), "vcpu%u", i);
		fds.vcpu = vcpu_fds[i];
		role_init(&c->vcpus[i], name, true, &fds);
		*err = role_build(c, &c->vcpus[i]);
	}
	if (*err) {
		confine_free(c);
		return NULL;
	}
	log_debug("sandbox %s: monitor threads: main %u syscalls, vcpu0..%u %u syscalls each; "
		  "Landlock ABI %d: /proc read-only%s", sandbox_mode_name(mode),
		  sandbox_profile_count(&c->main.profile), ncpus - 1,
		  sandbox_profile_count(&c->vcpus[0].profile), c->landlock_abi,
		  o->api_fd >= 0 ? ", the API socket's removal, no other file" : ", no other file");
	return c;
}

int confine_thread(struct confine *c, int index)
{
	struct role *r;
	int err;

	if (!c)
		return 0;
	if (index != CONFINE_MAIN && (index < 0 || (unsigned)index >= c->ncpus))
		return -EINVAL;
	r = index == CONFINE_MAIN ? &c->main : &c->vcpus[index];
	thread_name = r->name;
	err = sandbox_thread_filter_load(&r->filter);
	if (err) {
		log_err("cannot confine the monitor's thread %s: %s", r->name, strerror(-err));
		return err;
	}
	if (monitor_test_attempt)
		monitor_test_attempt(r->name);
	return 0;
}

const struct sandbox_profile *confine_profile(const struct confine *c, int index)
{
	if (index == CONFINE_MAIN)
		return &c->main.profile;
	return index >= 0 && (unsigned)index < c->ncpus ? &c->vcpus[index].profile : NULL;
}

void confine_free(struct confine *c)
{
	if (!c)
		return;
	if (c->landlock_fd >= 0)
		close(c->landlock_fd);
	sandbox_thread_filter_free(&c->main.filter);
	for (unsigned i = 0; c->vcpus && i < c->ncpus; i++)
		sandbox_thread_filter_free(&c->vcpus[i].filter);
	free(c->vcpus);
	free(c);
}

int confine_print_profile(const char *role, FILE *f)
{
	struct role r;

	if (strcmp(role, "main") != 0 && strcmp(role, "vcpu") != 0)
		return -ENOENT;
	/* main as with --api-socket (its three rules are there only then) */
	role_init(&r, role, strcmp(role, "vcpu") == 0, &(struct fds){ -1, -1, 0 });
	return sandbox_profile_print(&r.profile, f);
}
