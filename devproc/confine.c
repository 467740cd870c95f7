/* vmm-devproc's side of the sandbox: which fds stay, and where reports go. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "devproc.h"
#include "log.h"
#include "sandbox.h"

#define KEEP_MAX 32

/* SIGSYS handler context: one sendmsg, nothing allocated. */
static void confine_report(int nr, uint32_t arch, bool allowed, void *opaque)
{
	const struct devproc *dp = opaque;

	if (control_send_violation(dp->sock, nr < 0 ? ~0u : (uint32_t)nr, arch, allowed))
		return;	/* the monitor is gone; the exit status still tells */
}

static void keep_add(int *keep, unsigned *n, int fd)
{
	if (fd >= 0 && *n < KEEP_MAX)
		keep[(*n)++] = fd;
}

/* stderr (now /dev/null), the control socket, the epoll fd and every fd the monitor handed over. */
static unsigned confine_keep(const struct devproc *dp, int *keep)
{
	unsigned n = 0;

	keep_add(keep, &n, 2);
	keep_add(keep, &n, dp->sock);
	keep_add(keep, &n, dp->epoll_fd);
	keep_add(keep, &n, dp->doorbell_fd);
	for (unsigned i = 0; i < dp->nirqs; i++)
		keep_add(keep, &n, dp->irq_fds[i]);
	for (unsigned q = 0; q < dp->nqueues; q++)
		keep_add(keep, &n, dp->queue_fds[q]);
	keep_add(keep, &n, dp->intx_resample_fd);
	if (dp->dev.ops->wake)
		keep_add(keep, &n, dp->dev.wake_fd);
	for (unsigned i = 0; i < dp->dev.nfds; i++)
		keep_add(keep, &n, dp->dev.fds[i]);
#ifdef VMM_TEST_HOOKS
	keep_add(keep, &n, dp->test_memfd);
#endif
	return n;
}

/* The device's worker threads, if it has any (see sandbox_config). */
static int confine_start(void *opaque)
{
	struct devproc *dp = opaque;

	return dp->dev.ops->start ? dp->dev.ops->start(&dp->dev) : 0;
}

static void confine_log(struct devproc *dp, int lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void confine_log(struct devproc *dp, int lvl, const char *fmt, ...)
{
	char msg[CONTROL_MAX_LOG];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (control_send_log(dp->sock, lvl, msg))
		vmm_log(lvl, dp->name, "%s", msg);
}

/*
 * From here on the device reaches the user only through Log messages,
 * which the monitor checks and rate-limits: its own stderr, inherited from
 * the monitor and so often the user's terminal, becomes /dev/null (opened
 * now, while the file system is still there).
 */
static int confine_stderr(void)
{
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int err = null < 0 || dup2(null, STDERR_FILENO) < 0 ? -errno : 0;

	if (null >= 0)
		close(null);
	return err;
}

int devproc_confine(struct devproc *dp)
{
	const char *klass = dp->setup_msg->setup->spec->klass;
	struct sandbox_config cfg = { .mode = (enum sandbox_mode)dp->sandbox,
				      .profile = sandbox_profile_find(klass),
				      .report = confine_report, .start_threads = confine_start,
				      .threads = dp->dev.threads,
				      .file_size_max = dp->dev.file_size_max, .opaque = dp };
	struct sandbox_result res;
	int keep[KEEP_MAX], err = confine_stderr();

	if (err) {
		confine_log(dp, LOG_ERR, "cannot point stderr at /dev/null: %s", strerror(-err));
		return err;
	}
	if (cfg.mode == SANDBOX_OFF)
		return confine_start(dp);
	if (!cfg.profile) {
		confine_log(dp, LOG_ERR, "sandbox: no profile for class %s", klass);
		return -ENOENT;
	}
	dp->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (dp->epoll_fd < 0)
		return -errno;
	cfg.keep_fds = keep;
	cfg.nkeep = confine_keep(dp, keep);
	err = sandbox_enter(&cfg, &res);
	if (err) {
		confine_log(dp, LOG_ERR, "sandbox %s: step \"%s\" failed: %s",
			    sandbox_mode_name(cfg.mode), res.failed_step, res.detail);
		return err;
	}
	if (res.landlock_abi == 0)
		confine_log(dp, LOG_WARN, "sandbox: this kernel has no Landlock; every other step holds");
	confine_log(dp, LOG_DEBUG, "sandbox %s: %u syscalls (profile %s), Landlock ABI %d, uid %d, "
		    "address space %llu MiB, data %llu MiB; %llu us (%s %llu us)",
		    sandbox_mode_name(cfg.mode), sandbox_profile_count(cfg.profile), klass,
		    res.landlock_abi, SANDBOX_UID, (unsigned long long)(res.as_limit >> 20),
		    (unsigned long long)(res.data_limit >> 20), (unsigned long long)res.total_us,
		    res.slowest_step, (unsigned long long)res.slowest_us);
	return 0;
}
