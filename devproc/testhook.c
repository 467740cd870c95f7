/*
 * vmm-devproc-test only (built with -DVMM_TEST_HOOKS; vmm-devproc has no
 * such code): right after READY, attempt the forbidden operation named by
 * $VMM_TEST_ATTEMPT, in the device of class $VMM_TEST_CLASS (every device
 * if unset). tests/integration/sandbox.sh points the monitor at this binary
 * with $VMM_DEVPROC and checks that the sandbox stops the attempt.
 *
 *   openat     open /etc/passwd              socket    an AF_INET socket
 *   execve     run /bin/sh                   ptrace    attach to the monitor
 *   mmap-exec  an executable mapping         kill      SIGKILL the monitor
 *   ftruncate  shrink the guest RAM memfd to 0 (kept open for this only)
 *
 * and on the device's first backend fd (virtio-blk: its image), 64 GiB in:
 *   pwrite-past-end      one byte            fallocate-past-end   1 MiB, mode 0
 *   fallocate-keep-size  1 MiB, KEEP_SIZE (allocates without growing the file)
 *
 * and on a socket it holds (virtio-vsock: its broker channel):
 *   unix-connect  connect it to a host path (PATH_1 of a --vsock socket=PATH)
 *   unix-accept   accept on it            shutdown-read  shut its reading side
 *
 * and memory: mmap-1g  1 GiB of anonymous memory    brk-1g  the heap grown by 1 GiB
 *
 * kill and ptrace target $VMM_TEST_MONITOR_PID (the monitor's pid on the
 * host: inside its pid namespace the device cannot name it otherwise).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devproc.h"
#include "log.h"

#define PAST_END ((off_t)64 << 30)	/* past any test's disk image */

static long monitor_pid(void)
{
	const char *s = getenv("VMM_TEST_MONITOR_PID");
	long pid = s ? strtol(s, NULL, 10) : 0;

	return pid > 1 ? pid : -1;
}

static long attempt(struct devproc *dp, const char *what)
{
	static const char forged[] = "\033[2Jvmm-monitor: forged line\n";
	static char *const argv[] = { "/bin/sh", "-c", "true", NULL };
	long pid = monitor_pid();

	if (strcmp(what, "openat") == 0)
		return openat(AT_FDCWD, "/etc/passwd", O_RDONLY);
	if (strcmp(what, "socket") == 0)
		return socket(AF_INET, SOCK_STREAM, 0);
	if (strcmp(what, "execve") == 0)
		return execve(argv[0], argv, argv + 3);
	if (strcmp(what, "mmap-exec") == 0)
		return mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0) == MAP_FAILED ? -1 : 0;
	if (strcmp(what, "ftruncate") == 0)
		return ftruncate(dp->test_memfd, 0);
	if (strcmp(what, "pwrite-past-end") == 0)
		return pwrite(dp->dev.fds[0], "x", 1, PAST_END);
	if (strcmp(what, "fallocate-past-end") == 0)
		return fallocate(dp->dev.fds[0], 0, PAST_END, 1 << 20);
	if (strcmp(what, "fallocate-keep-size") == 0)
		return fallocate(dp->dev.fds[0], FALLOC_FL_KEEP_SIZE, PAST_END, 1 << 20);
	if (strcmp(what, "tap-offload") == 0)	/* the one ioctl virtio-net may make */
		return ioctl(dp->dev.fds[0], TUNSETOFFLOAD, 0u);
	if (strcmp(what, "tap-setiff") == 0) {	/* any other: attach the tap elsewhere */
		struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };

		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "vmm-stolen");
		return ioctl(dp->dev.fds[0], TUNSETIFF, &ifr);
	}
	if (strcmp(what, "unix-connect") == 0) {	/* reach a host program without the broker */
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		const char *path = getenv("VMM_TEST_UNIX_PATH");

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path ? path : "/tmp/vmm-test");
		return connect(dp->dev.fds[0], (struct sockaddr *)&sa, sizeof(sa));
	}
	if (strcmp(what, "unix-accept") == 0)
		return accept4(dp->dev.fds[0], NULL, NULL, SOCK_CLOEXEC);
	if (strcmp(what, "shutdown-read") == 0)	/* only SHUT_WR is the device's */
		return shutdown(dp->dev.fds[0], SHUT_RD);
	if (strcmp(what, "mmap-1g") == 0)
		return mmap(NULL, 1ul << 30, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0) == MAP_FAILED ? -1 : 0;
	if (strcmp(what, "brk-1g") == 0)
		return sbrk(1l << 30) == (void *)-1 ? -1 : 0;
	/* Not syscalls: what a device holds, and what the monitor takes from it. */
	if (strcmp(what, "guest-ram") == 0)
		return dp->host.mem_ptr(&dp->host, 0, 1) != NULL;
	if (strcmp(what, "stderr") == 0)	/* an escape sequence and a forged line */
		return write(STDERR_FILENO, forged, sizeof(forged) - 1);
	if (strcmp(what, "log-flood") == 0) {	/* past the device's own limit, as an attacker */
		long sent = 0;

		for (int i = 0; i < 1000; i++)
			sent += control_send_log(dp->sock, LOG_WARN, "flood line") == 0;
		return sent;
	}
	if (strcmp(what, "event-poweroff") == 0)
		return dp->host.event(&dp->host, DEV_EVENT_POWEROFF);
	if (pid < 0) {
		errno = EINVAL;	/* never kill(0) or kill(-1): that is our process group */
		return -1;
	}
	if (strcmp(what, "ptrace") == 0)
		return ptrace(PTRACE_ATTACH, (pid_t)pid, NULL, NULL);
	if (strcmp(what, "kill") == 0)
		return kill((pid_t)pid, SIGKILL);
	errno = ENOENT;
	return -1;
}

void devproc_test_attempt(struct devproc *dp)
{
	const char *what = getenv("VMM_TEST_ATTEMPT");
	const char *klass = getenv("VMM_TEST_CLASS");
	char msg[160];
	long r;

	if (!what || (klass && strcmp(klass, dp->setup_msg->setup->spec->klass) != 0))
		return;
	errno = 0;
	r = attempt(dp, what);
	snprintf(msg, sizeof(msg), "test attempt %s returned %ld (%s)", what, r,
		 r < 0 ? strerror(errno) : "success");
	if (control_send_log(dp->sock, LOG_WARN, msg))
		vmm_log(LOG_WARN, dp->name, "%s", msg);
}
