/*
 * The control API (--api-socket PATH; ipc/api.proto; client: vmm-ctl).
 *
 * The socket is made during set-up (a leftover socket nobody listens on is
 * replaced; anything else at PATH is an error), mode 0600, and removed at
 * the end if it is still ours. The control loop serves it: accepting,
 * reading and writing are non-blocking and bounded, so no client can hold
 * up the loop, a vCPU or another client:
 *   - peers: only the monitor's own uid, or root (SO_PEERCRED); others get
 *     an error reply and are closed;
 *   - at most API_MAX_CLIENTS at once (one more: an error reply, closed);
 *   - a request longer than API_MAX_REQUEST, or one that does not decode:
 *     an error reply, then closed; a valid request gets its reply in order;
 *   - replies a client does not read pile up to API_MAX_PENDING bytes, then
 *     it is closed; a client idle API_IDLE_MS (nothing sent, nothing owed)
 *     is closed.
 * Every refusal is counted (stats: api_refused) and logged at most once a
 * second.
 */
#ifndef VMM_MONITOR_API_H
#define VMM_MONITOR_API_H

#include <poll.h>
#include <stdint.h>
#include <sys/types.h>

#include "log.h"

struct vm;

#define API_MAX_CLIENTS 128
#define API_MAX_REQUEST 4096		/* bytes of one ApiRequest */
#define API_MAX_PENDING (1u << 20)	/* reply bytes a client may leave unread */
#define API_IDLE_MS 60000
#define API_PAUSE_MS 2000		/* how long pause waits for every vCPU */
#define API_POLL_MAX (1 + API_MAX_CLIENTS)

struct api_client;

struct api {
	int lfd;			/* listening; -1: no API */
	char path[108];
	uint64_t dev, ino;		/* the socket file as bound: removed only if it still is */
	struct api_client *clients[API_MAX_CLIENTS];
	uint64_t requests, refused;
	struct log_budget said;		/* lines about refused clients */
	uint64_t started_ns;
	pid_t pid;			/* the monitor's */
	uid_t uid;			/* its user: the one allowed besides root */
	const char *devices_mode, *sandbox;	/* for status */
};

/* Bind and listen at path. 0 or -errno (logged, as a usage error: status 2). */
int api_open(struct api *a, const char *path) __attribute__((warn_unused_result));

/* The fds to poll (listener, clients), at most max; each pfds[i].fd -1 when unused. */
unsigned api_pollfds(struct api *a, struct pollfd *pfds, unsigned max);

/* Serve what poll found on the n fds api_pollfds gave (pfds as filled then). */
void api_handle(struct api *a, struct vm *vm, const struct pollfd *pfds, unsigned n);

/* Close every client and the listener; remove the socket if it is still ours. */
void api_close(struct api *a);

#endif
