/*
 * Every seccomp rule tried, Firecracker-style. For every class profile and
 * every rule in it (the base rules included), a child process installs
 * exactly the production filter (sb_filter_build + sb_filter_load, strict
 * mode) and makes the call once with arguments that satisfy the rule: it
 * must survive, whatever errno the kernel gives it. Then, for each
 * condition of the rule, a child makes the same call with that one argument
 * changed to a value that no rule for the syscall allows (computed below and
 * checked against every rule in userspace): the sandbox must stop it the
 * way strict mode does (seccomp.c): the SIGSYS handler exits with
 * SANDBOX_EXIT_VIOLATION, or, for a syscall on the kill list, the filter
 * kills the process with SIGSYS. One more child per profile makes a syscall
 * that no rule names, to show that the filter is in place at all.
 *
 * Arguments a rule does not fix are harmless (harmless[] below), so that an
 * allowed call does nothing, and neither does a changed call that a broken
 * filter lets through. Every child has a deadline (alarm): a call that
 * blocks fails its check instead of hanging the test. Needs seccomp, not KVM.
 * The monitor's thread profiles (monitor/confine.c, no device base) are
 * tried the same way, built for fds that are not open here.
 */
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/futex.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>

#include "../check.h"
#include "confine.h"
#include "sandbox.h"
#include "sandbox_int.h"

#define DEADLINE_S 2		/* per child; every call here returns in microseconds */
#define CONTROL_FD 3		/* what the base's recvmsg/sendmsg rules name; closed in the child */
#define EXIT_SURVIVED 42	/* a child's own exit after its call returned */
#define EXIT_CALLED 43		/* the status a child passes to exit or exit_group */
#define EXIT_SETUP 44		/* a child could not install its SIGTRAP handler or the filter */
#define NOFD ((uint64_t)-1)
#define NO_PID 0x3ffffff0ull	/* above pid_max: kill, tgkill and wait4 find no one */
#define SCRATCH(i) (1u << (i))

enum call_kind {
	CALL_PLAIN,		/* syscall(nr, a...), then the child's own exit */
	CALL_EXIT,		/* exit or exit_group(EXIT_CALLED): ends the child itself */
	CALL_SIGRETURN,		/* the return from a SIGTRAP handler */
};

/*
 * One harmless call per syscall that any profile names; a rule's conditions
 * are written over these arguments. Adding a syscall to a profile means one
 * line here (the test fails until there is one). Special cases:
 *  - rt_sigreturn cannot be called with arbitrary state: the child installs
 *    a SIGTRAP handler before the filter, executes int3, and the handler's
 *    return (glibc's restorer) is the rt_sigreturn under the filter.
 *  - exit and exit_group are called with EXIT_CALLED: a normal exit with
 *    that status is the proof (exit of the only thread ends the process).
 *  - munmap, mmap, madvise: length 0, which the kernel refuses or ignores
 *    before it looks at anything; brk(0) only reads the break. The child's
 *    own memory is never unmapped or changed.
 *  - futex: the word is 0 and the WAIT value 1, so a WAIT (or WAIT_BITSET)
 *    returns EAGAIN at once and never sleeps; a WAKE wakes nobody.
 *  - epoll_wait, poll, io_getevents: timeout 0, invalid fd or context, so
 *    nothing blocks.
 *  - recvmsg and sendmsg on fd 3 with no msghdr: nothing is open there in
 *    the child, so EBADF (a normal errno); with another fd, EFAULT.
 *  - every other fd is -1 (EBADF) and every buffer NULL or the child's
 *    scratch array (SCRATCH: clock_gettime's timespec, getrandom's buffer,
 *    the futex word).
 */
struct harmless {
	const char *syscall;
	enum call_kind kind;
	uint64_t a[6];
	unsigned scratch;	/* bit i: a[i] is the address of scratch[] */
};

#define HARMLESS(name, k, s, ...) { .syscall = (name), .kind = (k), .scratch = (s), .a = { __VA_ARGS__ } }

static const struct harmless harmless[] = {
	HARMLESS("read", CALL_PLAIN, 0, NOFD, 0, 0),
	HARMLESS("write", CALL_PLAIN, 0, NOFD, 0, 0),
	HARMLESS("readv", CALL_PLAIN, 0, NOFD, 0, 0),
	HARMLESS("writev", CALL_PLAIN, 0, NOFD, 0, 0),
	HARMLESS("ioctl", CALL_PLAIN, 0, NOFD, TUNSETOFFLOAD, 0),
	HARMLESS("pread64", CALL_PLAIN, 0, NOFD, 0, 0, 0),
	HARMLESS("pwrite64", CALL_PLAIN, 0, NOFD, 0, 0, 0),
	HARMLESS("preadv", CALL_PLAIN, 0, NOFD, 0, 0, 0, 0),
	HARMLESS("pwritev", CALL_PLAIN, 0, NOFD, 0, 0, 0, 0),
	HARMLESS("recvmsg", CALL_PLAIN, 0, CONTROL_FD, 0, 0),
	HARMLESS("sendmsg", CALL_PLAIN, 0, CONTROL_FD, 0, 0),
	HARMLESS("poll", CALL_PLAIN, 0, 0, 0, 0),
	HARMLESS("epoll_wait", CALL_PLAIN, 0, NOFD, 0, 0, 0),
	HARMLESS("epoll_ctl", CALL_PLAIN, 0, NOFD, 0, NOFD, 0),
	HARMLESS("futex", CALL_PLAIN, SCRATCH(0), 0, 0, 1, 0, 0, FUTEX_BITSET_MATCH_ANY),
	HARMLESS("clock_gettime", CALL_PLAIN, SCRATCH(1), 0, 0),
	HARMLESS("mmap", CALL_PLAIN, 0, 0, 0, PROT_NONE, MAP_PRIVATE, NOFD, 0),
	HARMLESS("munmap", CALL_PLAIN, 0, 0, 0),
	HARMLESS("madvise", CALL_PLAIN, 0, 0, 0, 0),
	HARMLESS("brk", CALL_PLAIN, 0, 0),
	HARMLESS("close", CALL_PLAIN, 0, NOFD),
	HARMLESS("shutdown", CALL_PLAIN, 0, NOFD, 0),
	HARMLESS("fdatasync", CALL_PLAIN, 0, NOFD),
	HARMLESS("fallocate", CALL_PLAIN, 0, NOFD, 0, 0, 0),
	HARMLESS("io_submit", CALL_PLAIN, 0, 0, 0, 0),
	HARMLESS("io_getevents", CALL_PLAIN, 0, 0, 0, 0, 0, 0),
	HARMLESS("io_destroy", CALL_PLAIN, 0, 0),
	HARMLESS("rt_sigprocmask", CALL_PLAIN, 0, 0, 0, 0, 8),	/* no set: nothing changes */
	HARMLESS("getrandom", CALL_PLAIN, SCRATCH(0), 0, 16, 0),
	HARMLESS("rt_sigreturn", CALL_SIGRETURN, 0, 0),
	/* The monitor's threads (monitor/confine.c); no pid or fd here names anything. */
	HARMLESS("mprotect", CALL_PLAIN, 0, 0, 0, PROT_NONE),
	HARMLESS("restart_syscall", CALL_PLAIN, 0, 0),
	HARMLESS("clock_nanosleep", CALL_PLAIN, SCRATCH(2), CLOCK_MONOTONIC, 0, 0, 0),
	HARMLESS("openat", CALL_PLAIN, 0, NOFD, 0, O_RDONLY),
	HARMLESS("getdents64", CALL_PLAIN, 0, NOFD, 0, 0),
	HARMLESS("newfstatat", CALL_PLAIN, 0, NOFD, 0, 0, 0),
	HARMLESS("pidfd_send_signal", CALL_PLAIN, 0, NOFD, 0, 0, 0),
	HARMLESS("sched_yield", CALL_PLAIN, 0, 0),
	HARMLESS("ppoll", CALL_PLAIN, SCRATCH(2), 0, 0, 0, 0, 8),
	HARMLESS("waitid", CALL_PLAIN, 0, P_PIDFD, NOFD, 0, WEXITED | WNOHANG, 0),
	HARMLESS("wait4", CALL_PLAIN, 0, NO_PID, 0, WNOHANG, 0),
	HARMLESS("kill", CALL_PLAIN, 0, NO_PID, 0),
	HARMLESS("tgkill", CALL_PLAIN, 0, NO_PID, NO_PID, 0),
	HARMLESS("fcntl", CALL_PLAIN, 0, NOFD, 0, 0),
	HARMLESS("accept4", CALL_PLAIN, 0, NOFD, 0, 0, 0),
	HARMLESS("getsockopt", CALL_PLAIN, 0, NOFD, 0, 0, 0, 0),
	/* socketpair with no array for the fds: EFAULT, nothing made */
	HARMLESS("socketpair", CALL_PLAIN, 0, 0, 0, 0, 0),
	HARMLESS("unlink", CALL_PLAIN, 0, 0),
	HARMLESS("exit", CALL_EXIT, 0, EXIT_CALLED),
	HARMLESS("exit_group", CALL_EXIT, 0, EXIT_CALLED),
};

/* Syscalls in no profile, harmless without arguments: the first one no rule names is tried. */
static const struct harmless outside[] = {
	HARMLESS("getpid", CALL_PLAIN, 0, 0),
	HARMLESS("getppid", CALL_PLAIN, 0, 0),
	HARMLESS("sched_yield", CALL_PLAIN, 0, 0),
};

/* The fds the monitor's profiles are built for here: none is open in a child. */
#define MON_VM_FD 900
#define MON_VCPU_FD 901
#define MON_API_FD 902

/* One child's job. */
struct call {
	const struct harmless *h;
	int nr;
	uint64_t a[6];
};

enum { STAGE_FORKED, STAGE_FILTERED, STAGE_RETURNED };

/* What a child got to, in memory shared with the parent: telling it takes no syscall. */
struct child_report {
	int stage;		/* the last STAGE_* reached */
	int trapped;		/* the SIGTRAP handler ran (rt_sigreturn's proof) */
	long ret;		/* the call's result */
	int err;		/* and its errno, if it failed */
};

static volatile struct child_report *rep;
static uint64_t scratch[8];

/* ---- Rules ---- */

static const struct sandbox_rule *rule_at(const struct sandbox_profile *p, unsigned i)
{
	return sb_profile_rule(p, i);
}

static bool rule_allows(const struct sandbox_rule *r, const uint64_t a[6])
{
	for (unsigned k = 0; k < r->nargs; k++)
		if ((a[r->args[k].index] & r->args[k].mask) != r->args[k].value)
			return false;
	return true;
}

/* Does any rule of p (base included) for syscall name allow arguments a? */
static bool profile_allows(const struct sandbox_profile *p, const char *name, const uint64_t a[6])
{
	for (unsigned i = 0; i < sb_profile_nrules(p); i++)
		if (strcmp(rule_at(p, i)->syscall, name) == 0 && rule_allows(rule_at(p, i), a))
			return true;
	return false;
}

static bool profile_names(const struct sandbox_profile *p, const char *name)
{
	for (unsigned i = 0; i < sb_profile_nrules(p); i++)
		if (strcmp(rule_at(p, i)->syscall, name) == 0)
			return true;
	return false;
}

static bool on_kill_list(const char *name)
{
	for (unsigned i = 0; i < sb_kill_count; i++)
		if (strcmp(sb_kill_list[i], name) == 0)
			return true;
	return false;
}

static void rule_text(const struct sandbox_rule *r, char *buf, size_t len)
{
	size_t n = 0;

	snprintf(buf, len, "any arguments");
	for (unsigned k = 0; k < r->nargs && n < len; k++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", k ? " && " : "", r->args[k].text);
}

/*
 * Change c's argument cond->index, under cond->mask only, to a value that no
 * rule of p for the syscall allows together with c's other arguments: the
 * first candidate that does. False if none does: then another rule allows
 * what this condition seems to refuse.
 */
static bool refuse(const struct sandbox_profile *p, const char *name, const struct sandbox_arg *cond,
		   struct call *c)
{
	const uint64_t v = cond->value;
	const uint64_t cand[] = { v ^ 1, v + 0x100, ~v, 0x7fffffff, 1ull << 63 };
	const uint64_t keep = c->a[cond->index] & ~cond->mask;

	for (size_t i = 0; i < sizeof(cand) / sizeof(cand[0]); i++) {
		if ((cand[i] & cond->mask) == v)
			continue;
		c->a[cond->index] = keep | (cand[i] & cond->mask);
		if (!profile_allows(p, name, c->a))
			return true;
	}
	return false;
}

/* ---- The child ---- */

static void on_sigtrap(int sig)
{
	rep->trapped = 1;
}

static void report_nothing(int nr, uint32_t arch, bool allowed, void *opaque)
{
}

/* Raw exit_group: no atexit handlers, no stdio flush, no sanitizer hooks. */
static __attribute__((noreturn)) void child_exit(int status)
{
	syscall(SYS_exit_group, status);
	_exit(status);
}

/*
 * Everything the child needs before the filter, where strict mode kills
 * rt_sigaction and rt_sigprocmask outright: the deadline (SIGALRM at its
 * default action, even if the test runner ignored or blocked it), the
 * SIGTRAP handler for rt_sigreturn, and nothing open at the control fd.
 */
static int child_prepare(void)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL }, trap = { .sa_handler = on_sigtrap };
	sigset_t set;

	close(CONTROL_FD);
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	sigaddset(&set, SIGTRAP);
	if (sigaction(SIGALRM, &dfl, NULL) < 0 || sigaction(SIGTRAP, &trap, NULL) < 0 ||
	    sigprocmask(SIG_UNBLOCK, &set, NULL) < 0)
		return -errno;
	alarm(DEADLINE_S);
	return 0;
}

static __attribute__((noreturn)) void child_run(const struct sandbox_profile *p, struct sb_filter *f,
						 const struct call *c)
{
	struct sandbox_config cfg = { .mode = SANDBOX_STRICT, .profile = p, .report = report_nothing };
	struct sandbox_result res = { 0 };
	long r;

	if (child_prepare() || sb_filter_load(&cfg, f, &res))
		child_exit(EXIT_SETUP);
	rep->stage = STAGE_FILTERED;
	if (c->h->kind == CALL_SIGRETURN) {
		__asm__ volatile("int3");	/* SIGTRAP; its handler returns through rt_sigreturn */
	} else {
		r = syscall(c->nr, c->a[0], c->a[1], c->a[2], c->a[3], c->a[4], c->a[5]);
		rep->ret = r;
		rep->err = r < 0 ? errno : 0;
	}
	rep->stage = STAGE_RETURNED;
	child_exit(EXIT_SURVIVED);
}

/* Fork a child that makes c under p's filter f; false if it could not be run. */
static bool run(const struct sandbox_profile *p, struct sb_filter *f, const struct call *c,
		int *status)
{
	pid_t pid;

	memset((void *)rep, 0, sizeof(*rep));
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		child_run(p, f, c);
	if (pid < 0) {
		printf("# fork: %s\n", strerror(errno));
		return false;
	}
	/* The child's alarm bounds this wait. */
	while (waitpid(pid, status, 0) < 0)
		if (errno != EINTR) {
			printf("# waitpid: %s\n", strerror(errno));
			return false;
		}
	return true;
}

/* ---- Verdicts ---- */

static bool survived(int status, enum call_kind kind)
{
	if (kind == CALL_EXIT)
		return WIFEXITED(status) && WEXITSTATUS(status) == EXIT_CALLED &&
		       rep->stage == STAGE_FILTERED;
	return WIFEXITED(status) && WEXITSTATUS(status) == EXIT_SURVIVED &&
	       rep->stage == STAGE_RETURNED && (kind != CALL_SIGRETURN || rep->trapped);
}

/* Stopped at the call itself, the way strict mode stops this syscall. */
static bool stopped(int status, const char *name)
{
	if (rep->stage != STAGE_FILTERED)
		return false;
	if (on_kill_list(name))
		return WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS;
	return WIFEXITED(status) && WEXITSTATUS(status) == SANDBOX_EXIT_VIOLATION;
}

/* What became of a child, in words: its call's result, or how it ended and where. */
static const char *outcome(int status, enum call_kind kind, char *buf, size_t len)
{
	const char *where = rep->stage == STAGE_FORKED ? ", before the filter was in" :
			    rep->stage == STAGE_FILTERED ? "" : ", after the call returned";
	bool own_exit = WIFEXITED(status) && WEXITSTATUS(status) == EXIT_SURVIVED &&
			rep->stage == STAGE_RETURNED;

	if (own_exit && kind == CALL_SIGRETURN)
		snprintf(buf, len, "%s", rep->trapped ? "the SIGTRAP handler ran and returned" :
			 "int3 went on without the SIGTRAP handler");
	else if (own_exit && rep->ret < 0)
		snprintf(buf, len, "returned -1 %s", strerrorname_np(rep->err) ?: "(unknown errno)");
	else if (own_exit)
		snprintf(buf, len, rep->ret > 0xffff ? "returned 0x%lx" : "returned %ld", rep->ret);
	else if (WIFEXITED(status))
		snprintf(buf, len, "exit %d%s%s", WEXITSTATUS(status),
			 WEXITSTATUS(status) == SANDBOX_EXIT_VIOLATION ? " (violation)" :
			 WEXITSTATUS(status) == EXIT_CALLED ? " (the status it passed)" :
			 WEXITSTATUS(status) == EXIT_SETUP ? " (no filter)" : "", where);
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by SIG%s%s%s", sigabbrev_np(WTERMSIG(status)) ?: "?",
			 WTERMSIG(status) == SIGALRM ? " (deadline)" : "", where);
	else
		snprintf(buf, len, "wait status 0x%x", (unsigned)status);
	return buf;
}

/* ---- Checks ---- */

static void try_allowed(const struct sandbox_profile *p, struct sb_filter *f,
			const struct sandbox_rule *r, const struct call *c, const char *label)
{
	bool satisfiable = rule_allows(r, c->a);
	char out[96];
	int status = 0;
	bool ran = run(p, f, c, &status);

	CHECK(satisfiable && ran && survived(status, c->h->kind), "%s: want it run, got: %s%s",
	      label, outcome(status, c->h->kind, out, sizeof(out)),
	      satisfiable ? "" : " (but the rule can never match: a value has bits outside its mask)");
}

static void try_changed(const struct sandbox_profile *p, struct sb_filter *f,
			const struct sandbox_rule *r, const struct call *allowed, unsigned k,
			const char *label)
{
	const struct sandbox_arg *cond = &r->args[k];
	struct call c = *allowed;
	char out[96];
	int status = 0;

	if (!refuse(p, r->syscall, cond, &c)) {
		CHECK(0, "%s: arg%u: no value under mask 0x%llx is refused by every rule for %s",
		      label, cond->index, (unsigned long long)cond->mask, r->syscall);
		return;
	}
	CHECK(run(p, f, &c, &status) && stopped(status, r->syscall),
	      "%s: arg%u 0x%llx -> 0x%llx (not %s): want it stopped, got: %s", label, cond->index,
	      (unsigned long long)allowed->a[cond->index], (unsigned long long)c.a[cond->index],
	      cond->text, outcome(status, c.h->kind, out, sizeof(out)));
}

/* The call a rule allows: the harmless arguments with the rule's conditions written over them. */
static void call_init(struct call *c, const struct harmless *h, const struct sandbox_rule *r)
{
	c->h = h;
	c->nr = seccomp_syscall_resolve_name(h->syscall);
	for (unsigned i = 0; i < 6; i++)
		c->a[i] = h->scratch & SCRATCH(i) ? (uint64_t)(uintptr_t)scratch : h->a[i];
	for (unsigned k = 0; r && k < r->nargs; k++)
		c->a[r->args[k].index] = (c->a[r->args[k].index] & ~r->args[k].mask) | r->args[k].value;
}

static const struct harmless *harmless_find(const char *name)
{
	for (size_t i = 0; i < sizeof(harmless) / sizeof(harmless[0]); i++)
		if (strcmp(harmless[i].syscall, name) == 0)
			return &harmless[i];
	return NULL;
}

static void try_rule(const struct sandbox_profile *p, struct sb_filter *f,
		     const struct sandbox_rule *r, const char *from)
{
	const struct harmless *h = harmless_find(r->syscall);
	char text[256], label[384];
	struct call c;

	rule_text(r, text, sizeof(text));
	snprintf(label, sizeof(label), "%s: %s [%s] (%s)", p->klass, r->syscall, text, from);
	if (!h || seccomp_syscall_resolve_name(r->syscall) == __NR_SCMP_ERROR ||
	    (h->kind == CALL_SIGRETURN && r->nargs)) {
		CHECK(0, "%s: no harmless call known (add one to harmless[])", label);
		return;
	}
	for (unsigned k = 0; k < r->nargs; k++)
		if (r->args[k].index > 5) {
			CHECK(0, "%s: condition on argument %u, past the sixth", label, r->args[k].index);
			return;
		}
	call_init(&c, h, r);
	try_allowed(p, f, r, &c, label);
	for (unsigned k = 0; k < r->nargs; k++)
		try_changed(p, f, r, &c, k, label);
}

/* A syscall no rule names: proof that the filter is loaded at all. */
static void try_outside(const struct sandbox_profile *p, struct sb_filter *f)
{
	const struct harmless *h = NULL;
	char out[96];
	struct call c;
	int status = 0;

	for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]) && !h; i++)
		if (!profile_names(p, outside[i].syscall))
			h = &outside[i];
	if (!h) {
		CHECK(0, "%s: every syscall in outside[] has a rule; add another", p->klass);
		return;
	}
	call_init(&c, h, NULL);
	CHECK(run(p, f, &c, &status) && stopped(status, h->syscall),
	      "%s: %s (in no rule): want it stopped, got: %s", p->klass, h->syscall,
	      outcome(status, c.h->kind, out, sizeof(out)));
}

static void try_profile(const struct sandbox_profile *p)
{
	struct sandbox_config cfg = { .mode = SANDBOX_STRICT, .profile = p, .report = report_nothing };
	struct sandbox_result res = { 0 };
	struct sb_filter f;
	int err = sb_filter_build(&cfg, &f, &res);

	CHECK(err == 0, "%s: strict filter builds%s%s", p->klass, err ? ": " : "", res.detail);
	for (unsigned i = 0; !err && i < sb_profile_nrules(p); i++)
		try_rule(p, &f, rule_at(p, i),
			 i < sb_profile_nrules(p) - p->nrules ? "base" : p->klass);
	if (!err)
		try_outside(p, &f);
	sb_filter_free(&f);
}

/*
 * A masked condition whose value has bits outside its mask can never hold,
 * but libseccomp would compare against value & mask and allow what the
 * rule's text forbids: building such a filter must fail.
 */
static void try_bad_mask(void)
{
	static const struct sandbox_rule bad[] = {
		SB_IF("mmap", "a typo: MAP_SHARED where MAP_ANONYMOUS was meant", 1,
		      SB_MASKED(3, MAP_ANONYMOUS, MAP_SHARED, "flags with MAP_ANONYMOUS")),
	};
	const struct sandbox_profile p = { .klass = "bad-mask", .rules = bad, .nrules = 1 };
	struct sandbox_config cfg = { .mode = SANDBOX_STRICT, .profile = &p, .report = report_nothing };
	struct sandbox_result res = { 0 };
	struct sb_filter f;
	int err = sb_filter_build(&cfg, &f, &res);

	CHECK(err == -EINVAL && strstr(res.detail, "outside mask"),
	      "a rule whose value has bits outside its mask is refused (%d: %s)", err, res.detail);
	sb_filter_free(&f);
}

/* The monitor's two thread profiles, as confine_prepare fills them in. */
static void try_monitor(void)
{
	int err = 0;
	struct confine_opts o = { .mode = SANDBOX_STRICT, .api_fd = MON_API_FD,
				  .api_path = "/tmp/vmm-every-rule-api.sock" };
	struct confine *c = confine_prepare(&o, MON_VM_FD, (int[]){ MON_VCPU_FD }, 1, &err);

	CHECK(c != NULL, "the monitor's filters build (%d)", err);
	if (!c)
		return;
	try_profile(confine_profile(c, CONFINE_MAIN));
	try_profile(confine_profile(c, 0));
	confine_free(c);
}

int main(void)
{
	const struct sandbox_profile *const *profiles;
	unsigned n;

	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0)
		CHECK_SKIP_ALL("this kernel has no seccomp: %s", strerror(errno));
	rep = mmap(NULL, sizeof(*rep), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rep == MAP_FAILED) {
		CHECK(0, "shared page for the children's reports: %s", strerror(errno));
		return check_done();
	}
	profiles = sandbox_profiles(&n);
	for (unsigned i = 0; i < n; i++)
		try_profile(profiles[i]);
	try_monitor();
	try_bad_mask();
	return check_done();
}
