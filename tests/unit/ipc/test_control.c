/*
 * The control channel over a real SOCK_SEQPACKET socketpair: round trips of
 * every message (Setup with real fds), malformed packets sent as raw bytes
 * (each must give the right error and leak no received fd), the content
 * checks of both directions rule by rule, and peers that go away.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../check.h"
#include "control.h"
#include "device_abi.h"
#include "log.h"
#include "ring.h"
#include "state.h"

/* ---- Helpers ---- */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;		/* the directory's own fd */
}

static int make_pair(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
}

static void close_pair(int sv[2])
{
	close(sv[0]);
	close(sv[1]);
}

/* sendmsg without control_send's limits: raw bytes, up to 32 fds. */
static ssize_t raw_send(int sock, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 32)];
	} c;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

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
	return sendmsg(sock, &mh, MSG_NOSIGNAL);
}

static int same_file(int a, int b)
{
	struct stat sa, sb;

	if (fstat(a, &sa) || fstat(b, &sb))
		return 0;
	return sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev;
}

/*
 * Send raw bytes (with nfds copies of a fresh eventfd) and expect
 * control_recv to fail with want, return no message and no fd, and leave
 * the process with exactly the fds it had before.
 */
static void expect_raw(const char *what, const void *buf, size_t len, unsigned nfds,
		       unsigned max_fds, int want)
{
	int sv[2], fds[CONTROL_MAX_FDS], ev, before, r;
	int attach[CONTROL_MAX_FDS + 8];
	ControlMsg *m = (ControlMsg *)&m;	/* must be reset to NULL */
	unsigned got = 99;

	if (nfds > CONTROL_MAX_FDS + 8) {
		CHECK(0, "%s: the test attaches at most %d fds", what, CONTROL_MAX_FDS + 8);
		return;
	}
	if (make_pair(sv) < 0) {
		CHECK(0, "%s: socketpair: %s", what, strerror(errno));
		return;
	}
	ev = eventfd(0, EFD_CLOEXEC);
	for (unsigned i = 0; i < nfds; i++)
		attach[i] = ev;
	before = count_fds();
	CHECK(raw_send(sv[1], buf, len, attach, nfds) == (ssize_t)len, "%s: sent", what);
	r = control_recv(sv[0], &m, fds, &got, max_fds);
	CHECK(r == want, "%s: got %d (%s), want %d (%s)", what, r, strerror(-r), want,
	      strerror(-want));
	if (r == 0) {
		CHECK(m != NULL && got == nfds, "%s: message and %u fds returned", what, nfds);
		control_msg_free(m);
		for (unsigned i = 0; i < got && i < max_fds; i++)
			close(fds[i]);
	} else {
		CHECK(m == NULL && got == 0, "%s: no message and no fds returned", what);
	}
	CHECK(count_fds() == before, "%s: no received fd leaked (%d before, %d after)", what,
	      before, count_fds());
	close(ev);
	close_pair(sv);
}

/* ---- A full, valid Setup that tests then break one field at a time ---- */

struct setup_fix {
	Region reg[DEVICE_MAX_REGIONS + 1];
	Region *regp[DEVICE_MAX_REGIONS + 1];
	uint32_t irqs[DEVICE_MAX_IRQS + 1];
	char *params[2];
	DeviceSpec spec;
	MemRange mem[CONTROL_MAX_MEM + 1];
	MemRange *memp[CONTROL_MAX_MEM + 1];
	Setup setup;
	ControlMsg msg;
	unsigned nfds;		/* what the setup asks for */
};

static void fix_init(struct setup_fix *f)
{
	static const Region reg0 = REGION__INIT;
	static const MemRange mem0 = MEM_RANGE__INIT;

	memset(f, 0, sizeof(*f));
	for (unsigned i = 0; i <= DEVICE_MAX_REGIONS; i++) {
		f->reg[i] = reg0;
		f->reg[i].bus = TRAP_MMIO;
		f->reg[i].addr = 0xfe000000 + 0x1000 * i;
		f->reg[i].size = 0x1000;
		f->regp[i] = &f->reg[i];
	}
	f->reg[0].bus = TRAP_PIO;
	f->reg[0].addr = 0x3f8;
	f->reg[0].size = 8;
	f->reg[1].has_sync_writes = 1;
	f->reg[1].sync_writes = 1;
	for (unsigned i = 0; i <= DEVICE_MAX_IRQS; i++)
		f->irqs[i] = 4 + i;
	f->params[0] = "baud=115200";
	f->params[1] = "x=";
	device_spec__init(&f->spec);
	f->spec.klass = "serial";
	f->spec.instance = 2;
	f->spec.n_regions = 2;
	f->spec.regions = f->regp;
	f->spec.n_irqs = 1;
	f->spec.irqs = f->irqs;
	f->spec.has_mem_size = 1;
	f->spec.mem_size = 3ull << 30;
	f->spec.n_params = 2;
	f->spec.params = f->params;
	for (unsigned i = 0; i <= CONTROL_MAX_MEM; i++) {
		f->mem[i] = mem0;
		f->mem[i].gpa = (uint64_t)i << 32;
		f->mem[i].size = 1ull << 30;
		f->mem[i].fd_offset = (uint64_t)i << 30;
		f->memp[i] = &f->mem[i];
	}
	setup__init(&f->setup);
	f->setup.spec = &f->spec;
	f->setup.n_mem = 2;
	f->setup.mem = f->memp;
	f->setup.mem_total = 4ull << 30;
	f->setup.nvcpus = 2;
	f->setup.ring_size = ring_shm_size(2);
	f->setup.state_size = state_region_size();
	f->setup.spin_ns = 20000;
	f->setup.n_backend_fds = 1;
	f->setup.vm_name = "test-vm";
	control_msg__init(&f->msg);
	f->msg.body_case = CONTROL_MSG__BODY_SETUP;
	f->msg.setup = &f->setup;
	f->nfds = CONTROL_FD_FIXED + 1 + 1;
}

/* ---- Round trips ---- */

static ControlMsg *roundtrip(int sv[2], const ControlMsg *out, const char *what)
{
	ControlMsg *in = NULL;
	unsigned n = 99;
	int r = control_send(sv[1], out, NULL, 0);

	CHECK(r == 0, "%s: send: %d", what, r);
	r = control_recv(sv[0], &in, NULL, &n, 0);
	CHECK(r == 0 && in && n == 0, "%s: recv: %d", what, r);
	if (in)
		CHECK(in->body_case == out->body_case, "%s: body %d", what, in->body_case);
	return in;
}

static void test_roundtrip_small(int sv[2])
{
	Ready ready = READY__INIT;
	Event ev = EVENT__INIT;
	Log log = LOG__INIT;
	Stats st = STATS__INIT;
	ControlMsg m = CONTROL_MSG__INIT, *in;
	const char *why = NULL;

	ready.info = "serial ready";
	m.body_case = CONTROL_MSG__BODY_READY;
	m.ready = &ready;
	if ((in = roundtrip(sv, &m, "ready"))) {
		CHECK(in->ready->info && !strcmp(in->ready->info, "serial ready"), "ready info");
		CHECK(control_check_from_device(in, 0, &why) == 0, "ready accepted: %s", why);
		control_msg_free(in);
	}
	ev.type = DEV_EVENT_POWEROFF;
	m.body_case = CONTROL_MSG__BODY_EVENT;
	m.event = &ev;
	if ((in = roundtrip(sv, &m, "event"))) {
		CHECK_EQ(in->event->type, DEV_EVENT_POWEROFF, "event type");
		control_msg_free(in);
	}
	log.level = LOG_WARN;
	log.text = "queue 0:\tdescriptor loop";
	m.body_case = CONTROL_MSG__BODY_LOG;
	m.log = &log;
	if ((in = roundtrip(sv, &m, "log"))) {
		CHECK(in->log->level == LOG_WARN && !strcmp(in->log->text, log.text), "log fields");
		CHECK(control_check_from_device(in, 0, &why) == 0, "log accepted: %s", why);
		control_msg_free(in);
	}
	st.traps = 1ull << 40;
	st.sleeps = 7;
	st.notifies = UINT64_MAX;
	m.body_case = CONTROL_MSG__BODY_STATS;
	m.stats = &st;
	if ((in = roundtrip(sv, &m, "stats"))) {
		CHECK(in->stats->traps == 1ull << 40 && in->stats->sleeps == 7 &&
		      in->stats->notifies == UINT64_MAX, "stats fields");
		control_msg_free(in);
	}
}

static void test_roundtrip_simple(int sv[2])
{
	static const ControlMsg__BodyCase bodies[] = {
		CONTROL_MSG__BODY_READY, CONTROL_MSG__BODY_STATS_REQUEST, CONTROL_MSG__BODY_SHUTDOWN,
	};
	ControlMsg *in;
	unsigned n;
	int r;

	for (unsigned i = 0; i < 3; i++) {
		r = control_send_simple(sv[1], bodies[i]);
		CHECK(r == 0, "send_simple(%d): %d", bodies[i], r);
		in = NULL;
		r = control_recv(sv[0], &in, NULL, &n, 0);
		CHECK(r == 0 && in && in->body_case == bodies[i], "simple body %d arrives", bodies[i]);
		if (in && i == 0)
			CHECK(in->ready->info == NULL, "ready without info");
		control_msg_free(in);
	}
	CHECK(control_send_simple(sv[1], CONTROL_MSG__BODY_LOG) == -EINVAL, "send_simple(LOG): -EINVAL");
	CHECK(control_send_simple(sv[1], CONTROL_MSG__BODY__NOT_SET) == -EINVAL,
	      "send_simple(NOT_SET): -EINVAL");
}

static void test_helpers(int sv[2])
{
	char text[700];
	ControlMsg *in = NULL;
	const char *why = NULL;
	unsigned n;
	int r;

	CHECK(control_send_event(sv[1], DEV_EVENT_NEEDS_RESET) == 0, "send_event");
	r = control_recv(sv[0], &in, NULL, &n, 0);
	CHECK(r == 0 && in && in->body_case == CONTROL_MSG__BODY_EVENT &&
	      in->event->type == DEV_EVENT_NEEDS_RESET, "event arrives");
	control_msg_free(in);
	CHECK(control_send_event(sv[1], 0) == -EINVAL, "send_event(0): -EINVAL");
	CHECK(control_send_event(sv[1], 4) == -EINVAL, "send_event(4): -EINVAL");

	/* Guest bytes in a log line: cut and defanged, never refused. */
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	memcpy(text, "\x1b[2J\ttab\x80\x7f", 10);
	CHECK(control_send_log(sv[1], LOG_INFO, text) == 0, "send_log");
	in = NULL;
	r = control_recv(sv[0], &in, NULL, &n, 0);
	CHECK(r == 0 && in && in->body_case == CONTROL_MSG__BODY_LOG, "log arrives");
	if (in && in->body_case == CONTROL_MSG__BODY_LOG) {
		CHECK_EQ(strlen(in->log->text), CONTROL_MAX_LOG, "log text cut");
		CHECK(!memcmp(in->log->text, "?[2J\ttab??x", 11), "escapes replaced, tab kept");
		CHECK(control_check_from_device(in, 0, &why) == 0, "sanitised log accepted: %s", why);
	}
	control_msg_free(in);
	CHECK(control_send_log(sv[1], 4, "x") == -EINVAL, "send_log level 4: -EINVAL");
	CHECK(control_send_log(sv[1], -1, "x") == -EINVAL, "send_log level -1: -EINVAL");
	CHECK(control_send_log(sv[1], 0, NULL) == -EINVAL, "send_log NULL: -EINVAL");

	CHECK(control_send_stats(sv[1], &(struct control_stats){ .traps = 1, .sleeps = 2,
								  .notifies = 3, .spins_paid = 4 }) == 0,
	      "send_stats");
	in = NULL;
	r = control_recv(sv[0], &in, NULL, &n, 0);
	CHECK(r == 0 && in && in->body_case == CONTROL_MSG__BODY_STATS && in->stats->traps == 1 &&
	      in->stats->sleeps == 2 && in->stats->notifies == 3 && in->stats->has_spins_paid &&
	      in->stats->spins_paid == 4, "stats arrive");
	control_msg_free(in);
}

static int setup_fds(int fds[5])
{
	fds[0] = memfd_create("guest", MFD_CLOEXEC);
	fds[1] = memfd_create("ring", MFD_CLOEXEC);
	fds[2] = eventfd(0, EFD_CLOEXEC);
	fds[3] = eventfd(0, EFD_CLOEXEC);
	fds[4] = memfd_create("backend", MFD_CLOEXEC);
	for (int i = 0; i < 5; i++)
		if (fds[i] < 0)
			return -1;
	return 0;
}

static void check_setup_equal(const Setup *a, const Setup *b)
{
	const DeviceSpec *x = a->spec, *y = b->spec;
	int ok = !strcmp(x->klass, y->klass) && x->instance == y->instance &&
		 x->n_regions == y->n_regions && x->n_irqs == y->n_irqs &&
		 x->irqs[0] == y->irqs[0] && x->has_mem_size && x->mem_size == y->mem_size &&
		 x->n_params == 2 && !strcmp(x->params[0], y->params[0]) &&
		 !strcmp(x->params[1], y->params[1]);

	CHECK(ok, "setup: spec fields survive");
	for (size_t i = 0; ok && i < x->n_regions; i++)
		CHECK(x->regions[i]->bus == y->regions[i]->bus &&
		      x->regions[i]->addr == y->regions[i]->addr &&
		      x->regions[i]->size == y->regions[i]->size &&
		      x->regions[i]->sync_writes == y->regions[i]->sync_writes,
		      "setup: region %zu survives", i);
	ok = a->n_mem == b->n_mem && a->mem_total == b->mem_total && a->nvcpus == b->nvcpus &&
	     a->ring_size == b->ring_size && a->state_size == b->state_size &&
	     a->restore == b->restore && a->spin_ns == b->spin_ns &&
	     a->n_backend_fds == b->n_backend_fds && !strcmp(a->vm_name, b->vm_name);
	CHECK(ok, "setup: scalar fields survive");
	for (size_t i = 0; ok && i < a->n_mem; i++)
		CHECK(a->mem[i]->gpa == b->mem[i]->gpa && a->mem[i]->size == b->mem[i]->size &&
		      a->mem[i]->fd_offset == b->mem[i]->fd_offset, "setup: mem %zu survives", i);
}

static void check_setup_fds(const int *sent, const int *got, unsigned n)
{
	uint64_t v = 0x1234;
	int ok = 1;

	for (unsigned i = 0; i < n; i++) {
		ok &= same_file(sent[i], got[i]) && got[i] != sent[i];
		ok &= (fcntl(got[i], F_GETFD) & FD_CLOEXEC) != 0;
	}
	CHECK(ok, "setup: %u fds refer to the sent files, close-on-exec", n);
	CHECK(write(got[CONTROL_FD_DOORBELL], &v, 8) == 8, "write the received doorbell");
	v = 0;
	CHECK(read(sent[CONTROL_FD_DOORBELL], &v, 8) == 8 && v == 0x1234,
	      "the sender's eventfd sees it");
}

static void test_roundtrip_setup(int sv[2])
{
	struct setup_fix f;
	int sent[5], got[CONTROL_MAX_FDS];
	ControlMsg *in = NULL;
	const char *why = NULL;
	unsigned n = 0;
	int r, before = count_fds();

	fix_init(&f);
	if (setup_fds(sent) < 0) {
		CHECK(0, "setup fds: %s", strerror(errno));
		return;
	}
	r = control_send(sv[1], &f.msg, sent, f.nfds);
	CHECK(r == 0, "setup: send with %u fds: %d", f.nfds, r);
	r = control_recv(sv[0], &in, got, &n, CONTROL_MAX_FDS);
	CHECK(r == 0 && in && in->body_case == CONTROL_MSG__BODY_SETUP, "setup: recv: %d", r);
	CHECK_EQ(n, f.nfds, "setup: fds received");
	if (r == 0 && n == f.nfds) {
		check_setup_equal(in->setup, &f.setup);
		check_setup_fds(sent, got, n);
		CHECK(control_check_from_monitor(in, n, &why) == 0, "setup accepted: %s", why);
		CHECK(control_check_from_device(in, n, &why) == -EBADMSG,
		      "setup from a device refused: %s", why);
	}
	for (unsigned i = 0; i < n; i++)
		close(got[i]);
	for (int i = 0; i < 5; i++)
		close(sent[i]);
	control_msg_free(in);
	CHECK(count_fds() == before, "setup round trip leaves no fd behind");
}

/* ---- control_send refusals ---- */

static void test_send_refusals(int sv[2])
{
	ControlMsg m = CONTROL_MSG__INIT;
	Log log = LOG__INIT;
	int fds[CONTROL_MAX_FDS + 1] = { 0 };
	char *big;

	CHECK(control_send(sv[1], &m, NULL, 0) == -EINVAL, "send with no body: -EINVAL");
	CHECK(control_send(sv[1], NULL, NULL, 0) == -EINVAL, "send NULL: -EINVAL");
	m.body_case = CONTROL_MSG__BODY_LOG;
	m.log = &log;
	CHECK(control_send(sv[1], &m, NULL, 0) == -EINVAL, "send with required text NULL: -EINVAL");
	log.text = "x";
	CHECK(control_send(sv[1], &m, fds, CONTROL_MAX_FDS + 1) == -EINVAL, "send CONTROL_MAX_FDS + 1 fds: -EINVAL");
	CHECK(control_send(sv[1], &m, NULL, 1) == -EINVAL, "send 1 fd from NULL: -EINVAL");
	big = malloc(CONTROL_MAX_MSG + 1);
	if (!big)
		return;
	memset(big, 'a', CONTROL_MAX_MSG);
	big[CONTROL_MAX_MSG] = '\0';
	log.text = big;
	CHECK(control_send(sv[1], &m, NULL, 0) == -EMSGSIZE, "oversize message: -EMSGSIZE");
	free(big);
}

/* A message of exactly CONTROL_MAX_MSG bytes passes; the channel checks size, not content. */
static void test_max_size(int sv[2])
{
	ControlMsg m = CONTROL_MSG__INIT, *in = NULL;
	Log log = LOG__INIT;
	char *text = calloc(1, CONTROL_MAX_MSG);
	const char *why = NULL;
	size_t len = CONTROL_MAX_MSG - 16;
	unsigned n;
	int r;

	if (!text)
		return;
	m.body_case = CONTROL_MSG__BODY_LOG;
	m.log = &log;
	log.text = text;
	memset(text, 'a', len);
	while (control_msg__get_packed_size(&m) < CONTROL_MAX_MSG)
		text[len++] = 'a';
	CHECK_EQ(control_msg__get_packed_size(&m), CONTROL_MAX_MSG, "built a maximal message");
	r = control_send(sv[1], &m, NULL, 0);
	CHECK(r == 0, "send maximal: %d", r);
	r = control_recv(sv[0], &in, NULL, &n, 0);
	CHECK(r == 0 && in, "recv maximal: %d", r);
	CHECK(control_check_from_device(in, 0, &why) == -EBADMSG, "but its log text is too long: %s",
	      why);
	control_msg_free(in);
	free(text);
}

/* ---- Malformed packets ---- */

static void test_malformed(void)
{
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f };
	static const uint8_t unknown_only[] = { 0x48, 0x01 };	/* field 9 = 1, no body */
	static const uint8_t event_no_type[] = { 0x1a, 0x00 };	/* Event missing `type` */
	static const uint8_t event_padded[] = { 0x1a, 0x03, 0x08, 0x81, 0x00 };
	static const uint8_t event_unknown[] = { 0x1a, 0x02, 0x08, 0x01, 0x48, 0x01 };
	static const uint8_t two_bodies[] = { 0x1a, 0x02, 0x08, 0x01, 0x3a, 0x00 };
	/* Log{level 1, text "ab\0ESC[2J"}: the NUL would hide the escape from checks. */
	static const uint8_t log_nul[] = { 0x22, 0x0b, 0x08, 0x01, 0x12, 0x07,
					   'a', 'b', 0x00, 0x1b, '[', '2', 'J' };
	uint8_t setup_buf[CONTROL_MAX_MSG];
	struct setup_fix f;
	uint8_t *big;
	size_t len;

	expect_raw("empty packet", "", 0, 0, CONTROL_MAX_FDS, -EBADMSG);
	expect_raw("empty packet with 2 fds", "", 0, 2, CONTROL_MAX_FDS, -EBADMSG);
	expect_raw("garbage", garbage, sizeof(garbage), 0, CONTROL_MAX_FDS, -EBADMSG);
	expect_raw("garbage with 3 fds", garbage, sizeof(garbage), 3, CONTROL_MAX_FDS, -EBADMSG);
	expect_raw("no body (unknown field only)", unknown_only, 2, 1, CONTROL_MAX_FDS, -EBADMSG);
	expect_raw("required field missing", event_no_type, 2, 0, CONTROL_MAX_FDS, -EBADMSG);
	expect_raw("padded varint", event_padded, sizeof(event_padded), 0, 4, -EBADMSG);
	expect_raw("unknown field next to a body (fine)", event_unknown, sizeof(event_unknown), 0,
		   4, 0);
	expect_raw("two bodies", two_bodies, sizeof(two_bodies), 0, 4, -EBADMSG);
	expect_raw("NUL inside a string", log_nul, sizeof(log_nul), 0, 4, -EBADMSG);

	fix_init(&f);
	len = control_msg__pack(&f.msg, setup_buf);
	for (size_t cut = 1; cut < len; cut += len / 7 + 1) {
		char what[64];

		snprintf(what, sizeof(what), "setup cut to %zu of %zu bytes", len - cut, len);
		expect_raw(what, setup_buf, len - cut, 5, CONTROL_MAX_FDS, -EBADMSG);
	}

	big = calloc(1, 20000);
	if (!big)
		return;
	memcpy(big, setup_buf, len);	/* a valid start does not help */
	expect_raw("CONTROL_MAX_MSG + 1 bytes", big, CONTROL_MAX_MSG + 1, 2, CONTROL_MAX_FDS,
		   -EBADMSG);
	expect_raw("20000 bytes", big, 20000, 0, CONTROL_MAX_FDS, -EBADMSG);
	free(big);
}

static void test_too_many_fds(void)
{
	static const uint8_t ready[] = { 0x12, 0x00 };	/* a valid Ready */

	expect_raw("CONTROL_MAX_FDS + 1 fds", ready, 2, CONTROL_MAX_FDS + 1, CONTROL_MAX_FDS, -E2BIG);
	expect_raw("CONTROL_MAX_FDS + 8 fds", ready, 2, CONTROL_MAX_FDS + 8, CONTROL_MAX_FDS, -E2BIG);
	expect_raw("3 fds, max 2", ready, 2, 3, 2, -E2BIG);
	expect_raw("1 fd, max 0", ready, 2, 1, 0, -E2BIG);
	expect_raw("CONTROL_MAX_FDS fds, max that (fine)", ready, 2, CONTROL_MAX_FDS, CONTROL_MAX_FDS, 0);
}

/* A Ready carrying an fd unpacks, and the direction check refuses it. */
static void test_fds_on_fdless_message(int sv[2])
{
	int ev = eventfd(0, EFD_CLOEXEC), got[CONTROL_MAX_FDS], before = count_fds();
	ControlMsg *in = NULL;
	const char *why = NULL;
	unsigned n = 0;
	int r;

	CHECK(ev >= 0 && control_send_simple(sv[1], CONTROL_MSG__BODY_READY) == 0, "send ready");
	r = control_recv(sv[0], &in, got, &n, CONTROL_MAX_FDS);
	CHECK(r == 0 && n == 0, "plain ready: no fds");
	control_msg_free(in);
	in = NULL;
	{
		Ready rd = READY__INIT;
		ControlMsg m = CONTROL_MSG__INIT;

		m.body_case = CONTROL_MSG__BODY_READY;
		m.ready = &rd;
		CHECK(control_send(sv[1], &m, &ev, 1) == 0, "send ready with an fd");
	}
	r = control_recv(sv[0], &in, got, &n, CONTROL_MAX_FDS);
	CHECK(r == 0 && n == 1, "ready with an fd unpacks: %d, %u fds", r, n);
	if (r == 0) {
		CHECK(control_check_from_device(in, n, &why) == -EBADMSG, "refused: %s", why);
		for (unsigned i = 0; i < n; i++)
			close(got[i]);
	}
	control_msg_free(in);
	close(ev);
	CHECK(count_fds() == before - 1, "no fd left behind");
}

/* An empty packet does not desynchronise the channel. */
static void test_empty_then_valid(int sv[2])
{
	ControlMsg *in = NULL;
	unsigned n;
	int r;

	CHECK(send(sv[1], "", 0, 0) == 0, "send an empty packet");
	CHECK(control_send_event(sv[1], DEV_EVENT_RESET) == 0, "then an event");
	r = control_recv(sv[0], &in, NULL, &n, 0);
	CHECK(r == -EBADMSG && !in, "empty packet from a live peer: -EBADMSG (%d)", r);
	r = control_recv(sv[0], &in, NULL, &n, 0);
	CHECK(r == 0 && in && in->body_case == CONTROL_MSG__BODY_EVENT, "next message intact");
	control_msg_free(in);
}

/* ---- Peers going away ---- */

static void test_peer_gone(void)
{
	int sv[2], fl;
	ControlMsg *in = (ControlMsg *)&in;
	unsigned n;
	int r;

	if (make_pair(sv) < 0)
		return;
	fl = fcntl(sv[0], F_GETFL);
	CHECK(fl >= 0 && fcntl(sv[0], F_SETFL, fl | O_NONBLOCK) == 0, "non-blocking");
	r = control_recv(sv[0], &in, NULL, &n, 0);
	CHECK(r == -EAGAIN && in == NULL, "nothing waiting: -EAGAIN (%d)", r);
	CHECK(control_send_event(sv[1], DEV_EVENT_RESET) == 0, "queue a message");
	close(sv[1]);
	r = control_recv(sv[0], &in, NULL, &n, 0);
	CHECK(r == 0 && in, "queued message still read after the peer closed");
	control_msg_free(in);
	r = control_recv(sv[0], &in, NULL, &n, 0);
	CHECK(r == -ECONNRESET, "peer closed: -ECONNRESET (%d)", r);
	r = control_recv(sv[0], &in, NULL, &n, 0);
	CHECK(r == -ECONNRESET, "and again: -ECONNRESET (%d)", r);
	/* Default SIGPIPE disposition: reaching the next line proves none was raised. */
	r = control_send_simple(sv[0], CONTROL_MSG__BODY_SHUTDOWN);
	CHECK(r == -EPIPE, "send to a closed peer: -EPIPE, no SIGPIPE (%d)", r);
	close(sv[0]);

	if (make_pair(sv) < 0)
		return;
	CHECK(shutdown(sv[1], SHUT_WR) == 0, "peer shuts down writing");
	r = control_recv(sv[0], &in, NULL, &n, 0);
	CHECK(r == -ECONNRESET, "peer shut down: -ECONNRESET (%d)", r);
	close_pair(sv);

	/* A peer that dies with packets unread leaves ECONNRESET on our socket. */
	if (make_pair(sv) < 0)
		return;
	CHECK(control_send_simple(sv[0], CONTROL_MSG__BODY_SHUTDOWN) == 0, "send, never read");
	close(sv[1]);
	r = control_send_simple(sv[0], CONTROL_MSG__BODY_SHUTDOWN);
	CHECK(r == -EPIPE, "send after the peer died with unread data: -EPIPE (%d)", r);
	r = control_send_simple(sv[0], CONTROL_MSG__BODY_SHUTDOWN);
	CHECK(r == -EPIPE, "and again: -EPIPE (%d)", r);
	r = control_recv(sv[0], &in, NULL, &n, 0);
	CHECK(r == -ECONNRESET, "recv: -ECONNRESET (%d)", r);
	close(sv[0]);
}

/* ---- Content checks: from a device ---- */

static int dev_ok(const ControlMsg *m, unsigned nfds, const char *what)
{
	const char *why = NULL;
	int r = control_check_from_device(m, nfds, &why);

	if (r)
		printf("# %s: %s\n", what, why);
	return r == 0;
}

static void test_check_device_log(void)
{
	Log log = LOG__INIT;
	ControlMsg m = CONTROL_MSG__INIT;
	char text[CONTROL_MAX_LOG + 2];

	m.body_case = CONTROL_MSG__BODY_LOG;
	m.log = &log;
	log.text = "plain\ttext";
	for (unsigned l = 0; l <= 3; l++) {
		log.level = l;
		CHECK(dev_ok(&m, 0, "log"), "log level %u accepted", l);
	}
	log.level = 4;
	CHECK(!dev_ok(&m, 0, "log"), "log level 4 refused");
	log.level = 1;
	log.text = "";
	CHECK(dev_ok(&m, 0, "log"), "empty log accepted");
	log.text = "red \x1b[31m";
	CHECK(!dev_ok(&m, 0, "log"), "log with ESC refused");
	log.text = "del \x7f";
	CHECK(!dev_ok(&m, 0, "log"), "log with DEL refused");
	log.text = "csi \xc2\x9b" "31m";
	CHECK(!dev_ok(&m, 0, "log"), "log with a C1 control (UTF-8) refused");
	log.text = "line\nfeed";
	CHECK(!dev_ok(&m, 0, "log"), "log with newline refused");
	memset(text, 'a', sizeof(text));
	text[CONTROL_MAX_LOG] = '\0';
	log.text = text;
	CHECK(dev_ok(&m, 0, "log"), "log of CONTROL_MAX_LOG bytes accepted");
	text[CONTROL_MAX_LOG] = 'a';
	text[CONTROL_MAX_LOG + 1] = '\0';
	CHECK(!dev_ok(&m, 0, "log"), "log of CONTROL_MAX_LOG + 1 bytes refused");
	log.text = NULL;
	CHECK(!dev_ok(&m, 0, "log"), "log with NULL text refused");
	log.text = "x";
	CHECK(!dev_ok(&m, 1, "log"), "log with an fd refused");
}

static void test_check_device_other(void)
{
	Ready ready = READY__INIT;
	Event ev = EVENT__INIT;
	Stats st = STATS__INIT;
	StatsRequest sr = STATS_REQUEST__INIT;
	Shutdown sh = SHUTDOWN__INIT;
	ControlMsg m = CONTROL_MSG__INIT;
	struct setup_fix f;

	CHECK(!dev_ok(NULL, 0, "null"), "NULL message refused");
	CHECK(!dev_ok(&m, 0, "no body"), "message without body refused");
	m.body_case = CONTROL_MSG__BODY_READY;
	m.ready = &ready;
	CHECK(dev_ok(&m, 0, "ready"), "ready accepted");
	CHECK(!dev_ok(&m, 1, "ready"), "ready with an fd refused");
	ready.info = "ok info";
	CHECK(dev_ok(&m, 0, "ready"), "ready with info accepted");
	ready.info = "bad\x1b]0;title\x07";
	CHECK(!dev_ok(&m, 0, "ready"), "ready info with escapes refused");
	m.body_case = CONTROL_MSG__BODY_EVENT;
	m.event = &ev;
	for (unsigned t = 0; t <= 4; t++) {
		ev.type = t;
		CHECK(dev_ok(&m, 0, "event") == (t >= 1 && t <= 3), "event type %u %s", t,
		      t >= 1 && t <= 3 ? "accepted" : "refused");
	}
	ev.type = UINT32_MAX;
	CHECK(!dev_ok(&m, 0, "event"), "event type 0xffffffff refused");
	m.body_case = CONTROL_MSG__BODY_STATS;
	m.stats = &st;
	CHECK(dev_ok(&m, 0, "stats"), "stats accepted");
	CHECK(!dev_ok(&m, 2, "stats"), "stats with fds refused");
	m.body_case = CONTROL_MSG__BODY_STATS_REQUEST;
	m.stats_request = &sr;
	CHECK(!dev_ok(&m, 0, "statsreq"), "stats request from a device refused");
	m.body_case = CONTROL_MSG__BODY_SHUTDOWN;
	m.shutdown = &sh;
	CHECK(!dev_ok(&m, 0, "shutdown"), "shutdown from a device refused");
	fix_init(&f);
	CHECK(!dev_ok(&f.msg, 0, "setup"), "setup from a device refused");
	m.body_case = (ControlMsg__BodyCase)8;
	CHECK(!dev_ok(&m, 0, "case 8"), "unknown body case refused");
}

/* ---- Content checks: from the monitor ---- */

static int mon_ok(struct setup_fix *f, const char *what)
{
	const char *why = NULL;
	int r = control_check_from_monitor(&f->msg, f->nfds, &why);

	if (r)
		printf("# %s: %s\n", what, why);
	return r == 0;
}

#define SETUP_CASE(want, what, change) do {				\
		struct setup_fix f_;					\
		fix_init(&f_);						\
		{ struct setup_fix *f = &f_; change; }			\
		CHECK(mon_ok(&f_, what) == (want), "setup %s: %s", what, \
		      (want) ? "accepted" : "refused");			\
	} while (0)

static void test_check_setup_spec(void)
{
	SETUP_CASE(1, "as built", (void)f);
	SETUP_CASE(1, "class virtio-blk", f->spec.klass = "virtio-blk");
	SETUP_CASE(1, "class of 31 bytes", f->spec.klass = "abcdefghijklmnopqrstuvwxyz_0123");
	SETUP_CASE(0, "class of 32 bytes", f->spec.klass = "abcdefghijklmnopqrstuvwxyz_01234");
	SETUP_CASE(0, "empty class", f->spec.klass = "");
	SETUP_CASE(0, "class with capital", f->spec.klass = "Serial");
	SETUP_CASE(0, "class with slash", f->spec.klass = "../serial");
	SETUP_CASE(0, "class with space", f->spec.klass = "ser ial");
	SETUP_CASE(0, "class NULL", f->spec.klass = NULL);
	SETUP_CASE(0, "no spec", f->setup.spec = NULL);
	SETUP_CASE(1, "no regions", f->spec.n_regions = 0);
	SETUP_CASE(1, "DEVICE_MAX_REGIONS regions", f->spec.n_regions = DEVICE_MAX_REGIONS);
	SETUP_CASE(0, "one region more", f->spec.n_regions = DEVICE_MAX_REGIONS + 1);
	SETUP_CASE(0, "region bus 2", f->reg[1].bus = 2);
	SETUP_CASE(0, "region size 0", f->reg[1].size = 0);
	SETUP_CASE(1, "region ending at 2^64 - 1", (f->reg[1].addr = UINT64_MAX - 0x1000,
						    f->reg[1].size = 0x1000));
	SETUP_CASE(0, "region wrapping", (f->reg[1].addr = UINT64_MAX - 0xfff,
					  f->reg[1].size = 0x1000));
	SETUP_CASE(0, "region of 2^64 - 1 at 2", (f->reg[1].addr = 2, f->reg[1].size = UINT64_MAX));
	SETUP_CASE(1, "PIO region ending at 0x10000", (f->reg[0].addr = 0xfff8));
	SETUP_CASE(0, "PIO region past 0xffff", (f->reg[0].addr = 0xfff9));
	SETUP_CASE(0, "PIO region at 0x10000", (f->reg[0].addr = 0x10000, f->reg[0].size = 1));
	SETUP_CASE(1, "DEVICE_MAX_IRQS irqs", (f->spec.n_irqs = DEVICE_MAX_IRQS,
					      f->nfds += DEVICE_MAX_IRQS - 1));
	SETUP_CASE(0, "one irq more", (f->spec.n_irqs = DEVICE_MAX_IRQS + 1,
				       f->nfds += DEVICE_MAX_IRQS));
	SETUP_CASE(1, "0 irqs", (f->spec.n_irqs = 0, f->nfds -= 1));
}

static void test_check_setup_mem(void)
{
	SETUP_CASE(0, "0 memory ranges", f->setup.n_mem = 0);
	SETUP_CASE(1, "4 memory ranges", f->setup.n_mem = 4);
	SETUP_CASE(0, "5 memory ranges", (f->setup.n_mem = 5, f->setup.mem_total = 5ull << 30));
	SETUP_CASE(0, "memory range of size 0", f->mem[1].size = 0);
	SETUP_CASE(0, "memory range wrapping in gpa", f->mem[1].gpa = UINT64_MAX - (1ull << 29));
	SETUP_CASE(1, "memory range ending at mem_total", f->mem[1].fd_offset = 3ull << 30);
	SETUP_CASE(0, "memory range past mem_total", f->mem[1].fd_offset = (3ull << 30) + 1);
	SETUP_CASE(0, "memory range wrapping in fd offset", f->mem[1].fd_offset = UINT64_MAX - 10);
	SETUP_CASE(0, "memory ranges overlapping", f->mem[1].gpa = (1ull << 30) - 1);
	SETUP_CASE(0, "memory ranges identical", f->mem[1].gpa = 0);
	SETUP_CASE(0, "memory range inside another", (f->mem[1].gpa = 4096, f->mem[1].size = 4096));
	SETUP_CASE(1, "memory ranges adjacent", f->mem[1].gpa = 1ull << 30);
	SETUP_CASE(0, "4th range overlapping the 1st", (f->setup.n_mem = 4, f->mem[3].gpa = 100));
	SETUP_CASE(0, "memory range NULL", f->memp[1] = NULL);
}

static void test_check_setup_rest(void)
{
	SETUP_CASE(0, "0 vCPUs", f->setup.nvcpus = 0);
	SETUP_CASE(1, "RING_MAX_VCPUS vCPUs", (f->setup.nvcpus = RING_MAX_VCPUS,
					       f->setup.ring_size = ring_shm_size(RING_MAX_VCPUS)));
	SETUP_CASE(0, "RING_MAX_VCPUS + 1 vCPUs", (f->setup.nvcpus = RING_MAX_VCPUS + 1,
						   f->setup.ring_size = UINT64_MAX));
	SETUP_CASE(0, "ring smaller than ring_shm_size", f->setup.ring_size = ring_shm_size(2) - 1);
	SETUP_CASE(0, "ring sized for fewer vCPUs", (f->setup.nvcpus = 3,
						     f->setup.ring_size = ring_shm_size(2)));
	SETUP_CASE(0, "state region smaller than state_region_size",
		   f->setup.state_size = state_region_size() - 1);
	SETUP_CASE(1, "restore set", (f->setup.has_restore = 1, f->setup.restore = 1));
	SETUP_CASE(1, "spin 10 s", f->setup.spin_ns = 10000000000ull);
	SETUP_CASE(0, "spin 10 s + 1 ns", f->setup.spin_ns = 10000000001ull);
	SETUP_CASE(1, "empty VM name", f->setup.vm_name = "");
	SETUP_CASE(1, "VM name of 64 bytes", f->setup.vm_name =
		   "0123456789012345678901234567890123456789012345678901234567890123");
	SETUP_CASE(0, "VM name of 65 bytes", f->setup.vm_name =
		   "01234567890123456789012345678901234567890123456789012345678901234");
	SETUP_CASE(0, "VM name with ESC", f->setup.vm_name = "vm\x1b[2J");
	SETUP_CASE(0, "VM name NULL", f->setup.vm_name = NULL);
	SETUP_CASE(1, "4 backend fds", (f->setup.n_backend_fds = 4, f->nfds += 3));
	SETUP_CASE(0, "5 backend fds", (f->setup.n_backend_fds = 5, f->nfds += 4));
	SETUP_CASE(0, "huge backend fd count", (f->setup.n_backend_fds = UINT32_MAX - 3,
						f->nfds = 1));
	SETUP_CASE(0, "one fd missing", f->nfds -= 1);
	SETUP_CASE(0, "one fd too many", f->nfds += 1);
	SETUP_CASE(0, "no fds", f->nfds = 0);
	SETUP_CASE(0, "CONTROL_MAX_FDS + 1 fds", f->nfds = CONTROL_MAX_FDS + 1);
}

/* Violation: device -> monitor only, nr bounded; Setup.sandbox: a known mode. */
static void test_sandbox_messages(int sv[2])
{
	Violation v = VIOLATION__INIT;
	ControlMsg m = CONTROL_MSG__INIT, *in = NULL;
	const char *why = NULL;
	unsigned n = 0;
	int r;

	CHECK(control_send_violation(sv[1], 257, 0xc000003e, false) == 0, "send_violation");
	r = control_recv(sv[0], &in, NULL, &n, 0);
	CHECK(r == 0 && in && in->body_case == CONTROL_MSG__BODY_VIOLATION, "violation arrives");
	if (in && in->body_case == CONTROL_MSG__BODY_VIOLATION) {
		CHECK(in->violation->nr == 257 && in->violation->arch == 0xc000003e &&
		      !in->violation->allowed, "violation fields");
		CHECK(control_check_from_device(in, 0, &why) == 0, "violation accepted: %s", why);
		CHECK(control_check_from_monitor(in, 0, &why) == -EBADMSG,
		      "violation from the monitor refused: %s", why);
	}
	control_msg_free(in);
	m.body_case = CONTROL_MSG__BODY_VIOLATION;
	m.violation = &v;
	v.nr = CONTROL_MAX_SYSCALL_NR;
	v.allowed = true;
	CHECK(dev_ok(&m, 0, "violation"), "violation nr %u accepted", CONTROL_MAX_SYSCALL_NR);
	CHECK(!dev_ok(&m, 1, "violation"), "violation with an fd refused");
	v.nr = CONTROL_MAX_SYSCALL_NR + 1;
	CHECK(!dev_ok(&m, 0, "violation"), "violation nr %u refused", CONTROL_MAX_SYSCALL_NR + 1);
	v.nr = UINT32_MAX;
	CHECK(!dev_ok(&m, 0, "violation"), "violation nr 0xffffffff refused");
	m.body_case = (ControlMsg__BodyCase)31;
	CHECK(!dev_ok(&m, 0, "case 31"), "body case 31 (past violation) refused");

	SETUP_CASE(1, "sandbox absent", f->setup.has_sandbox = 0);
	SETUP_CASE(1, "sandbox off", (f->setup.has_sandbox = 1, f->setup.sandbox = 0));
	SETUP_CASE(1, "sandbox strict", (f->setup.has_sandbox = 1, f->setup.sandbox = 2));
	SETUP_CASE(0, "sandbox 3", (f->setup.has_sandbox = 1, f->setup.sandbox = 3));
	SETUP_CASE(0, "sandbox 0xffffffff", (f->setup.has_sandbox = 1, f->setup.sandbox = UINT32_MAX));
}

/* A Setup without the sandbox field means strict: the safe default. */
static void test_sandbox_default(int sv[2])
{
	struct setup_fix f;
	ControlMsg *in;

	fix_init(&f);
	f.setup.has_sandbox = 0;
	if ((in = roundtrip(sv, &f.msg, "setup without sandbox"))) {
		CHECK(!in->setup->has_sandbox && in->setup->sandbox == 2,
		      "absent sandbox reads as 2 (strict): %u", in->setup->sandbox);
		control_msg_free(in);
	}
	f.setup.has_sandbox = 1;
	f.setup.sandbox = 1;
	if ((in = roundtrip(sv, &f.msg, "setup with sandbox log"))) {
		CHECK(in->setup->has_sandbox && in->setup->sandbox == 1, "sandbox log arrives");
		control_msg_free(in);
	}
}

static void test_check_monitor_other(void)
{
	Ready ready = READY__INIT;
	Event ev = EVENT__INIT;
	Log log = LOG__INIT;
	Stats st = STATS__INIT;
	StatsRequest sr = STATS_REQUEST__INIT;
	Shutdown sh = SHUTDOWN__INIT;
	ControlMsg m = CONTROL_MSG__INIT;
	const char *why = NULL;

	CHECK(control_check_from_monitor(NULL, 0, &why) == -EBADMSG, "NULL refused: %s", why);
	CHECK(control_check_from_monitor(&m, 0, &why) == -EBADMSG, "no body refused: %s", why);
	m.body_case = CONTROL_MSG__BODY_STATS_REQUEST;
	m.stats_request = &sr;
	CHECK(control_check_from_monitor(&m, 0, NULL) == 0, "stats request accepted (why NULL)");
	CHECK(control_check_from_monitor(&m, 1, &why) == -EBADMSG, "stats request with fd: %s", why);
	m.body_case = CONTROL_MSG__BODY_SHUTDOWN;
	m.shutdown = &sh;
	CHECK(control_check_from_monitor(&m, 0, &why) == 0, "shutdown accepted");
	CHECK(control_check_from_monitor(&m, 3, &why) == -EBADMSG, "shutdown with fds: %s", why);
	{
		Input in = INPUT__INIT;

		m.body_case = CONTROL_MSG__BODY_INPUT;
		m.input = &in;
		in.what = DEV_INPUT_POWER_BUTTON;
		CHECK(control_check_from_monitor(&m, 0, &why) == 0, "input: the power button");
		CHECK(control_check_from_monitor(&m, 1, &why) == -EBADMSG, "input with an fd: %s", why);
		in.what = 0;
		CHECK(control_check_from_monitor(&m, 0, &why) == -EBADMSG, "input 0: %s", why);
		in.what = DEV_INPUT_MAX + 1;
		CHECK(control_check_from_monitor(&m, 0, &why) == -EBADMSG, "input past the last: %s", why);
		CHECK(control_check_from_device(&m, 0, &why) == -EBADMSG, "input from a device: %s", why);
	}
	m.body_case = CONTROL_MSG__BODY_READY;
	m.ready = &ready;
	CHECK(control_check_from_monitor(&m, 0, &why) == -EBADMSG, "ready from monitor: %s", why);
	m.body_case = CONTROL_MSG__BODY_EVENT;
	m.event = &ev;
	ev.type = 1;
	CHECK(control_check_from_monitor(&m, 0, &why) == -EBADMSG, "event from monitor: %s", why);
	m.body_case = CONTROL_MSG__BODY_LOG;
	m.log = &log;
	log.text = "x";
	CHECK(control_check_from_monitor(&m, 0, &why) == -EBADMSG, "log from monitor: %s", why);
	m.body_case = CONTROL_MSG__BODY_STATS;
	m.stats = &st;
	CHECK(control_check_from_monitor(&m, 0, &why) == -EBADMSG, "stats from monitor: %s", why);
}

int main(void)
{
	int sv[2];

	setvbuf(stdout, NULL, _IONBF, 0);
	if (make_pair(sv) < 0)
		CHECK_SKIP_ALL("socketpair(SOCK_SEQPACKET): %s", strerror(errno));
	test_roundtrip_small(sv);
	test_roundtrip_simple(sv);
	test_helpers(sv);
	test_roundtrip_setup(sv);
	test_sandbox_messages(sv);
	test_sandbox_default(sv);
	test_send_refusals(sv);
	test_max_size(sv);
	test_fds_on_fdless_message(sv);
	test_empty_then_valid(sv);
	close_pair(sv);

	test_malformed();
	test_too_many_fds();
	test_peer_gone();

	test_check_device_log();
	test_check_device_other();
	test_check_setup_spec();
	test_check_setup_mem();
	test_check_setup_rest();
	test_check_monitor_other();
	return check_done();
}
