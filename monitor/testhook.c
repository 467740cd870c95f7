/*
 * vmm-monitor-test only (monitor/meson.build; vmm-monitor has none of
 * this): right after a monitor thread loads its filter (confine_thread),
 * if $VMM_TEST_MONITOR_ATTEMPT is THREAD:WHAT and THREAD is that thread's
 * name ("main", "vcpu0", ...), attempt WHAT there. tests/integration/
 * sandbox.sh checks that the confinement stops it.
 *
 *   openat      open /etc/passwd read-only (seccomp allows a read-only open,
 *               for /proc: Landlock must refuse it; the result is printed)
 *   open-write  create a file under /tmp     socket     an AF_INET socket
 *   execve      run /bin/sh                  fork       a new process
 *   ptrace      attach to pid 1              mmap-exec  an executable mapping
 *   kvm-ioctl   KVM_SET_USER_MEMORY_REGION (any fd: the request is refused)
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <unistd.h>

#include "confine.h"

static long attempt(const char *what)
{
	static char *const argv[] = { "/bin/sh", "-c", "true", NULL };

	if (strcmp(what, "openat") == 0)
		return open("/etc/passwd", O_RDONLY | O_CLOEXEC);
	if (strcmp(what, "open-write") == 0)
		return open("/tmp/vmm-monitor-test-attempt", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (strcmp(what, "socket") == 0)
		return socket(AF_INET, SOCK_STREAM, 0);
	if (strcmp(what, "execve") == 0)
		return execv(argv[0], argv);
	if (strcmp(what, "fork") == 0)
		return fork();
	if (strcmp(what, "ptrace") == 0)
		return ptrace(PTRACE_ATTACH, 1, NULL, NULL);
	if (strcmp(what, "mmap-exec") == 0)
		return mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) ==
		       MAP_FAILED ? -1 : 0;
	if (strcmp(what, "kvm-ioctl") == 0)
		return ioctl(STDERR_FILENO, KVM_SET_USER_MEMORY_REGION, NULL);
	errno = EINVAL;
	return -1;
}

void monitor_test_attempt(const char *thread)
{
	const char *spec = getenv("VMM_TEST_MONITOR_ATTEMPT");
	const char *colon = spec ? strchr(spec, ':') : NULL;
	long r;

	if (!colon || strlen(thread) != (size_t)(colon - spec) ||
	    strncmp(spec, thread, (size_t)(colon - spec)) != 0)
		return;
	r = attempt(colon + 1);
	/* Reached only if the filter let it through (log mode, or a read-only open). */
	fprintf(stderr, "vmm-monitor-test: thread %s: %s returned %ld (%s)\n", thread, colon + 1,
		r, r < 0 ? strerror(errno) : "no error");
}
