/*
 * The monitor's decoder of what a device process sends it: control_recv on
 * a SOCK_SEQPACKET socketpair fed with the input's packets (with fds
 * attached by SCM_RIGHTS), then control_check_from_device. The device-side
 * check (control_check_from_monitor) runs on the same messages: a Setup
 * is the device's untrusted input in turn.
 *
 * Input (see README.md): packets, each: flags u8 (bits 0-4: fds to attach,
 * 0..31; bit 7: shut the sending side down after this packet), length le16
 * (modulo CONTROL_MAX_MSG + 64), that many bytes.
 * Checks: control_recv returns 0 or a documented -errno; on error no
 * message and no fd is left behind (the lowest free fd number is the same
 * after every input); an accepted message satisfies what control.h
 * promises (body, event type, log level, printable text, syscall number,
 * Setup counts and fd total).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control.h"
#include "harness.h"

static int null_fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd < 0)
		fz_fail("/dev/null");
	return 0;
}

static int lowest_free_fd(void)
{
	int fd = fcntl(0, F_DUPFD_CLOEXEC, 0);

	if (fd < 0)
		fz_fail("F_DUPFD");
	close(fd);
	return fd;
}

static void send_packet(int sock, const uint8_t *buf, size_t len, unsigned nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 32)];
	} c;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds) {
		int fds[32];
		struct cmsghdr *cm;

		for (unsigned i = 0; i < nfds; i++)
			fds[i] = null_fd;
		memset(&c, 0, sizeof(c));
		mh.msg_control = c.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	if (sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN)
		fz_fail("sendmsg: %s", strerror(errno));
}

static bool printable_text(const char *s, bool tab)
{
	size_t n = strlen(s);

	if (n > CONTROL_MAX_LOG)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 0x20 && s[i] <= 0x7e) || (tab && s[i] == '\t')))
			return false;
	return true;
}

static void check_from_device(const ControlMsg *m, unsigned nfds)
{
	FZ_CHECK(nfds == 0, "device message accepted with %u fds", nfds);
	switch (m->body_case) {
	case CONTROL_MSG__BODY_READY:
		FZ_CHECK(!m->ready->info || printable_text(m->ready->info, false), "ready info");
		break;
	case CONTROL_MSG__BODY_EVENT:
		FZ_CHECK(m->event->type >= 1 && m->event->type <= 3, "event %u", m->event->type);
		break;
	case CONTROL_MSG__BODY_LOG:
		FZ_CHECK(m->log->level <= 3 && m->log->text && printable_text(m->log->text, true),
			 "log accepted with level %u", m->log->level);
		break;
	case CONTROL_MSG__BODY_STATS:
		break;
	case CONTROL_MSG__BODY_VIOLATION:
		FZ_CHECK(m->violation->nr <= CONTROL_MAX_SYSCALL_NR, "violation nr %u",
			 m->violation->nr);
		break;
	default:
		fz_fail("device message with body %d accepted", m->body_case);
	}
}

static void check_from_monitor(const ControlMsg *m, unsigned nfds)
{
	const Setup *s = m->setup;

	if (m->body_case != CONTROL_MSG__BODY_SETUP) {
		FZ_CHECK(nfds == 0 && (m->body_case == CONTROL_MSG__BODY_SHUTDOWN ||
				       m->body_case == CONTROL_MSG__BODY_STATS_REQUEST),
			 "monitor message with body %d accepted", m->body_case);
		return;
	}
	FZ_CHECK(s->spec && s->spec->klass && s->spec->n_regions <= DEVICE_MAX_REGIONS &&
		 s->spec->n_irqs <= DEVICE_MAX_IRQS && s->n_mem >= 1 &&
		 s->n_mem <= CONTROL_MAX_MEM && s->n_queue_fds <= DEVICE_MAX_QUEUES &&
		 s->n_backend_fds <= DEVICE_MAX_FDS && nfds <= CONTROL_MAX_FDS &&
		 s->nvcpus >= 1 && s->nvcpus <= RING_MAX_VCPUS, "Setup accepted out of bounds");
	for (size_t i = 0; i < s->spec->n_regions; i++)
		FZ_CHECK(s->spec->regions[i]->size > 0 &&
			 s->spec->regions[i]->addr + s->spec->regions[i]->size >
				 s->spec->regions[i]->addr, "region %zu empty or wrapping", i);
	for (size_t i = 0; i < s->n_mem; i++)
		FZ_CHECK(s->mem[i]->fd_offset + s->mem[i]->size <= s->mem_total &&
			 s->mem[i]->size > 0, "memory range %zu beyond mem_total", i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	static uint8_t buf[CONTROL_MAX_MSG + 64];
	int sv[2], base = lowest_free_fd();
	bool shut = false;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		fz_fail("socketpair: %s", strerror(errno));
	for (unsigned k = 0; k < 64 && fz_more(&in); k++) {
		uint8_t flags = fz_u8(&in);
		size_t len = fz_le(&in, 2) % sizeof(buf);
		int fds[CONTROL_MAX_FDS];
		unsigned nfds = 99;
		ControlMsg *m = (ControlMsg *)1;
		int err;

		len = fz_bytes(&in, buf, len);
		if (!shut)
			send_packet(sv[1], buf, len, flags & 31);
		if (flags & 0x80 && !shut) {
			shutdown(sv[1], SHUT_WR);
			shut = true;
		}
		err = control_recv(sv[0], &m, fds, &nfds, CONTROL_MAX_FDS);
		if (err) {
			FZ_CHECK(err == -ECONNRESET || err == -EBADMSG || err == -E2BIG ||
				 err == -EAGAIN, "control_recv: %d", err);
			FZ_CHECK(m == NULL && nfds == 0, "control_recv failed but returned something");
			continue;
		}
		FZ_CHECK(m && nfds <= CONTROL_MAX_FDS, "control_recv: no message");
		if (control_check_from_device(m, nfds, NULL) == 0)
			check_from_device(m, nfds);
		if (control_check_from_monitor(m, nfds, NULL) == 0)
			check_from_monitor(m, nfds);
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		control_msg_free(m);
	}
	close(sv[0]);
	close(sv[1]);
	FZ_CHECK(lowest_free_fd() == base, "fds leaked: lowest free fd %d, was %d",
		 lowest_free_fd(), base);
	return 0;
}
