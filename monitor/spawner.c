/* The spawner: see spawner.h. */
#include "spawner.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "helper_proc.h"
#include "log.h"
#include "sandbox.h"
#include "util.h"

#define SPAWNER_STOP_MS 1000

struct spawn_request {
	uint32_t sandbox;		/* enum sandbox_mode */
	char id[SPAWNER_ID_MAX];	/* NUL-terminated */
	char vm_name[SPAWNER_ID_MAX];
};

struct spawn_reply {
	int32_t err;			/* 0 or -errno */
	int32_t pid;			/* and a pidfd attached when err is 0 */
};

static char devproc_path[PATH_MAX];

/* vmm-devproc: $VMM_DEVPROC, else beside vmm-monitor, else the build tree. */
static int devproc_find(void)
{
	static const char *const rel[] = { "vmm-devproc", "../devproc/vmm-devproc" };
	const char *env = getenv("VMM_DEVPROC");
	char self[PATH_MAX];
	ssize_t n;

	if (env && access(env, X_OK) == 0)
		return snprintf(devproc_path, sizeof(devproc_path), "%s", env) < 0 ? -EINVAL : 0;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -errno;
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(rel); i++) {
		int len = snprintf(devproc_path, sizeof(devproc_path), "%s/%s", self, rel[i]);

		if (len > 0 && (size_t)len < sizeof(devproc_path) && access(devproc_path, X_OK) == 0)
			return 0;
	}
	devproc_path[0] = '\0';
	log_err("cannot find vmm-devproc next to %s (set VMM_DEVPROC)", self);
	return -ENOENT;
}

/* A NUL-terminated id of [A-Za-z0-9_-]: what ps(1) and the device's log show. */
static bool id_valid(const char *s, size_t size)
{
	size_t len = strnlen(s, size);

	if (len == 0 || len == size)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* ---- In the spawner ---- */

/* In the new process: fd 3 is the control socket, stdin/stdout /dev/null, exec. */
static void __attribute__((noreturn)) child_exec(const struct spawn_request *rq, int sock,
						int null_fd, pid_t monitor)
{
	char *argv[] = { "vmm-devproc", "--control-fd", "3", "--name", (char *)rq->id,
			 "--vm", (char *)rq->vm_name, NULL };

	helper_proc_restore_signals();
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/*
	 * The monitor died before PDEATHSIG was set? Only visible outside a
	 * new pid namespace (inside, the parent is always pid 0); inside,
	 * vmm-devproc ends on its control socket's end.
	 */
	if (rq->sandbox == SANDBOX_OFF && getppid() != monitor)
		_exit(126);
	/* The socket may have come in as fd 0, 1 or 3: out of the way first. */
	sock = fcntl(sock, F_DUPFD_CLOEXEC, 10);
	if (null_fd < 0)	/* no /dev/null when the spawner started: try once more */
		null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (sock < 0 || null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(null_fd, 1) < 0 ||
	    dup2(sock, 3) < 0)
		_exit(126);
	execv(devproc_path, argv);
	_exit(127);
}

/*
 * The monitor's child (CLONE_PARENT), with its pidfd; in a new pid
 * namespace when it will confine itself.
 */
static pid_t spawn_clone(unsigned sandbox, int *pidfd)
{
	struct clone_args ca = {
		.flags = CLONE_PARENT | CLONE_PIDFD | (sandbox == SANDBOX_OFF ? 0 : CLONE_NEWPID),
		.pidfd = (uint64_t)(uintptr_t)pidfd,
		/* 0, as clone3 wants with CLONE_PARENT: it gets ours, SIGCHLD */
	};

	return (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
}

static struct spawn_reply spawn_one(const struct spawn_request *rq, ssize_t n, bool truncated,
				    int sock, int null_fd, pid_t monitor, int *pidfd)
{
	pid_t pid;

	if (n != (ssize_t)sizeof(*rq) || truncated || sock < 0 || rq->sandbox > SANDBOX_STRICT ||
	    !id_valid(rq->id, sizeof(rq->id)) || !id_valid(rq->vm_name, sizeof(rq->vm_name)))
		return (struct spawn_reply){ .err = -EINVAL };
	pid = spawn_clone(rq->sandbox, pidfd);
	if (pid == 0)
		child_exec(rq, sock, null_fd, monitor);
	if (pid < 0)
		return (struct spawn_reply){ .err = -errno };
	return (struct spawn_reply){ .pid = pid };
}

static void __attribute__((noreturn)) spawner_main(int chan, pid_t monitor)
{
	int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	log_set_program("vmm-spawner");
	/* A missing /dev/null (an empty /dev) fails each device's start, not the spawner. */
	if (helper_proc_detach(monitor, "vmm-spawner", (int[]){ chan, null_fd }, null_fd < 0 ? 1 : 2))
		_exit(1);
	for (;;) {
		struct spawn_request rq;
		struct spawn_reply rp;
		bool truncated = false;
		int sock = -1, pidfd = -1;
		ssize_t n = sock_recv_fd(chan, &rq, sizeof(rq), &sock,
					 MSG_CMSG_CLOEXEC, &truncated);

		if (n == 0 || n == -ECONNRESET)
			_exit(0);	/* the monitor closed its end: done */
		if (n < 0)
			_exit(1);
		rp = spawn_one(&rq, n, truncated, sock, null_fd, monitor, &pidfd);
		if (sock >= 0)
			close(sock);
		n = sock_send_fd(chan, &rp, sizeof(rp), rp.err ? -1 : pidfd, MSG_NOSIGNAL);
		if (pidfd >= 0)
			close(pidfd);
		if (n < 0)
			_exit(1);
	}
}

/* ---- In the monitor ---- */

int spawner_start(struct spawner *s)
{
	int sv[2], err = devproc_find();
	pid_t monitor = getpid();

	s->pid = 0;
	s->sock = -1;
	if (err)
		return err;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		err = -errno;
		log_err("cannot make the spawner's channel: %s", strerror(errno));
		return err;
	}
	s->pid = fork();
	if (s->pid == 0) {
		close(sv[0]);
		spawner_main(sv[1], monitor);
	}
	close(sv[1]);
	if (s->pid < 0) {
		err = -errno;
		log_err("cannot start the spawner: %s", strerror(errno));
		close(sv[0]);
		s->pid = 0;
		return err;
	}
	s->sock = sv[0];
	return 0;
}

/* The answer to the one request in flight, by the deadline. */
static int reply_wait(struct spawner *s, struct spawn_reply *rp, int *pidfd)
{
	uint64_t deadline = now_ns() + SPAWNER_REPLY_MS * 1000000ull;
	bool truncated = false;
	ssize_t n;

	for (;;) {
		struct pollfd p = { .fd = s->sock, .events = POLLIN };
		uint64_t now = now_ns();
		int r;

		if (now >= deadline)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)((deadline - now) / 1000000ull) + 1);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0)
			break;
	}
	n = sock_recv_fd(s->sock, rp, sizeof(*rp), pidfd, MSG_CMSG_CLOEXEC | MSG_DONTWAIT,
			 &truncated);
	if (n == 0)
		return -EPIPE;
	if (n < 0)
		return (int)n;
	if (n != (ssize_t)sizeof(*rp) || truncated || rp->err > 0 ||
	    (rp->err == 0 && (*pidfd < 0 || rp->pid <= 0)))
		return -EPROTO;
	return 0;
}

int spawner_spawn(struct spawner *s, const char *id, const char *vm_name, unsigned sandbox,
		  int control_fd, pid_t *pid, int *pidfd)
{
	struct spawn_request rq = { .sandbox = sandbox };
	struct spawn_reply rp;
	int fd = -1, err;
	ssize_t n;

	if (strlen(id) >= sizeof(rq.id) || strlen(vm_name) >= sizeof(rq.vm_name))
		return -ENAMETOOLONG;
	if (s->sock < 0)
		return -EPIPE;
	snprintf(rq.id, sizeof(rq.id), "%s", id);
	snprintf(rq.vm_name, sizeof(rq.vm_name), "%s", vm_name);
	n = sock_send_fd(s->sock, &rq, sizeof(rq), control_fd, MSG_NOSIGNAL);
	if (n < 0)
		return (int)n == -ECONNRESET ? -EPIPE : (int)n;
	err = reply_wait(s, &rp, &fd);
	if (err) {
		if (fd >= 0)
			close(fd);
		/* A late answer would be read as the next one's: no next one. */
		close(s->sock);
		s->sock = -1;
		return err;
	}
	if (rp.err) {
		if (fd >= 0)
			close(fd);
		return rp.err;
	}
	*pid = rp.pid;
	*pidfd = fd;
	return 0;
}

void spawner_stop(struct spawner *s)
{
	if (s->sock >= 0)
		close(s->sock);
	s->sock = -1;
	if (s->pid > 0) {
		int err = helper_proc_stop(s->pid, SPAWNER_STOP_MS);

		if (err)
			log_warn("the spawner (pid %d) did not exit cleanly: %s", (int)s->pid,
				 strerror(-err));
	}
	s->pid = 0;
}
