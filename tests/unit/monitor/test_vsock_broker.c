/*
 * The vsock broker against a fake device: this test holds the device's end
 * of the channel, plays host programs at PATH and listeners at PATH_<port>,
 * and checks what the broker hands over, answers, refuses and cleans up.
 * Every wait is a poll with a deadline.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../check.h"
#include "util.h"
#include "vsock_broker.h"

#define WAIT_MS 2000	/* for anything the broker should do at once */

static char dir[64], path[128];

static struct sockaddr_un addr(const char *p)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p);
	return sa;
}

static bool readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

/* One message from the broker within ms: its size (or -1) and *fd (or -1). */
static ssize_t msg_recv(int dev, struct vsock_broker_msg *m, int *fd, int ms)
{
	bool truncated;

	*fd = -1;
	memset(m, 0, sizeof(*m));
	if (!readable(dev, ms))
		return -1;
	return sock_recv_fd(dev, m, sizeof(*m), fd, MSG_DONTWAIT | MSG_CMSG_CLOEXEC, &truncated);
}

/* Send len bytes as one message, with fd attached if >= 0. */
static bool msg_send(int dev, const void *buf, size_t len, int fd)
{
	return sock_send_fd(dev, buf, len, fd, MSG_NOSIGNAL) == (ssize_t)len;
}

static bool connect_req(int dev, uint32_t id, uint32_t port)
{
	struct vsock_broker_msg m = { .op = VSOCK_BROKER_CONNECT, .id = id, .port = port };

	return msg_send(dev, &m, sizeof(m), -1);
}

/* s written on one end of a stream arrives whole at the other within WAIT_MS. */
static bool bytes_pass(int from, int to, const char *s)
{
	char buf[64] = { 0 };
	size_t len = strlen(s), got = 0;

	if (write(from, s, len) != (ssize_t)len)
		return false;
	while (got < len && readable(to, WAIT_MS)) {
		ssize_t n = read(to, buf + got, sizeof(buf) - 1 - got);

		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return got == len && memcmp(buf, s, len) == 0;
}

static int stream_socket(void)
{
	return socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

/* A listener at p, or with listen_too false a socket file nobody listens on. */
static int bound_at(const char *p, bool listen_too)
{
	struct sockaddr_un sa = addr(p);
	int fd = stream_socket();

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    (listen_too && listen(fd, 4) < 0))
		return -1;
	if (!listen_too) {
		close(fd);	/* the file stays: a leftover of a run that died */
		return 0;
	}
	return fd;
}

static int host_connect(const char *p, int flags)
{
	struct sockaddr_un sa = addr(p);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The open fds of pid (0: this process). */
static int fd_count(pid_t pid)
{
	char p[64];
	DIR *d;
	int n = 0;

	snprintf(p, sizeof(p), pid ? "/proc/%d/fd" : "/proc/self/fd", (int)pid);
	d = opendir(p);
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n - 2 - !pid;	/* . and .., and the DIR's own fd when it is ours */
}

/* A line of /proc/PID/status, e.g. "Seccomp:\t2". */
static bool status_has(pid_t pid, const char *line)
{
	char p[64], buf[4096];
	FILE *f;
	size_t n;

	snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
	f = fopen(p, "r");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, line) != NULL;
}

static void test_refusals(void)
{
	char file[128], missing[128], toolong[160];
	int before = fd_count(0), dev = -1, fd;
	pid_t pid = 0;
	struct stat st;

	snprintf(file, sizeof(file), "%s/file", dir);
	fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	CHECK(fd >= 0 && write(fd, "x", 1) == 1 && close(fd) == 0, "a regular file at PATH");
	CHECK(vsock_broker_start(file, &dev, &pid) == -EEXIST && stat(file, &st) == 0 &&
	      S_ISREG(st.st_mode) && st.st_size == 1, "a regular file at PATH: refused, left alone");
	unlink(file);
	snprintf(missing, sizeof(missing), "%s/no/v.sock", dir);
	snprintf(file, sizeof(file), "%s/no", dir);
	CHECK(vsock_broker_start(missing, &dev, &pid) == -ENOENT && lstat(file, &st) < 0,
	      "a missing directory: -ENOENT, nothing created");
	snprintf(toolong, sizeof(toolong), "%s/%0*d", dir, (int)(VSOCK_BROKER_PATH_MAX - strlen(dir)), 0);
	CHECK(strlen(toolong) == VSOCK_BROKER_PATH_MAX + 1 &&
	      vsock_broker_start(toolong, &dev, &pid) == -ENAMETOOLONG && lstat(toolong, &st) < 0,
	      "a %d-byte path: refused", VSOCK_BROKER_PATH_MAX + 1);
	CHECK(vsock_broker_start("", &dev, &pid) < 0, "an empty path: refused");
	CHECK(dev == -1 && pid == 0 && fd_count(0) == before,
	      "refusals leave no fd open and no broker (%d fds, were %d)", fd_count(0), before);
}

/* The broker runs confined, with only stderr, its listener and its channel open. */
static void test_confined(pid_t pid)
{
	int n = -1;

	/* The child closes them right after fork, then loads its filter. */
	for (int i = 0; i < WAIT_MS / 10 && ((n = fd_count(pid)) != 3 ||
					     !status_has(pid, "Seccomp:\t2")); i++)
		poll(NULL, 0, 10);
	CHECK(n == 3, "the broker keeps 3 fds (stderr, listener, channel): %d", n);
	CHECK(status_has(pid, "Seccomp:\t2") && status_has(pid, "Name:\tvmm-vsock-brk"),
	      "the broker is named vmm-vsock-brk and under a seccomp filter");
}

/* A second VM on the same PATH is refused, and the first keeps it. */
static void test_in_use(int dev)
{
	struct vsock_broker_msg m;
	struct stat before, after;
	int dev2 = -1, fd;
	pid_t pid2 = 0;

	CHECK(lstat(path, &before) == 0 && vsock_broker_start(path, &dev2, &pid2) == -EADDRINUSE &&
	      lstat(path, &after) == 0 && after.st_ino == before.st_ino && dev2 == -1,
	      "PATH another broker listens at: -EADDRINUSE, its socket untouched");
	/* The probe that found the listener reached the device as a connection at EOF. */
	CHECK(msg_recv(dev, &m, &fd, WAIT_MS) == sizeof(m) && m.op == VSOCK_BROKER_ACCEPTED &&
	      fd >= 0 && readable(fd, WAIT_MS) && read(fd, &m, 1) == 0,
	      "the in-use probe arrives as an ACCEPTED connection that reads EOF");
	close(fd);
}

/* (a) A host program connects to PATH: the device gets its socket. */
static void test_accepted(int dev)
{
	struct vsock_broker_msg m;
	int host = host_connect(path, 0), fd;

	CHECK(host >= 0, "a host program connects to PATH");
	CHECK(msg_recv(dev, &m, &fd, WAIT_MS) == sizeof(m) && m.op == VSOCK_BROKER_ACCEPTED &&
	      m.id == 0 && m.port == 0 && m.err == 0 && fd >= 0,
	      "ACCEPTED {0, 0, 0} with an fd");
	CHECK(fd >= 0 && (fcntl(fd, F_GETFL) & O_NONBLOCK), "the handed socket is non-blocking");
	CHECK(bytes_pass(host, fd, "CONNECT 5\n") && bytes_pass(fd, host, "OK 5\n"),
	      "bytes pass both ways between the host program and the device");
	close(fd);
	close(host);
}

/* (b) CONNECT to a port with a listener: CONNECTED with a socket connected to it. */
static void test_connect(int dev, int l5, uint32_t id)
{
	struct vsock_broker_msg m;
	int fd, peer = -1;

	CHECK(connect_req(dev, id, 5), "CONNECT {%u, port 5} sent", id);
	CHECK(msg_recv(dev, &m, &fd, WAIT_MS) == sizeof(m) && m.op == VSOCK_BROKER_CONNECTED &&
	      m.id == id && m.err == 0 && fd >= 0, "CONNECTED {%u, err 0} with an fd (got op %u id %u err %d)",
	      id, m.op, m.id, m.err);
	if (readable(l5, WAIT_MS))
		peer = accept4(l5, NULL, NULL, SOCK_CLOEXEC);
	CHECK(peer >= 0 && bytes_pass(fd, peer, "ping") && bytes_pass(peer, fd, "pong"),
	      "its socket reaches the listener at PATH_5");
	close(peer);
	close(fd);
}

/* The next message is CONNECTED {id, err} without an fd. */
static void expect_refused(int dev, uint32_t id, int err, const char *what)
{
	struct vsock_broker_msg m;
	int fd;

	CHECK(msg_recv(dev, &m, &fd, WAIT_MS) == sizeof(m) && m.op == VSOCK_BROKER_CONNECTED &&
	      m.id == id && m.err == err && fd < 0,
	      "CONNECT %s: CONNECTED {%u, err %d}, no fd (got op %u id %u, err %d, fd %d)",
	      what, id, err, m.op, m.id, m.err, fd);
	if (fd >= 0)
		close(fd);
}

/* (c) CONNECT that cannot be served: the error, no fd. */
static void test_connect_fails(int dev, uint32_t id, uint32_t port, int err, const char *what)
{
	CHECK(connect_req(dev, id, port), "CONNECT {%u, port %u} sent", id, port);
	expect_refused(dev, id, err, what);
}

/* (d) Malformed messages are ignored and the next CONNECT still answered. */
static void test_malformed(int dev, int l5)
{
	struct vsock_broker_msg bad = { .op = 99, .id = 1, .port = 5 };
	char big[sizeof(bad) + 4] = { 0 };
	int p[2];

	CHECK(msg_send(dev, &bad, 8, -1) && msg_send(dev, big, sizeof(big), -1) &&
	      msg_send(dev, &bad, sizeof(bad), -1) && msg_send(dev, &bad, 0, -1),
	      "sent: 8 bytes, %zu bytes, op 99, an empty message", sizeof(big));
	test_connect(dev, l5, 10);	/* the first answer is this one's: the others made none */
	/* A CONNECT with an fd attached: served, and the broker's copy closed. */
	CHECK(pipe2(p, O_CLOEXEC) == 0, "a pipe");
	bad = (struct vsock_broker_msg){ .op = VSOCK_BROKER_CONNECT, .id = 11, .port = 6 };
	CHECK(msg_send(dev, &bad, sizeof(bad), p[1]), "CONNECT with a pipe's end attached");
	close(p[1]);
	expect_refused(dev, 11, -ENOENT, "to port 6 with an fd attached");
	CHECK(readable(p[0], WAIT_MS) && read(p[0], big, 1) == 0,
	      "the attached fd was closed by the broker (the pipe reads EOF)");
	close(p[0]);
}

/* Any of the host connections reads EOF within ms. */
static bool any_eof(const int *c, int n, int ms)
{
	struct pollfd p[n];
	char b;

	for (int i = 0; i < n; i++)
		p[i] = (struct pollfd){ .fd = c[i], .events = POLLIN };
	if (poll(p, (nfds_t)n, ms) <= 0)
		return false;
	for (int i = 0; i < n; i++)
		if (p[i].revents && read(c[i], &b, 1) == 0)
			return true;
	return false;
}

/* A device that does not read: the broker drops connections, never blocks. */
static void test_channel_full(int dev, int l5)
{
	enum { MAX = 4000 };
	static int c[MAX];
	struct vsock_broker_msg m;
	uint64_t deadline = now_ns() + 10000000000ull;
	int n = 0, fd, drained = 0;
	bool eof = false;

	while (!eof && n < MAX && now_ns() < deadline) {
		c[n] = host_connect(path, SOCK_NONBLOCK);
		if (c[n] < 0) {	/* the backlog is full: let the broker accept */
			eof = any_eof(c, n, 5);
			continue;
		}
		if (++n % 32 == 0)
			eof = any_eof(c, n, 20);
	}
	eof = eof || any_eof(c, n, WAIT_MS);
	CHECK(eof, "with the channel full, a host connection is closed (after %d)", n);
	while (msg_recv(dev, &m, &fd, 200) == sizeof(m) && m.op == VSOCK_BROKER_ACCEPTED) {
		close(fd);
		drained++;
	}
	CHECK(drained > 0 && drained < n, "the channel held %d of %d connections", drained, n);
	for (int i = 0; i < n; i++)
		close(c[i]);
	test_connect(dev, l5, 12);
}

/* (e) A leftover socket is replaced; at exit a file that is no longer the broker's stays. */
static void test_stale(void)
{
	char p2[128];
	struct vsock_broker_msg m;
	struct stat st;
	int dev2 = -1, fd, host;
	pid_t pid2 = 0;

	snprintf(p2, sizeof(p2), "%s/stale.sock", dir);
	CHECK(bound_at(p2, false) == 0 && lstat(p2, &st) == 0 && S_ISSOCK(st.st_mode),
	      "a socket file nobody listens on");
	CHECK(vsock_broker_start(p2, &dev2, &pid2) == 0, "a leftover socket at PATH: replaced");
	host = host_connect(p2, 0);
	CHECK(host >= 0 && msg_recv(dev2, &m, &fd, WAIT_MS) == sizeof(m) &&
	      m.op == VSOCK_BROKER_ACCEPTED && fd >= 0, "the new broker serves it");
	close(host);
	close(fd);
	fd = -1;
	if (unlink(p2) == 0)
		fd = open(p2, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	close(dev2);
	CHECK(fd >= 0 && pid2 > 0 && vsock_broker_stop(pid2, WAIT_MS) == 0 &&
	      stat(p2, &st) == 0 && S_ISREG(st.st_mode),
	      "a file that replaced the broker's socket stays when it exits");
	if (fd >= 0)
		close(fd);
	unlink(p2);
}

int main(void)
{
	struct rlimit rl;
	char p5[160], p9[160];
	int dev = -1, l5;
	pid_t pid = 0;
	struct stat st;

	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4200 && rl.rlim_max >= 4200) {
		rl.rlim_cur = 4200;
		CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, "room for 4000 host connections");
	}
	snprintf(dir, sizeof(dir), "/tmp/vmm-vsock.XXXXXX");
	if (!mkdtemp(dir))
		CHECK_SKIP_ALL("no temporary directory: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/v.sock", dir);
	snprintf(p5, sizeof(p5), "%s_5", path);
	snprintf(p9, sizeof(p9), "%s_9", path);

	test_refusals();
	CHECK(vsock_broker_start(path, &dev, &pid) == 0 && dev >= 0 && pid > 0,
	      "the broker starts at PATH");
	CHECK(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode), "PATH is a socket");
	test_confined(pid);
	test_in_use(dev);
	test_accepted(dev);
	l5 = bound_at(p5, true);
	CHECK(l5 >= 0 && bound_at(p9, false) == 0, "a listener at PATH_5, a dead socket at PATH_9");
	test_connect(dev, l5, 7);
	test_connect_fails(dev, 8, 6, -ENOENT, "to port 6, nobody there");
	test_connect_fails(dev, 9, 9, -ECONNREFUSED, "to port 9, a socket nobody listens on");
	test_connect_fails(dev, 14, 4294967295u, -ENOENT, "to port 4294967295, the longest name");
	test_malformed(dev, l5);
	CHECK(kill(pid, SIGINT) == 0 && kill(pid, SIGHUP) == 0, "SIGINT and SIGHUP sent");
	test_connect(dev, l5, 13);	/* the terminal's signals are the monitor's */
	test_channel_full(dev, l5);
	test_stale();

	/* (f) The device end closed: the broker exits by itself and removes PATH. */
	close(dev);
	CHECK(vsock_broker_stop(pid, WAIT_MS) == 0, "the broker exits with status 0 by itself");
	CHECK(lstat(path, &st) < 0 && errno == ENOENT, "PATH is gone");
	close(l5);
	unlink(p5);
	unlink(p9);
	CHECK(rmdir(dir) == 0, "nothing else left in the directory");
	return check_done();
}
