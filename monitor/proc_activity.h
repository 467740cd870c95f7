/*
 * What a process is doing, from /proc: tells a device the host keeps from
 * running (slow host) from one that is asleep, stopped or spinning (broken).
 */
#ifndef VMM_MONITOR_PROC_ACTIVITY_H
#define VMM_MONITOR_PROC_ACTIVITY_H

#include <stdint.h>
#include <sys/types.h>

struct proc_activity {
	unsigned threads;	/* threads seen */
	unsigned runnable;	/* running or waiting for a CPU (R) */
	unsigned in_io;		/* in an uninterruptible wait (D): host I/O, page-in */
	uint64_t cpu_ns;	/* CPU time of those threads so far */
};

/*
 * Read pid's threads from /proc/PID/task/TID/{stat,schedstat}. Threads that
 * end meanwhile are skipped. Returns 0, or -errno (-ESRCH: pid is gone or
 * has no thread left).
 */
int proc_activity_read(pid_t pid, struct proc_activity *a) __attribute__((warn_unused_result));

#endif
