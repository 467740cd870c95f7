/*
 * The broker of --vsock cid=N,socket=PATH: a small process the monitor
 * forks, the one that may create, accept and connect sockets for the
 * virtio-vsock device. It listens at PATH (host programs connect there and
 * write "CONNECT <port>\n") and connects to PATH_<port> when the guest
 * asks; the device only ever gets the stream sockets it hands over. The
 * protocol on the channel between them is devices/vsock_broker_abi.h.
 */
#ifndef VMM_MONITOR_VSOCK_BROKER_H
#define VMM_MONITOR_VSOCK_BROKER_H

#include <sys/types.h>

/* The channel's messages (the same base name: the directory tells them apart). */
#include "../devices/vsock_broker_abi.h"

/*
 * The longest PATH, in bytes: PATH "_4294967295" and its NUL must fit in
 * sockaddr_un.sun_path (108 bytes).
 */
#define VSOCK_BROKER_PATH_MAX 96

/*
 * Listen at path and fork the broker that serves it. A socket file at path
 * nobody listens on (left by an earlier run) is replaced; one somebody
 * listens on, any other file, a missing directory or a path longer than
 * VSOCK_BROKER_PATH_MAX is refused. On success *device_fd is the device's
 * end of the channel (SOCK_SEQPACKET, close-on-exec; the caller owns it)
 * and *pid the broker's. Once every copy of *device_fd is closed, the
 * broker removes path (if that is still its socket) and exits with status
 * 0; vsock_broker_stop reaps it. If the caller dies first, the broker is
 * killed with it (PR_SET_PDEATHSIG) and path stays, for the next start to
 * replace. The caller must be single-threaded (the broker is forked, not
 * exec'ed). Returns 0, or -errno after one line on
 * stderr ("--vsock socket=PATH: why"); then nothing is left open, running
 * or created.
 */
int vsock_broker_start(const char *path, int *device_fd, pid_t *pid)
	__attribute__((warn_unused_result));

/*
 * Reap broker pid, which exits by itself once the caller has closed every
 * copy of the device end: wait up to timeout_ms, then SIGKILL it and reap
 * it (another timeout_ms at most). Logs nothing. Returns 0 if it exited by
 * itself with status 0, -ETIMEDOUT if it had to be killed, -EIO if it
 * failed (another status, or a signal such as SIGSYS from its seccomp
 * filter), -errno if waitpid failed.
 */
int vsock_broker_stop(pid_t pid, unsigned timeout_ms) __attribute__((warn_unused_result));

#endif
