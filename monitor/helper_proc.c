/* Helper processes forked by the monitor: see helper_proc.h. */
#include "helper_proc.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

static const int ignored[] = { SIGINT, SIGQUIT, SIGHUP, SIGTSTP, SIGPIPE };

static bool kept(int fd, const int *keep, unsigned nkeep)
{
	for (unsigned i = 0; i < nkeep; i++)
		if (keep[i] == fd)
			return true;
	return fd == STDERR_FILENO;
}

int helper_proc_detach(pid_t parent, const char *name, const int *keep, unsigned nkeep)
{
	sigset_t none;
	int top = STDERR_FILENO;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return -errno;
	if (getppid() != parent)
		return -ESRCH;
	for (size_t i = 0; i < ARRAY_SIZE(ignored); i++)
		signal(ignored[i], SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	prctl(PR_SET_NAME, name);
	for (unsigned i = 0; i < nkeep; i++)
		top = keep[i] > top ? keep[i] : top;
	for (int fd = 0; fd < top; fd++)
		if (!kept(fd, keep, nkeep))
			close(fd);	/* the monitor's few; EBADF for the holes */
	return close_range((unsigned)top + 1, ~0u, 0) < 0 ? -errno : 0;
}

void helper_proc_restore_signals(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(ignored); i++)
		if (ignored[i] != SIGPIPE)	/* the monitor ignores it too */
			signal(ignored[i], SIG_DFL);
}

/* Reap pid by the deadline: its pid, 0 while it runs, or -errno. */
static pid_t reap_by(pid_t pid, uint64_t deadline, int *status)
{
	pid_t r;

	while ((r = waitpid(pid, status, WNOHANG)) == 0 && now_ns() < deadline)
		poll(NULL, 0, 2);
	return r < 0 ? -errno : r;
}

int helper_proc_stop(pid_t pid, unsigned timeout_ms)
{
	uint64_t wait_ns = timeout_ms * 1000000ull;
	int status = 0;
	pid_t r = reap_by(pid, now_ns() + wait_ns, &status);

	if (r == 0) {
		kill(pid, SIGKILL);
		r = reap_by(pid, now_ns() + wait_ns, &status);
		return r < 0 ? (int)r : -ETIMEDOUT;
	}
	if (r < 0)
		return (int)r;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}
