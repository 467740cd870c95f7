/*
 * The vsock broker (vsock_broker.h): the listening socket is made in the
 * monitor, so that its errors are the monitor's one line and status 2;
 * then a forked process serves it and the channel from one poll loop. It
 * never waits for the device: what the channel cannot take at once is
 * dropped (devices/vsock_broker_abi.h).
 */
#include "vsock_broker.h"

#include <errno.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper_proc.h"
#include "log.h"
#include "unix_listen.h"
#include "util.h"

_Static_assert(VSOCK_BROKER_PATH_MAX + sizeof("_4294967295") <=
	       sizeof(((struct sockaddr_un *)0)->sun_path), "PATH_<port> must fit sun_path");

#define BROKER_BACKLOG 128
#define BROKER_POLL_MS 1000	/* how soon a monitor gone without PDEATHSIG is noticed */
#define BROKER_BATCH 64		/* accepts or messages per wake-up: neither starves the other */
#define BROKER_LINES_PER_SEC 1	/* lines about what the device or host programs do */

struct broker {
	const char *path;
	int lfd;		/* listening at path */
	int chan;		/* the broker's end of the channel */
	dev_t dev;		/* path's socket file as bound: unlinked only if it still is */
	ino_t ino;
	pid_t parent;
	bool accept_pause;	/* accept failed oddly: skip the listener for one round */
	struct log_budget said;	/* lines about what the device sent */
	struct log_budget lost;	/* lines about what could not be handed over */
};

/* ---- Setup, in the monitor ---- */

#define BROKER_OPT "--vsock socket="

/* Remove path if it is still the socket this broker bound (not a newer VM's). */
static void broker_unlink(const struct broker *b)
{
	struct unix_listener l = { .fd = b->lfd, .dev = b->dev, .ino = b->ino };

	unix_listen_unlink(BROKER_OPT, b->path, &l);
}

/* b->lfd listening at b->path, and the identity of its file. */
static int broker_listen(struct broker *b)
{
	struct unix_listener l;
	int err;

	if (!*b->path || strlen(b->path) > VSOCK_BROKER_PATH_MAX) {
		log_err("--vsock socket=%s: want 1 to %d bytes", b->path, VSOCK_BROKER_PATH_MAX);
		return -ENAMETOOLONG;
	}
	err = unix_listen(BROKER_OPT, b->path, BROKER_BACKLOG, &l);
	if (err)
		return err;
	b->lfd = l.fd;
	b->dev = l.dev;
	b->ino = l.ino;
	return 0;
}

/* ---- The broker process ---- */

/* A line about what the device or a host program did: rate-limited. */
static void __attribute__((format(printf, 2, 3))) broker_warn(struct log_budget *budget,
							      const char *fmt, ...)
{
	unsigned dropped;
	va_list ap;

	if (!log_budget_take(budget, BROKER_LINES_PER_SEC, &dropped))
		return;
	if (dropped)
		log_warn("(%u more lines like the next one were dropped)", dropped);
	va_start(ap, fmt);
	vmm_vlog(LOG_WARN, NULL, fmt, ap);
	va_end(ap);
}

/* Send m, with fd attached if >= 0, without waiting; the channel may refuse it. */
static void broker_send(struct broker *b, const struct vsock_broker_msg *m, int fd)
{
	ssize_t n = sock_send_fd(b->chan, m, sizeof(*m), fd, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n == (ssize_t)sizeof(*m))
		return;
	errno = n < 0 ? (int)-n : EMSGSIZE;
	if (m->op == VSOCK_BROKER_ACCEPTED)
		broker_warn(&b->lost, "the device takes no messages (%s): a host connection closed",
			    strerror(errno));
	else
		broker_warn(&b->lost, "the device takes no messages (%s): CONNECT %u unanswered",
			    strerror(errno), m->id);
}

/* Hand each pending host connection to the device (ACCEPTED). */
static void broker_accept(struct broker *b)
{
	static const struct vsock_broker_msg accepted = { .op = VSOCK_BROKER_ACCEPTED };

	for (unsigned i = 0; i < BROKER_BATCH; i++) {
		int fd = accept4(b->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0 && errno == ECONNABORTED)
			continue;
		if (fd < 0) {
			b->accept_pause = errno != EAGAIN && errno != EINTR;
			if (b->accept_pause)
				broker_warn(&b->lost, "accept: %s", strerror(errno));
			return;
		}
		broker_send(b, &accepted, fd);
		close(fd);	/* the device's copy is in the message, or the host sees EOF */
	}
}

/* CONNECT: connect to PATH_<port> and answer with the socket or the error. */
static void broker_connect(struct broker *b, const struct vsock_broker_msg *req)
{
	struct vsock_broker_msg ans = { .op = VSOCK_BROKER_CONNECTED, .id = req->id };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", b->path, req->port);
	if (fd < 0) {
		ans.err = -errno;
	} else if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ans.err = -errno;	/* -EAGAIN: the listener's backlog is full */
		close(fd);
		fd = -1;
	}
	broker_send(b, &ans, fd);
	if (fd >= 0)
		close(fd);
}

/* Serve one message from the device; -EAGAIN once there is none. */
static int broker_recv(struct broker *b)
{
	struct vsock_broker_msg m = { 0 };
	bool truncated;
	int stray;
	ssize_t n = sock_recv_fd(b->chan, &m, sizeof(m), &stray, MSG_CMSG_CLOEXEC | MSG_DONTWAIT,
				 &truncated);

	if (n < 0)
		return (int)n;
	if (stray >= 0)
		close(stray);
	if (n != sizeof(m) || truncated || m.op != VSOCK_BROKER_CONNECT) {
		broker_warn(&b->said, "the device sent something other than a %zu-byte CONNECT "
			    "(%zd bytes%s, op %u): ignored", sizeof(m), n,
			    truncated ? " and more" : "", m.op);
		return 0;
	}
	if (stray >= 0)
		broker_warn(&b->said, "CONNECT %u came with an fd: closed", m.id);
	broker_connect(b, &m);
	return 0;
}

/* Serve until the channel ends or the monitor is gone; then remove path. */
static int broker_run(struct broker *b)
{
	int status = 0;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = b->accept_pause ? -1 : b->lfd, .events = POLLIN },
			{ .fd = b->chan, .events = POLLIN },
		};

		if (poll(p, 2, BROKER_POLL_MS) < 0 && errno != EINTR) {
			log_err("poll: %s", strerror(errno));
			status = 1;
			break;
		}
		b->accept_pause = false;
		if (getppid() != b->parent ||
		    (p[1].revents & (POLLHUP | POLLERR | POLLNVAL)))
			break;	/* the device and the monitor are gone */
		for (unsigned i = 0; i < BROKER_BATCH && (p[1].revents & POLLIN); i++)
			if (broker_recv(b) < 0)
				break;
		if (p[0].revents & POLLIN)
			broker_accept(b);
	}
	broker_unlink(b);
	return status;
}

/*
 * What the broker may do once set up, each with why; anything else kills
 * it (the device sees its channel end). The monitor is not confined, but
 * the broker is the one process reached from both host programs and the
 * device, so it gets the narrowest set that serves them.
 */
static int broker_confine(void)
{
	static const int allow[] = {
		SCMP_SYS(poll), SCMP_SYS(ppoll),	/* the loop */
		SCMP_SYS(accept4),			/* host programs at PATH */
		SCMP_SYS(connect),			/* CONNECT: PATH_<port> */
		SCMP_SYS(sendmsg), SCMP_SYS(recvmsg),	/* the channel */
		SCMP_SYS(close),			/* fds handed over or refused */
		SCMP_SYS(getppid),			/* a monitor gone without PDEATHSIG */
		SCMP_SYS(lstat), SCMP_SYS(newfstatat), SCMP_SYS(fstat), SCMP_SYS(statx),
		SCMP_SYS(unlink), SCMP_SYS(unlinkat),	/* remove PATH if still ours, at exit */
		SCMP_SYS(exit_group), SCMP_SYS(exit),
		SCMP_SYS(rt_sigreturn), SCMP_SYS(restart_syscall),
		SCMP_SYS(clock_gettime),		/* the log budget (vDSO fallback) */
		SCMP_SYS(brk), SCMP_SYS(munmap),	/* malloc in libc (mmap below) */
	};
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int err = ctx ? 0 : -ENOMEM;

	if (!err)
		err = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	for (size_t i = 0; i < ARRAY_SIZE(allow) && !err; i++)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allow[i], 0);
	if (!err)	/* sockets for CONNECT: Unix ones only */
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				       SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	if (!err)	/* malloc's mappings: never executable */
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				       SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (!err)	/* log lines, to stderr only */
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1,
				       SCMP_A0(SCMP_CMP_EQ, STDERR_FILENO));
	if (!err)
		err = seccomp_load(ctx);	/* sets no_new_privs first */
	seccomp_release(ctx);
	return err;
}

/* The forked broker: confine, serve, exit. */
static void __attribute__((noreturn)) broker_main(struct broker *b)
{
	int err;

	log_set_program("vmm-vsock-broker");
	err = helper_proc_detach(b->parent, "vmm-vsock-brk", (int[]){ b->lfd, b->chan }, 2);
	if (err == -ESRCH) {	/* the monitor is gone already */
		broker_unlink(b);
		_exit(1);
	}
	if (err || (err = broker_confine())) {
		log_err("--vsock socket=%s: cannot confine the broker: %s", b->path,
			strerror(-err));
		broker_unlink(b);
		_exit(1);
	}
	_exit(broker_run(b));
}

int vsock_broker_start(const char *path, int *device_fd, pid_t *pid)
{
	struct broker b = { .path = path, .parent = getpid() };
	int sv[2], err = broker_listen(&b);
	pid_t child;

	if (err)
		return err;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		err = -errno;
		log_err("--vsock socket=%s: the broker's channel: %s", path, strerror(errno));
		goto undo;
	}
	b.chan = sv[1];
	child = fork();
	if (child == 0) {
		close(sv[0]);
		broker_main(&b);
	}
	close(sv[1]);
	if (child < 0) {
		err = -errno;
		log_err("--vsock socket=%s: cannot start the broker: %s", path, strerror(errno));
		close(sv[0]);
		goto undo;
	}
	close(b.lfd);
	*device_fd = sv[0];
	*pid = child;
	return 0;
undo:
	broker_unlink(&b);
	close(b.lfd);
	return err;
}

int vsock_broker_stop(pid_t pid, unsigned timeout_ms)
{
	return helper_proc_stop(pid, timeout_ms);
}
