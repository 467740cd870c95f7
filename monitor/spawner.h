/*
 * The spawner (`vmm-spawner` in ps): a small process the monitor forks
 * before it has any thread, guest memory or confinement, whose one job is
 * to start vmm-devproc. The monitor itself may then run without execve
 * (monitor/confine.h) and still start device processes, now and on a
 * device's restart.
 *
 * It knows one program, found when it starts ($VMM_DEVPROC, else beside
 * vmm-monitor, else the build tree), and takes one request at a time over
 * a SOCK_SEQPACKET pair: the device's id, the VM's name, its sandbox mode
 * and one fd, the device's end of its control socket, which becomes the
 * new process's fd 3 (stdin and stdout are /dev/null, stderr the
 * monitor's). The new process is cloned with CLONE_PARENT, so it is the
 * monitor's child (its pidfd can be waited on, it dies with the monitor
 * through PR_SET_PDEATHSIG), and, unless the sandbox is off, in a new pid
 * namespace (the one namespace a process cannot make for itself). The
 * answer is its pid and a pidfd. Anything malformed is refused with
 * -EINVAL and changes nothing.
 *
 * The spawner has no seccomp filter of its own: its children would inherit
 * it, and vmm-devproc needs, before it confines itself, what a filter for
 * the spawner would forbid. It holds nothing but its channel, /dev/null
 * and stderr, and starts nothing but vmm-devproc.
 */
#ifndef VMM_MONITOR_SPAWNER_H
#define VMM_MONITOR_SPAWNER_H

#include <sys/types.h>

#define SPAWNER_ID_MAX 32	/* device id and VM name, NUL included */
#define SPAWNER_REPLY_MS 5000	/* the monitor waits this long for an answer */

struct spawner {
	pid_t pid;		/* 0: not started */
	int sock;		/* the monitor's end of the channel */
};

/*
 * Find vmm-devproc and fork the spawner. Call before any thread exists and
 * before large buffers are allocated (the fork would keep them). 0 or
 * -errno, logged.
 */
int spawner_start(struct spawner *s) __attribute__((warn_unused_result));

/*
 * Start vmm-devproc for device `id` of VM `vm_name` (both [A-Za-z0-9_-],
 * shorter than SPAWNER_ID_MAX), sandbox an enum sandbox_mode, with
 * control_fd (kept by the caller) as its fd 3. On success *pid and *pidfd
 * (the caller's to close), untouched on failure. Waits at most SPAWNER_REPLY_MS. 0 or -errno;
 * -EPIPE when the spawner is gone.
 */
int spawner_spawn(struct spawner *s, const char *id, const char *vm_name, unsigned sandbox,
		  int control_fd, pid_t *pid, int *pidfd) __attribute__((warn_unused_result));

/* Close the channel (the spawner exits on its end) and reap it. */
void spawner_stop(struct spawner *s);

#endif
