/*
 * The confinement steps, in the order DESIGN.md gives them. Each returns 0
 * or -errno and, on failure, says why in res->detail; sandbox_enter stops
 * at the first failure and names the step.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sandbox.h"
#include "sandbox_int.h"

#define MAX_KEEP 32

int sb_fail(struct sandbox_result *res, int err, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(res->detail, sizeof(res->detail), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(res->detail) - 4 && err)
		snprintf(res->detail + n, sizeof(res->detail) - (size_t)n, ": %s", strerror(-err));
	return err ? err : -EPERM;
}

/* ---- 1. Close every fd not kept ---- */

static int statm_fd = -1;	/* open from step 1 to step_memory */

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static int step_close_fds(const struct sandbox_config *cfg, struct sandbox_result *res)
{
	int keep[MAX_KEEP];
	unsigned n = cfg->nkeep, lo = 0;

	if (n > MAX_KEEP)
		return sb_fail(res, -E2BIG, "%u fds to keep, at most %d", n, MAX_KEEP);
	memcpy(keep, cfg->keep_fds, n * sizeof(int));
	qsort(keep, n, sizeof(int), cmp_int);
	for (unsigned i = 0; i < n; i++) {
		if (keep[i] < 0)
			return sb_fail(res, -EBADF, "fd %d in the keep list", keep[i]);
		if ((unsigned)keep[i] > lo && close_range(lo, (unsigned)keep[i] - 1, 0) < 0)
			return sb_fail(res, -errno, "close_range");
		lo = (unsigned)keep[i] + 1;
	}
	if (close_range(lo, ~0u, 0) < 0)
		return sb_fail(res, -errno, "close_range");
	/* for step_memory, which runs after /proc is gone (pivot_root) */
	statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (statm_fd < 0)
		return sb_fail(res, -errno, "open /proc/self/statm");
	return 0;
}

/* ---- 2. no_new_privs ---- */

static int step_no_new_privs(const struct sandbox_config *cfg, struct sandbox_result *res)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return sb_fail(res, -errno, "PR_SET_NO_NEW_PRIVS");
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return sb_fail(res, 0, "no_new_privs did not stick");
	return 0;
}

/* ---- 6. rlimits ---- */

static int set_limit(int res_id, rlim_t v)
{
	struct rlimit rl = { .rlim_cur = v, .rlim_max = v };

	return setrlimit(res_id, &rl) < 0 ? -errno : 0;
}

static int step_rlimits(const struct sandbox_config *cfg, struct sandbox_result *res)
{
	int maxfd = 2;
	int err;

	for (unsigned i = 0; i < cfg->nkeep; i++)
		if (cfg->keep_fds[i] > maxfd)
			maxfd = cfg->keep_fds[i];
	if ((err = set_limit(RLIMIT_NOFILE, (rlim_t)maxfd + 1 + cfg->profile->fds_received)))
		return sb_fail(res, err, "RLIMIT_NOFILE");
	if ((err = set_limit(RLIMIT_NPROC, cfg->threads ? (rlim_t)cfg->threads + 1 : 0)))
		return sb_fail(res, err, "RLIMIT_NPROC");
	if ((err = set_limit(RLIMIT_CORE, 0)))
		return sb_fail(res, err, "RLIMIT_CORE");
	/* no files written: 0; files that must not grow: their size; else as inherited */
	if ((!cfg->profile->writes_files || cfg->file_size_max) &&
	    (err = set_limit(RLIMIT_FSIZE, cfg->profile->writes_files ? (rlim_t)cfg->file_size_max : 0)))
		return sb_fail(res, err, "RLIMIT_FSIZE");
	/* A write past FSIZE then fails with EFBIG instead of killing the device. */
	signal(SIGXFSZ, SIG_IGN);
	return 0;
}

/* ---- 7. Capabilities: uid/gid 65534, empty bounding, ambient and effective sets ---- */

static int caps_zero(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capset, &h, d) < 0)
		return -errno;
	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	for (int i = 0; i < 2; i++)
		if (d[i].effective || d[i].permitted || d[i].inheritable)
			return -EPERM;
	return 0;
}

static int step_caps(const struct sandbox_config *cfg, struct sandbox_result *res)
{
	gid_t g = SANDBOX_GID;
	int err;

	if (setgroups(0, NULL) < 0 && errno != EPERM)	/* EPERM: setgroups is "deny" */
		return sb_fail(res, -errno, "setgroups");
	if (setresgid(g, g, g) < 0)
		return sb_fail(res, -errno, "setresgid %d", SANDBOX_GID);
	for (int cap = 0; cap < 64; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return sb_fail(res, -errno, "drop capability %d from the bounding set", cap);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return sb_fail(res, -errno, "clear ambient capabilities");
	if (setresuid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID) < 0)
		return sb_fail(res, -errno, "setresuid %d", SANDBOX_UID);
	if ((err = caps_zero()))
		return sb_fail(res, err, "capset");
	/* A credential change clears both: set them again. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return sb_fail(res, -errno, "PR_SET_PDEATHSIG/PR_SET_DUMPABLE");
	return 0;
}

/* ---- 8. The process's own threads, which inherit all of the above ---- */

static int step_threads(const struct sandbox_config *cfg, struct sandbox_result *res)
{
	sigset_t sys;
	int err;

	/* A thread's violation must reach the handler, not die blocked. */
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	if (sigprocmask(SIG_UNBLOCK, &sys, NULL) < 0)
		return sb_fail(res, -errno, "unblock SIGSYS");
	if (!cfg->start_threads)
		return 0;
	err = cfg->start_threads(cfg->opaque);
	return err ? sb_fail(res, err, "starting the device's threads") : 0;
}

/* ---- 9. seccomp, last ---- */

/* The filter built at the start of sandbox_enter (one caller at a time). */
static struct sb_filter *cur_filter;

static int step_seccomp(const struct sandbox_config *cfg, struct sandbox_result *res)
{
	return sb_filter_load(cfg, cur_filter, res);
}

/* ---- All of them ---- */

struct step {
	const char *name;
	int (*fn)(const struct sandbox_config *cfg, struct sandbox_result *res);
};

/* ---- 9. Memory: RLIMIT_AS and RLIMIT_DATA ---- */

/*
 * What the process holds now, its threads running, plus the profile's
 * headroom: a device that maps or allocates without bound gets ENOMEM
 * instead of taking the host's memory. statm: pages of the whole address
 * space and of data + stack (at least RLIMIT_DATA's private writable part).
 */
static int step_memory(const struct sandbox_config *cfg, struct sandbox_result *res)
{
	const uint64_t room = (uint64_t)cfg->profile->mem_headroom_mib << 20;
	const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	unsigned long long size, rss, shared, text, lib, data;
	char buf[128];
	ssize_t n = pread(statm_fd, buf, sizeof(buf) - 1, 0);
	int err;

	close(statm_fd);
	statm_fd = -1;
	if (n <= 0)
		return sb_fail(res, n < 0 ? -errno : -EIO, "read /proc/self/statm");
	buf[n] = 0;
	if (sscanf(buf, "%llu %llu %llu %llu %llu %llu", &size, &rss, &shared, &text, &lib,
		   &data) != 6)
		return sb_fail(res, -EIO, "/proc/self/statm: \"%.40s\"", buf);
	res->as_limit = size * page + room;
	res->data_limit = data * page + room;
	if ((err = set_limit(RLIMIT_AS, (rlim_t)res->as_limit)))
		return sb_fail(res, err, "RLIMIT_AS");
	if ((err = set_limit(RLIMIT_DATA, (rlim_t)res->data_limit)))
		return sb_fail(res, err, "RLIMIT_DATA");
	return 0;
}

static const struct step steps[] = {
	{ "close fds", step_close_fds },
	{ "no_new_privs", step_no_new_privs },
	{ "namespaces", step_namespaces },
	{ "pivot_root", step_pivot_root },
	{ "landlock", step_landlock },
	{ "rlimits", step_rlimits },
	{ "capabilities", step_caps },
	{ "threads", step_threads },
	{ "memory", step_memory },
	{ "seccomp", step_seccomp },
};

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int run_steps(const struct sandbox_config *cfg, struct sandbox_result *res)
{
	int err = 0;

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]) && !err; i++) {
		uint64_t t = mono_us();

		err = steps[i].fn(cfg, res);
		if (err)
			res->failed_step = steps[i].name;
		t = mono_us() - t;
		if (!res->slowest_step || t > res->slowest_us) {
			res->slowest_us = t;
			res->slowest_step = steps[i].name;
		}
	}
	return err;
}

int sandbox_enter(const struct sandbox_config *cfg, struct sandbox_result *res)
{
	uint64_t start = mono_us();
	struct sb_filter filter;
	int err;

	*res = (struct sandbox_result){ .landlock_abi = -1 };
	if (!cfg->profile || !cfg->report ||
	    (cfg->mode != SANDBOX_STRICT && cfg->mode != SANDBOX_LOG)) {
		res->failed_step = "configuration";
		return sb_fail(res, -EINVAL, "no profile, no report callback or mode off");
	}
	/* glibc loads the time zone lazily, from a file: do it while files exist. */
	tzset();
	/* Built (and resolved against libseccomp's tables) before anything is closed. */
	err = sb_filter_build(cfg, &filter, res);
	if (err) {
		res->failed_step = "seccomp";
		sb_filter_free(&filter);
		return err;
	}
	cur_filter = &filter;
	err = run_steps(cfg, res);
	if (statm_fd >= 0) {	/* a step before step_memory failed */
		close(statm_fd);
		statm_fd = -1;
	}
	cur_filter = NULL;
	sb_filter_free(&filter);
	res->total_us = mono_us() - start;
	return err;
}
