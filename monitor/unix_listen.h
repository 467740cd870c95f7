/*
 * A listening Unix stream socket at a path the command line names (the
 * vsock broker's, the control API's): a leftover socket file that nobody
 * listens on is replaced, anything else at the path is an error; at the
 * end the file is removed only if it is still the one bound (not a newer
 * VM's).
 */
#ifndef VMM_MONITOR_UNIX_LISTEN_H
#define VMM_MONITOR_UNIX_LISTEN_H

#include <sys/types.h>

struct unix_listener {
	int fd;		/* non-blocking, close-on-exec */
	dev_t dev;	/* the socket file as bound */
	ino_t ino;
};

/*
 * Bind and listen at path with backlog. On error one line is logged,
 * "OPT PATH: why" (opt as the user typed it: "--vsock socket=", "--api-socket "),
 * and -errno returned with nothing left behind.
 */
int unix_listen(const char *opt, const char *path, int backlog, struct unix_listener *l)
	__attribute__((warn_unused_result));

/* Remove path if it is still l's socket file (a warning if it cannot be). */
void unix_listen_unlink(const char *opt, const char *path, const struct unix_listener *l);

#endif
