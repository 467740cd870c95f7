/*
 * Helper processes the monitor forks before it has any thread or
 * confinement (the vsock broker, the spawner): what each does as it starts
 * and how the monitor ends it. Used only by their own files.
 */
#ifndef VMM_MONITOR_HELPER_PROC_H
#define VMM_MONITOR_HELPER_PROC_H

#include <sys/types.h>

/*
 * In the forked child: die with the monitor (PR_SET_PDEATHSIG SIGKILL, and
 * an exit if it is already gone: parent is the monitor's pid from before
 * the fork), ignore the terminal's signals (the monitor decides when the
 * VM ends) and SIGPIPE, unblock every signal, take `name` in ps(1), and
 * close every fd but stderr and the nkeep in keep. 0 or -errno; on error
 * the child should _exit.
 */
int helper_proc_detach(pid_t parent, const char *name, const int *keep, unsigned nkeep)
	__attribute__((warn_unused_result));

/* The signals helper_proc_detach ignores, for a child of the helper to restore. */
void helper_proc_restore_signals(void);

/*
 * In the monitor: wait up to timeout_ms for pid to exit, then SIGKILL it
 * and wait as long again. 0 if it exited with status 0, -EIO if it exited
 * otherwise, -ETIMEDOUT if it had to be killed, -errno if it cannot be
 * waited for.
 */
int helper_proc_stop(pid_t pid, unsigned timeout_ms);

#endif
