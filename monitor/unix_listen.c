/* Listening Unix sockets at command-line paths: see unix_listen.h. */
#include "unix_listen.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

static int listen_fail(const char *opt, const char *path, int err, const char *why)
{
	log_err("%s%s: %s", opt, path, why ? why : strerror(-err));
	return err;
}

/* Someone listens at sa: 0; nobody (a leftover file): -ECONNREFUSED; else -errno. */
static int listen_probe(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0)
		err = errno == EAGAIN ? 0 : -errno;	/* EAGAIN: a full backlog, so a listener */
	close(fd);
	return err;
}

/* Bind fd at path, replacing a socket file nobody listens on. */
static int listen_bind(const char *opt, int fd, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int err;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return 0;
	if (errno != EADDRINUSE)
		return listen_fail(opt, path, -errno, errno == ENOENT ? "no such directory" : NULL);
	if (lstat(path, &st) < 0)
		return listen_fail(opt, path, -errno, NULL);
	if (!S_ISSOCK(st.st_mode))
		return listen_fail(opt, path, -EEXIST, "exists and is not a socket");
	err = listen_probe(&sa);
	if (err == 0)
		return listen_fail(opt, path, -EADDRINUSE, "in use (by another VM?)");
	if (err != -ECONNREFUSED)
		return listen_fail(opt, path, err, NULL);
	if ((unlink(path) < 0 && errno != ENOENT) || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return listen_fail(opt, path, -errno, NULL);
	return 0;
}

void unix_listen_unlink(const char *opt, const char *path, const struct unix_listener *l)
{
	struct stat st;

	if (lstat(path, &st) == 0 && st.st_dev == l->dev && st.st_ino == l->ino &&
	    unlink(path) < 0)
		log_warn("%s%s: cannot remove it: %s", opt, path, strerror(errno));
}

int unix_listen(const char *opt, const char *path, int backlog, struct unix_listener *l)
{
	struct sockaddr_un sa;
	struct stat st;
	int err;

	if (!*path || strlen(path) >= sizeof(sa.sun_path))
		return listen_fail(opt, path, -ENAMETOOLONG, "want 1 to 107 bytes");
	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		return listen_fail(opt, path, -errno, NULL);
	err = listen_bind(opt, l->fd, path);
	if (!err && lstat(path, &st) < 0)
		err = listen_fail(opt, path, -errno, NULL);	/* gone already: nothing to unlink */
	if (!err) {
		l->dev = st.st_dev;
		l->ino = st.st_ino;
		if (listen(l->fd, backlog) < 0) {
			err = listen_fail(opt, path, -errno, NULL);
			unix_listen_unlink(opt, path, l);
		}
	}
	if (err) {
		close(l->fd);
		l->fd = -1;
	}
	return err;
}
