/*
 * The device sandbox: the confinement a vmm-devproc applies to itself
 * after its device is created and before it says READY (DESIGN.md,
 * "Sandbox"), and one seccomp profile per device class.
 *
 * Order of the steps (sandbox_enter): close every fd not kept; no_new_privs;
 * user, mount, net, ipc and uts namespaces (the pid namespace is made by the
 * monitor when it clones the process, because unshare(CLONE_NEWPID) only
 * moves children) with the process mapped to uid/gid 65534; pivot_root
 * into an empty read-only tmpfs; Landlock with no file or network access;
 * rlimits; every capability dropped; the device's threads; the memory
 * limits (RLIMIT_AS and RLIMIT_DATA: what the process holds once its
 * threads run, plus the profile's headroom); last, the class's seccomp
 * filter.
 * Every step either succeeds or makes sandbox_enter fail: no step is
 * skipped silently, the one exception being a kernel without Landlock,
 * which is reported (sandbox_enter's report says so) and not fatal.
 */
#ifndef VMM_SANDBOX_SANDBOX_H
#define VMM_SANDBOX_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum sandbox_mode {
	SANDBOX_OFF = 0,	/* separate process, no confinement (debugging) */
	SANDBOX_LOG = 1,	/* every step; syscalls outside the profile are reported and run */
	SANDBOX_STRICT = 2,	/* every step; a syscall outside the profile ends the process */
};

/* "off", "log", "strict"; "?" for anything else. */
const char *sandbox_mode_name(enum sandbox_mode m);

/* Exit status of a device process that ran a syscall outside its profile. */
#define SANDBOX_EXIT_VIOLATION 159	/* 128 + SIGSYS, as a shell would show it */

/* The uid and gid a confined device runs as, inside and outside its namespace. */
#define SANDBOX_UID 65534
#define SANDBOX_GID 65534

/* ---- Profiles ---- */

/*
 * Profiles name syscalls as libseccomp knows them on the architecture it
 * is built for. Three that glibc makes differ between the two: arm64 has
 * no poll, epoll_wait or unlink, and glibc calls ppoll, epoll_pwait and
 * unlinkat there (their arguments that rules look at are in the same
 * places: ppoll's nfds is argument 1 like poll's).
 * SANDBOX_AUDIT_ARCH is the architecture a seccomp report names for a
 * native syscall.
 */
#if defined(__x86_64__)
#define SB_SYS_POLL       "poll"
#define SB_SYS_EPOLL_WAIT "epoll_wait"
#define SB_SYS_UNLINK     "unlink"
#define SANDBOX_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SB_SYS_POLL       "ppoll"
#define SB_SYS_EPOLL_WAIT "epoll_pwait"
#define SB_SYS_UNLINK     "unlinkat"
#define SANDBOX_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "sandbox: profiles are written for x86-64 and arm64"
#endif

/* One condition on a syscall argument: (arg[index] & mask) == value. */
struct sandbox_arg {
	uint8_t index;		/* 0..5 */
	uint64_t mask;		/* ~0 for plain equality */
	uint64_t value;
	const char *text;	/* the same in words, for --print-profile */
};

#define SANDBOX_MAX_ARGS 3

/*
 * One allowed syscall, if every arg condition holds (AND). Several rules
 * for one syscall are alternatives (OR). A rule without conditions allows
 * the syscall with any arguments.
 */
struct sandbox_rule {
	const char *syscall;	/* name as libseccomp knows it */
	const char *why;	/* one line: who needs it */
	unsigned nargs;
	struct sandbox_arg args[SANDBOX_MAX_ARGS];
};

/* Table helpers: a rule with any arguments, with conditions, and the conditions. */
#define SB_ANY(name, reason) { .syscall = (name), .why = (reason) }
#define SB_IF(name, reason, n, ...) \
	{ .syscall = (name), .why = (reason), .nargs = (n), .args = { __VA_ARGS__ } }
#define SB_EQ(i, v, t) { .index = (i), .mask = ~0ull, .value = (v), .text = (t) }
#define SB_MASKED(i, m, v, t) { .index = (i), .mask = (m), .value = (v), .text = (t) }

/*
 * A device class's profile: the shared base (profile_base.c) plus the
 * class's own rules, in profile_NAME.c for each NAME of device_classes in
 * devices/meson.build (which makes the table, profile_table.c.in).
 */
struct sandbox_profile {
	const char *klass;		/* "serial", ... */
	const struct sandbox_rule *rules;
	unsigned nrules;
	/*
	 * The class writes to a backend fd that may be a regular file (the
	 * serial console redirected to a file): RLIMIT_FSIZE stays as
	 * inherited. Every other class gets RLIMIT_FSIZE 0.
	 */
	bool writes_files;
	/*
	 * RLIMIT_AS and RLIMIT_DATA are what the process has mapped (address
	 * space; private writable data and stacks) once its threads run, plus
	 * this many MiB: what the class was measured to grow by, with room.
	 */
	unsigned mem_headroom_mib;
	/*
	 * Fds the class is handed while it runs (virtio-vsock's stream
	 * sockets, from its broker): RLIMIT_NOFILE leaves room for this many
	 * above the highest fd kept. 0 for every class that gets all its fds
	 * before it is confined.
	 */
	unsigned fds_received;
	/*
	 * A monitor thread's profile (monitor/confine.c): its own rules
	 * without the device base, and at most max_syscalls distinct syscalls
	 * (0: SANDBOX_MAX_SYSCALLS, the bound for device classes).
	 */
	bool no_base;
	unsigned max_syscalls;
};

/* The base every profile extends, and its size. */
extern const struct sandbox_rule sandbox_base_rules[];
extern const unsigned sandbox_base_nrules;

/* Most syscalls any one class may allow (base included). */
#define SANDBOX_MAX_SYSCALLS 28

/* The profile of class klass, or NULL if there is none. */
const struct sandbox_profile *sandbox_profile_find(const char *klass);

/* Every profile, in table order; *n receives the count. */
const struct sandbox_profile *const *sandbox_profiles(unsigned *n);

/* Distinct syscalls a profile allows, base included (unless no_base). */
unsigned sandbox_profile_count(const struct sandbox_profile *p);

/*
 * Print a profile for audits: one line per rule, "name  [conditions]  #
 * why", base first, then a summary line with the syscall count, the
 * default action per mode and the rlimits. Returns 0, or -ENOENT if a
 * rule names a syscall libseccomp does not know on this architecture.
 */
int sandbox_profile_print(const struct sandbox_profile *p, FILE *f)
	__attribute__((warn_unused_result));

/*
 * Name of syscall nr on the native architecture (libseccomp's table),
 * written into buf; "syscall_<nr>" if unknown. Returns buf. For the
 * monitor, which names a device's violations; not for signal handlers.
 */
const char *sandbox_syscall_name(int nr, char *buf, size_t len);

/* ---- Entering the sandbox ---- */

/*
 * Called from the SIGSYS handler, in signal context, for a syscall outside
 * the profile: nr and arch from the kernel, allowed true in log mode (the
 * syscall is then run on the process's behalf after the callback). Must be
 * async-signal-safe. In strict mode the process exits with
 * SANDBOX_EXIT_VIOLATION right after the callback returns.
 */
typedef void sandbox_report_fn(int nr, uint32_t arch, bool allowed, void *opaque);

struct sandbox_config {
	enum sandbox_mode mode;		/* LOG or STRICT (OFF: do not call) */
	const struct sandbox_profile *profile;
	const int *keep_fds;		/* fds that stay open (any order) */
	unsigned nkeep;
	sandbox_report_fn *report;	/* required */
	/*
	 * Optional: start the process's worker threads (at most `threads`),
	 * called after the capability step and before the seccomp step, so
	 * they inherit every step but the filter, which is then installed on
	 * all threads at once. Returns once each thread has made its start-up
	 * system calls; 0 or -errno.
	 */
	int (*start_threads)(void *opaque);
	unsigned threads;		/* RLIMIT_NPROC is 1 + threads, or 0 without */
	/*
	 * RLIMIT_FSIZE for a profile that writes_files: files never grow to
	 * this size (0: as inherited). Without writes_files it is 0.
	 */
	uint64_t file_size_max;
	void *opaque;			/* for report and start_threads */
};

/*
 * What sandbox_enter found out, for the device's log: the Landlock ABI
 * (0 = the kernel has none, reported as a warning) and where it failed.
 */
struct sandbox_result {
	int landlock_abi;
	const char *failed_step;	/* NULL on success */
	char detail[128];		/* why that step failed */
	uint64_t total_us;		/* time all steps took */
	const char *slowest_step;	/* and the one that took longest */
	uint64_t slowest_us;
	uint64_t as_limit, data_limit;	/* bytes: RLIMIT_AS and RLIMIT_DATA set */
};

/*
 * Apply every step in order to the calling process, which must be single-
 * threaded (threads come from cfg->start_threads) and the init of its own
 * pid namespace (getpid() == 1, see above) or the call fails. On success the process can do only what the
 * profile allows. Returns 0 or -errno; on failure res->failed_step names
 * the step and the process must exit (it may be half confined).
 */
int sandbox_enter(const struct sandbox_config *cfg, struct sandbox_result *res)
	__attribute__((warn_unused_result));

/* ---- Confining one thread: the monitor's threads ---- */

/*
 * The monitor confines each of its threads with its own filter and no
 * other step (it keeps its files, namespaces and rights; see
 * monitor/confine.h). The main thread builds every filter while it is
 * still the only thread; each thread then loads its own.
 */
struct sandbox_thread_filter {
	void *prog;		/* struct sock_filter[len] */
	unsigned short len;
	int landlock_fd;	/* a ruleset to enforce first (not owned), or -1 */
};

/*
 * A Landlock ruleset for threads to enforce: every filesystem right the
 * kernel's ABI knows is handled and none granted, but reading files and
 * directories beneath read_dir and removing files beneath remove_dir
 * (each NULL: nothing); TCP bind and connect
 * handled (ABI >= 4); no scoping (the monitor signals its devices). Returns
 * its fd, -1 with *abi 0 when the kernel has no Landlock, or -errno with
 * res->detail saying why.
 */
int sandbox_thread_landlock(const char *read_dir, const char *remove_dir, int *abi,
			    struct sandbox_result *res)
	__attribute__((warn_unused_result));

/*
 * Build cfg->profile's filter for cfg->mode (LOG or STRICT) as a BPF
 * program. The first call also installs the SIGSYS handler for the whole
 * process with cfg->report and cfg->opaque (every later call must pass the
 * same), and fills the table sandbox_syscall_name_safe reads: call it from
 * the main thread before any other thread exists. Other cfg fields are
 * ignored. Returns 0 or -errno with res->detail saying why.
 */
int sandbox_thread_filter_build(const struct sandbox_config *cfg,
				struct sandbox_thread_filter *f, struct sandbox_result *res)
	__attribute__((warn_unused_result));

/*
 * In the thread to confine: unblock SIGSYS, set no_new_privs, enforce
 * f->landlock_fd's ruleset if any, load f on the calling thread only. Makes
 * those syscalls and nothing else, so the thread's own profile need not
 * allow what a build would. 0 or -errno.
 */
int sandbox_thread_filter_load(const struct sandbox_thread_filter *f)
	__attribute__((warn_unused_result));

void sandbox_thread_filter_free(struct sandbox_thread_filter *f);

/*
 * The name of syscall nr (native architecture), or NULL: async-signal-safe,
 * for a report callback, once sandbox_thread_filter_build has run.
 */
const char *sandbox_syscall_name_safe(int nr);

#endif
