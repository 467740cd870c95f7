/*
 * The control channel: protobuf-c messages over SOCK_SEQPACKET with fds by
 * SCM_RIGHTS (contracts in control.h). The receive side is the monitor's
 * defence against a compromised device process, so it assumes every byte,
 * every length and every fd count is hostile.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control_int.h"
#include "log.h"

_Static_assert(LOG_ERR == 0 && LOG_DEBUG == 3, "Log.level range follows enum log_level");
_Static_assert(CONTROL_FD_FIXED + DEVICE_MAX_IRQS + DEVICE_MAX_QUEUES + 1 + DEVICE_MAX_FDS <=
	       CONTROL_MAX_FDS,
	       "a full Setup fits in one message");

/* Room for exactly CONTROL_MAX_FDS fds, aligned for struct cmsghdr. */
union control_cmsg {
	struct cmsghdr align;
	char buf[CMSG_SPACE(sizeof(int) * CONTROL_MAX_FDS)];
};

static void close_fds(const int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
}

/* ---- Sending ---- */

static int send_packet(int sock, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	union control_cmsg c;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nfds) {
		memset(&c, 0, sizeof(c));
		mh.msg_control = c.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	/* A peer that died with unread packets leaves ECONNRESET once: still "gone". */
	if (n < 0)
		return errno == ECONNRESET ? -EPIPE : -errno;
	/* A SEQPACKET send is all or nothing; anything else is a kernel surprise. */
	return (size_t)n == len ? 0 : -EIO;
}

static bool body_known(ControlMsg__BodyCase c)
{
	return (c >= CONTROL_MSG__BODY_SETUP && c <= CONTROL_MSG__BODY_INPUT) ||
	       c == CONTROL_MSG__BODY_VIOLATION;
}

/* A known body case with its pointer set (any union member: they alias). */
bool control_has_body(const ControlMsg *m)
{
	return m && body_known(m->body_case) && m->setup;
}

int control_send(int sock, const ControlMsg *m, const int *fds, unsigned nfds)
{
	uint8_t buf[CONTROL_MAX_MSG];
	size_t len;

	if (!m || nfds > CONTROL_MAX_FDS || (nfds && !fds))
		return -EINVAL;
	/* protobuf-c would dereference a missing required field while packing. */
	if (!control_has_body(m) || !protobuf_c_message_check(&m->base))
		return -EINVAL;
	len = control_msg__get_packed_size(m);
	if (len > CONTROL_MAX_MSG)
		return -EMSGSIZE;
	if (control_msg__pack(m, buf) != len)
		return -EIO;
	return send_packet(sock, buf, len, fds, nfds);
}

int control_send_simple(int sock, ControlMsg__BodyCase body)
{
	Ready ready = READY__INIT;
	StatsRequest req = STATS_REQUEST__INIT;
	Shutdown shut = SHUTDOWN__INIT;
	ControlMsg m = CONTROL_MSG__INIT;

	m.body_case = body;
	if (body == CONTROL_MSG__BODY_READY)
		m.ready = &ready;
	else if (body == CONTROL_MSG__BODY_STATS_REQUEST)
		m.stats_request = &req;
	else if (body == CONTROL_MSG__BODY_SHUTDOWN)
		m.shutdown = &shut;
	else
		return -EINVAL;
	return control_send(sock, &m, NULL, 0);
}

int control_send_event(int sock, unsigned type)
{
	Event ev = EVENT__INIT;
	ControlMsg m = CONTROL_MSG__INIT;

	if (type < EVENT_MIN || type > EVENT_MAX)
		return -EINVAL;
	ev.type = type;
	m.body_case = CONTROL_MSG__BODY_EVENT;
	m.event = &ev;
	return control_send(sock, &m, NULL, 0);
}

int control_send_input(int sock, unsigned what)
{
	Input in = INPUT__INIT;
	ControlMsg m = CONTROL_MSG__INIT;

	in.what = what;
	m.body_case = CONTROL_MSG__BODY_INPUT;
	m.input = &in;
	return control_send(sock, &m, NULL, 0);
}

bool control_printable(unsigned char c, bool tab)
{
	return (c >= 0x20 && c <= 0x7e) || (tab && c == '\t');
}

int control_send_log(int sock, int level, const char *text)
{
	char clean[CONTROL_MAX_LOG + 1];
	Log log = LOG__INIT;
	ControlMsg m = CONTROL_MSG__INIT;
	size_t n;

	if (level < LOG_ERR || level > LOG_DEBUG || !text)
		return -EINVAL;
	n = strnlen(text, CONTROL_MAX_LOG);
	for (size_t i = 0; i < n; i++)
		clean[i] = control_printable((unsigned char)text[i], true) ? text[i] : '?';
	clean[n] = '\0';
	log.level = (uint32_t)level;
	log.text = clean;
	m.body_case = CONTROL_MSG__BODY_LOG;
	m.log = &log;
	return control_send(sock, &m, NULL, 0);
}

int control_send_stats(int sock, const struct control_stats *cs)
{
	Stats st = STATS__INIT;
	ControlMsg m = CONTROL_MSG__INIT;

	st.traps = cs->traps;
	st.sleeps = cs->sleeps;
	st.notifies = cs->notifies;
	st.has_spins_paid = st.has_spins_wasted = st.has_spins_preempted = 1;
	st.has_spin_budget_ns = 1;
	st.spins_paid = cs->spins_paid;
	st.spins_wasted = cs->spins_wasted;
	st.spins_preempted = cs->spins_preempted;
	st.spin_budget_ns = cs->spin_budget_ns;
	m.body_case = CONTROL_MSG__BODY_STATS;
	m.stats = &st;
	return control_send(sock, &m, NULL, 0);
}

int control_send_violation(int sock, uint32_t nr, uint32_t arch, bool allowed)
{
	Violation v = VIOLATION__INIT;
	ControlMsg m = CONTROL_MSG__INIT;

	v.nr = nr;
	v.arch = arch;
	v.allowed = allowed;
	m.body_case = CONTROL_MSG__BODY_VIOLATION;
	m.violation = &v;
	return control_send(sock, &m, NULL, 0);
}

/* ---- Receiving ---- */

/*
 * Move every fd of every SCM_RIGHTS cmsg into fds[] (up to max), closing
 * the rest. Returns 0, or -E2BIG if any fd was over max or the kernel had
 * to drop some (MSG_CTRUNC: it closes those itself).
 */
static int take_fds(struct msghdr *mh, int *fds, unsigned *nfds, unsigned max)
{
	const char *end = (const char *)mh->msg_control + mh->msg_controllen;
	int r = (mh->msg_flags & MSG_CTRUNC) ? -E2BIG : 0;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		const char *data = (const char *)CMSG_DATA(cm);
		size_t n;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
		    cm->cmsg_len < CMSG_LEN(0) || cm->cmsg_len > (size_t)(end - (const char *)cm))
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, data + i * sizeof(int), sizeof(fd));
			if (*nfds < max) {
				fds[(*nfds)++] = fd;
			} else {
				close(fd);
				r = -E2BIG;
			}
		}
	}
	return r;
}

/*
 * recvmsg read 0 bytes: end of file, or an empty packet from a peer that
 * is still there. A peer that closed or shut down sets RCV_SHUTDOWN on our
 * end, which poll reports as POLLRDHUP/POLLHUP.
 */
static int zero_read_error(int sock)
{
	struct pollfd p = { .fd = sock, .events = POLLIN | POLLRDHUP };
	int n;

	do
		n = poll(&p, 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (p.revents & (POLLRDHUP | POLLHUP)) ? -ECONNRESET : -EBADMSG;
}

/*
 * Read one packet into buf (size bytes, one more than any valid message)
 * and its fds into fds[] (up to max, *nfds of them even on error, for the
 * caller to close). Returns 0 and *len, or -errno.
 */
static int recv_packet(int sock, uint8_t *buf, size_t size, size_t *len,
		       int *fds, unsigned *nfds, unsigned max)
{
	union control_cmsg c;
	struct iovec iov = { .iov_base = buf, .iov_len = size };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = c.buf, .msg_controllen = sizeof(c.buf),
	};
	ssize_t n;
	int r;

	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	r = take_fds(&mh, fds, nfds, max);
	if (n == 0)
		return zero_read_error(sock);
	if (r < 0)
		return r;
	if ((mh.msg_flags & MSG_TRUNC) || (size_t)n >= size)
		return -EBADMSG;
	*len = (size_t)n;
	return 0;
}

/*
 * Unpack exactly len bytes. Re-packing must give the same length: a string
 * with a NUL inside (which the C view would silently cut), a repeated
 * scalar field or a padded varint all change it.
 */
static int unpack(const uint8_t *buf, size_t len, ControlMsg **out)
{
	ControlMsg *m = control_msg__unpack(NULL, len, buf);

	if (!m)
		return -EBADMSG;
	if (!control_has_body(m) || control_msg__get_packed_size(m) != len) {
		control_msg__free_unpacked(m, NULL);
		return -EBADMSG;
	}
	*out = m;
	return 0;
}

int control_recv(int sock, ControlMsg **m, int *fds, unsigned *nfds, unsigned max_fds)
{
	uint8_t buf[CONTROL_MAX_MSG + 1];
	int got[CONTROL_MAX_FDS];
	unsigned ngot = 0;
	size_t len = 0;
	int r;

	if (!m || !nfds || (max_fds && !fds))
		return -EINVAL;
	*m = NULL;
	*nfds = 0;
	if (max_fds > CONTROL_MAX_FDS)
		max_fds = CONTROL_MAX_FDS;
	r = recv_packet(sock, buf, sizeof(buf), &len, got, &ngot, max_fds);
	if (r == 0)
		r = unpack(buf, len, m);
	if (r < 0) {
		close_fds(got, ngot);
		return r;
	}
	if (ngot)
		memcpy(fds, got, ngot * sizeof(int));
	*nfds = ngot;
	return 0;
}

void control_msg_free(ControlMsg *m)
{
	if (m)
		control_msg__free_unpacked(m, NULL);
}

