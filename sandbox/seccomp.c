/*
 * The seccomp step: the class's profile as a libseccomp filter, and the
 * SIGSYS handler that reports what the filter traps.
 *
 * Actions. Allowed: the profile's rules. Default (anything else):
 * SECCOMP_RET_TRAP, so that the handler can name the syscall to the
 * monitor; in strict mode it then exits with SANDBOX_EXIT_VIOLATION. The
 * filter itself kills the process (SECCOMP_RET_KILL_PROCESS) where the
 * handler cannot be trusted to run: a foreign architecture or x32 call, and
 * in strict mode any attempt to change signal dispositions, masks or
 * stacks (the report path). A trap raised inside the handler, or with
 * SIGSYS blocked, is fatal too (the kernel forces SIGSYS's default action).
 *
 * Log mode runs what it traps: the handler reports each syscall once and
 * then makes the call itself, from one instruction (sb_raw_syscall) that a
 * two-instruction prefix in front of libseccomp's program lets through. That
 * makes log mode no seccomp boundary at all (code that finds the stub can
 * call anything), which is what a mode for building profiles is; the other
 * steps still hold. Calls that act on the signal context itself
 * (rt_sigprocmask, rt_sigreturn, ...) are only approximated there.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>
#include <linux/seccomp.h>

#include "sandbox_int.h"

/*
 * long sb_raw_syscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
 * The log mode's own syscall instruction: the filter lets through what is
 * made from just past it (export_prog). Per architecture: the kernel's
 * syscall convention, and where the signal context keeps the registers.
 */
long sb_raw_syscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5);
extern const char sb_raw_syscall_after[];
#if defined(__x86_64__)
__asm__(".text\n"
	".globl sb_raw_syscall\n"
	".type sb_raw_syscall, @function\n"
	"sb_raw_syscall:\n"
	"	mov %rdi, %rax\n"
	"	mov %rsi, %rdi\n"
	"	mov %rdx, %rsi\n"
	"	mov %rcx, %rdx\n"
	"	mov %r8, %r10\n"
	"	mov %r9, %r8\n"
	"	mov 8(%rsp), %r9\n"
	"	syscall\n"
	".globl sb_raw_syscall_after\n"
	"sb_raw_syscall_after:\n"
	"	ret\n"
	".size sb_raw_syscall, . - sb_raw_syscall\n");
#define SB_REG_RET(uc)     ((uc)->uc_mcontext.gregs[REG_RAX])
#define SB_REG_ARG(uc, i)  ((uc)->uc_mcontext.gregs[(const int[]){ REG_RDI, REG_RSI, \
				REG_RDX, REG_R10, REG_R8, REG_R9 }[i]])
#elif defined(__aarch64__)
__asm__(".text\n"
	".globl sb_raw_syscall\n"
	".type sb_raw_syscall, %function\n"
	"sb_raw_syscall:\n"
	"	mov x8, x0\n"
	"	mov x0, x1\n"
	"	mov x1, x2\n"
	"	mov x2, x3\n"
	"	mov x3, x4\n"
	"	mov x4, x5\n"
	"	mov x5, x6\n"
	"	svc #0\n"
	".globl sb_raw_syscall_after\n"
	"sb_raw_syscall_after:\n"
	"	ret\n"
	".size sb_raw_syscall, . - sb_raw_syscall\n");
#define SB_REG_RET(uc)     ((uc)->uc_mcontext.regs[0])
#define SB_REG_ARG(uc, i)  ((uc)->uc_mcontext.regs[i])
#else
#error "sandbox/seccomp.c: the log-mode stub and register names are for x86-64 and arm64"
#endif

/*
 * In strict mode these kill outright: they could disarm the report path.
 * A profile may allow one argument value of one of them (virtio-blk: an
 * ending I/O thread blocks its signals), which at most turns a later trap
 * in that thread into the kernel's plain SIGSYS kill.
 */
const char *const sb_kill_list[] = { "rt_sigaction", "rt_sigprocmask", "sigaltstack" };
const unsigned sb_kill_count = sizeof(sb_kill_list) / sizeof(sb_kill_list[0]);

/* What the handler needs; set once, before the filter is loaded. */
static struct {
	enum sandbox_mode mode;
	sandbox_report_fn *report;
	void *opaque;
} sb_trap;

/* Log mode: syscalls this thread already reported (each thread has its own profile). */
static __thread uint64_t sb_seen[1024 / 64];

/* Syscall names for reports made in signal context (sandbox_syscall_name_safe). */
#define SB_NAMES 1024
static const char *sb_names[SB_NAMES];

static void sigsys_handler(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	int nr = si->si_syscall;
	bool first = true;

	if (nr >= 0 && nr < 1024) {
		first = !(sb_seen[nr / 64] & (1ull << (nr % 64)));
		sb_seen[nr / 64] |= 1ull << (nr % 64);
	}
	if (sb_trap.mode != SANDBOX_LOG) {
		sb_trap.report(nr, si->si_arch, false, sb_trap.opaque);
		sb_raw_syscall(SYS_exit_group, SANDBOX_EXIT_VIOLATION, 0, 0, 0, 0, 0);
	}
	if (first)
		sb_trap.report(nr, si->si_arch, true, sb_trap.opaque);
	SB_REG_RET(uc) = sb_raw_syscall(nr, (long)SB_REG_ARG(uc, 0), (long)SB_REG_ARG(uc, 1),
					(long)SB_REG_ARG(uc, 2), (long)SB_REG_ARG(uc, 3),
					(long)SB_REG_ARG(uc, 4), (long)SB_REG_ARG(uc, 5));
}

/* SCMP_CMP64 with both data spelled out (clang flags the macro's missing one). */
static struct scmp_arg_cmp arg_cmp(unsigned arg, enum scmp_compare op, uint64_t a, uint64_t b)
{
	return (struct scmp_arg_cmp){ .arg = arg, .op = op, .datum_a = a, .datum_b = b };
}

static int add_rule(scmp_filter_ctx ctx, const struct sandbox_rule *rule, struct sandbox_result *res)
{
	struct scmp_arg_cmp cmp[SANDBOX_MAX_ARGS];
	int nr = seccomp_syscall_resolve_name(rule->syscall), err;

	if (nr == __NR_SCMP_ERROR) {
		snprintf(res->detail, sizeof(res->detail), "unknown syscall %s", rule->syscall);
		return -ENOENT;
	}
	for (unsigned a = 0; a < rule->nargs && a < SANDBOX_MAX_ARGS; a++) {
		const struct sandbox_arg *c = &rule->args[a];

		/*
		 * (arg & mask) == value can never hold with value bits outside
		 * mask, but libseccomp compares against value & mask: such a
		 * typo would allow what the rule's text forbids. Refuse it.
		 */
		if (c->value & ~c->mask) {
			snprintf(res->detail, sizeof(res->detail),
				 "rule for %s: arg %u value 0x%llx has bits outside mask 0x%llx",
				 rule->syscall, c->index, (unsigned long long)c->value,
				 (unsigned long long)c->mask);
			return -EINVAL;
		}
		cmp[a] = c->mask == ~0ull ? arg_cmp(c->index, SCMP_CMP_EQ, c->value, 0)
					 : arg_cmp(c->index, SCMP_CMP_MASKED_EQ, c->mask, c->value);
	}
	err = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, rule->nargs, cmp);
	if (err)
		snprintf(res->detail, sizeof(res->detail), "rule for %s: %s", rule->syscall,
			 strerror(-err));
	return err;
}

/*
 * The profile's last rule for syscall `name` (NULL: none; the base has none
 * of the kill list), and in *n how many it has.
 */
static const struct sandbox_rule *profile_rule(const struct sandbox_profile *p, const char *name,
					       unsigned *n)
{
	const struct sandbox_rule *r = NULL;

	*n = 0;
	for (unsigned i = 0; i < p->nrules; i++)
		if (strcmp(p->rules[i].syscall, name) == 0) {
			r = &p->rules[i];
			(*n)++;
		}
	return r;
}

/*
 * Strict mode kills a kill-list syscall outright, except for the one
 * argument value a profile may allow (one rule with one SB_EQ condition):
 * then only the other values kill.
 */
static int add_kill_rule(scmp_filter_ctx ctx, const struct sandbox_profile *p, const char *name,
			 struct sandbox_result *res)
{
	unsigned n;
	const struct sandbox_rule *r = profile_rule(p, name, &n);
	int nr = seccomp_syscall_resolve_name(name);

	if (!r)
		return seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, nr, 0);
	if (n != 1 || r->nargs != 1 || r->args[0].mask != ~0ull) {
		snprintf(res->detail, sizeof(res->detail),
			 "%s: strict mode allows it only for one argument value", name);
		return -EINVAL;
	}
	return seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, nr, 1,
				arg_cmp(r->args[0].index, SCMP_CMP_NE, r->args[0].value, 0));
}

static int build_ctx(const struct sandbox_config *cfg, scmp_filter_ctx ctx, struct sandbox_result *res)
{
	const struct sandbox_profile *p = cfg->profile;
	int err = 0;

	if (sandbox_profile_count(p) > sb_profile_max(p)) {
		snprintf(res->detail, sizeof(res->detail), "profile %s allows %u syscalls, over %u",
			 p->klass, sandbox_profile_count(p), sb_profile_max(p));
		return -E2BIG;
	}
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2) ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) {
		snprintf(res->detail, sizeof(res->detail), "filter attributes");
		return -EINVAL;
	}
	for (unsigned i = 0; i < sb_profile_nrules(p) && !err; i++)
		err = add_rule(ctx, sb_profile_rule(p, i), res);
	for (unsigned i = 0; i < sb_kill_count && !err && cfg->mode == SANDBOX_STRICT; i++)
		err = add_kill_rule(ctx, p, sb_kill_list[i], res);
	if (err && !res->detail[0])
		snprintf(res->detail, sizeof(res->detail), "kill rules: %s", strerror(-err));
	return err;
}

/*
 * libseccomp's program as BPF; in log mode behind "instruction pointer is
 * just past sb_raw_syscall's syscall instruction: allow". Its jumps are
 * relative, so prepending leaves them intact.
 */
static int export_prog(scmp_filter_ctx ctx, bool log_prefix, struct sb_filter *f,
		       struct sandbox_result *res)
{
	uint64_t ip = (uint64_t)(uintptr_t)sb_raw_syscall_after;
	struct sock_filter prefix[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)ip, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, instruction_pointer) + 4),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(ip >> 32), 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	size_t np = log_prefix ? sizeof(prefix) / sizeof(prefix[0]) : 0, nbytes;
	int fd = memfd_create("vmm-seccomp", MFD_CLOEXEC);
	off_t size;

	if (fd < 0 || seccomp_export_bpf(ctx, fd) || (size = lseek(fd, 0, SEEK_END)) <= 0) {
		snprintf(res->detail, sizeof(res->detail), "exporting the filter");
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	nbytes = (size_t)size;
	f->len = (unsigned short)(np + nbytes / sizeof(struct sock_filter));
	f->prog = calloc(f->len, sizeof(struct sock_filter));
	if (!f->prog || pread(fd, f->prog + np, nbytes, 0) != (ssize_t)nbytes) {
		close(fd);
		snprintf(res->detail, sizeof(res->detail), "reading the exported filter");
		return -EIO;
	}
	close(fd);
	memcpy(f->prog, prefix, np * sizeof(prefix[0]));
	return 0;
}

int sb_filter_build(const struct sandbox_config *cfg, struct sb_filter *f, struct sandbox_result *res)
{
	int err;

	*f = (struct sb_filter){ 0 };
	f->ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!f->ctx) {
		snprintf(res->detail, sizeof(res->detail), "seccomp_init failed");
		return -ENOMEM;
	}
	err = build_ctx(cfg, f->ctx, res);
	if (!err && cfg->mode == SANDBOX_LOG)
		err = export_prog(f->ctx, true, f, res);
	return err;
}

/* The SIGSYS handler for the whole process, unblocked in the calling thread. */
static int handler_install(const struct sandbox_config *cfg, struct sandbox_result *res)
{
	struct sigaction sa = { .sa_sigaction = sigsys_handler, .sa_flags = SA_SIGINFO };
	sigset_t sys;

	sb_trap.mode = cfg->mode;
	sb_trap.report = cfg->report;
	sb_trap.opaque = cfg->opaque;
	sigfillset(&sa.sa_mask);
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	if (sigaction(SIGSYS, &sa, NULL) < 0 || sigprocmask(SIG_UNBLOCK, &sys, NULL) < 0) {
		snprintf(res->detail, sizeof(res->detail), "SIGSYS handler: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

int sb_filter_load(const struct sandbox_config *cfg, struct sb_filter *f, struct sandbox_result *res)
{
	int err = handler_install(cfg, res);

	if (err)
		return err;
	if (cfg->mode == SANDBOX_LOG) {
		struct sock_fprog prog = { .len = f->len, .filter = f->prog };

		/* Every thread at once, or none (>0: the thread that could not). */
		long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC,
				 &prog);

		if (r != 0) {
			err = r < 0 ? -errno : -EBUSY;
			snprintf(res->detail, sizeof(res->detail), "seccomp (all threads): %s",
				 strerror(-err));
			return err;
		}
		return 0;
	}
	err = seccomp_attr_set(f->ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (!err)
		err = seccomp_load(f->ctx);
	if (err)
		snprintf(res->detail, sizeof(res->detail), "seccomp_load: %s", strerror(-err));
	return err;
}

void sb_filter_free(struct sb_filter *f)
{
	if (f->ctx)
		seccomp_release(f->ctx);
	free(f->prog);
	*f = (struct sb_filter){ 0 };
}

/* ---- One thread's filter (the monitor's threads) ---- */

static int names_fill(void)
{
	for (int nr = 0; nr < SB_NAMES; nr++) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		sb_names[nr] = name;	/* kept for the process's life; NULL if unknown */
	}
	return sb_names[0] ? 0 : -ENOMEM;	/* read (x86-64) or io_setup (arm64) */
}

const char *sandbox_syscall_name_safe(int nr)
{
	return nr >= 0 && nr < SB_NAMES ? sb_names[nr] : NULL;
}

int sandbox_thread_filter_build(const struct sandbox_config *cfg,
				struct sandbox_thread_filter *tf, struct sandbox_result *res)
{
	struct sb_filter f = { 0 };
	int err;

	*tf = (struct sandbox_thread_filter){ .landlock_fd = -1 };
	if (!cfg->profile || !cfg->report ||
	    (cfg->mode != SANDBOX_STRICT && cfg->mode != SANDBOX_LOG)) {
		snprintf(res->detail, sizeof(res->detail), "no profile, no report callback or mode off");
		return -EINVAL;
	}
	if (!sb_trap.report) {
		err = names_fill();
		if (!err)
			err = handler_install(cfg, res);
		if (err) {
			if (!res->detail[0])
				snprintf(res->detail, sizeof(res->detail), "naming syscalls");
			return err;
		}
	}
	f.ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!f.ctx) {
		snprintf(res->detail, sizeof(res->detail), "seccomp_init failed");
		return -ENOMEM;
	}
	err = build_ctx(cfg, f.ctx, res);
	if (!err)
		err = export_prog(f.ctx, cfg->mode == SANDBOX_LOG, &f, res);
	if (!err) {
		tf->prog = f.prog;
		tf->len = f.len;
		f.prog = NULL;
	}
	sb_filter_free(&f);
	return err;
}

int sandbox_thread_filter_load(const struct sandbox_thread_filter *tf)
{
	struct sock_fprog prog = { .len = tf->len, .filter = tf->prog };
	sigset_t sys;

	int err;

	if (!tf->prog)
		return -EINVAL;
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	err = pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
	if (err)
		return -err;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    (tf->landlock_fd >= 0 && syscall(SYS_landlock_restrict_self, tf->landlock_fd, 0) < 0) ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		return -errno;
	return 0;
}

void sandbox_thread_filter_free(struct sandbox_thread_filter *tf)
{
	free(tf->prog);
	*tf = (struct sandbox_thread_filter){ .landlock_fd = -1 };
}
