/* The control API's server: see api.h. */
#include "api.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.pb-c.h"
#include "machine.h"
#include "unix_listen.h"
#include "util.h"
#include "vdev.h"
#include "vm.h"

#define API_OPT "--api-socket "
#define API_BACKLOG 128
#define API_REFUSALS_PER_SEC 1

struct api_client {
	int fd;
	uint8_t in[4 + API_MAX_REQUEST];
	size_t inlen;
	uint8_t *out;		/* replies not yet written */
	size_t outlen, outoff;
	bool closing;		/* close once out is written */
	uint64_t active_ns;	/* last request or write */
};

int api_open(struct api *a, const char *path)
{
	struct unix_listener l;
	int err;

	a->lfd = -1;
	snprintf(a->path, sizeof(a->path), "%s", path);
	err = unix_listen(API_OPT, path, API_BACKLOG, &l);
	if (err)
		return err;
	if (chmod(path, 0600) < 0) {
		err = -errno;
		log_err(API_OPT "%s: %s", path, strerror(errno));
		unix_listen_unlink(API_OPT, path, &l);
		close(l.fd);
		return err;
	}
	a->lfd = l.fd;
	a->dev = l.dev;
	a->ino = l.ino;
	a->started_ns = now_ns();
	a->pid = getpid();	/* read now: the confined main thread may not ask */
	a->uid = getuid();
	return 0;
}

static void client_free(struct api *a, unsigned i)
{
	struct api_client *c = a->clients[i];

	close(c->fd);
	free(c->out);
	free(c);
	a->clients[i] = NULL;
}

void api_close(struct api *a)
{
	struct unix_listener l = { .fd = a->lfd, .dev = a->dev, .ino = a->ino };

	if (a->lfd < 0)
		return;
	for (unsigned i = 0; i < API_MAX_CLIENTS; i++)
		if (a->clients[i])
			client_free(a, i);
	unix_listen_unlink(API_OPT, a->path, &l);
	close(a->lfd);
	a->lfd = -1;
}

static void __attribute__((format(printf, 2, 3))) refused(struct api *a, const char *fmt, ...)
{
	unsigned dropped;
	char msg[160];
	va_list ap;

	a->refused++;
	if (!log_budget_take(&a->said, API_REFUSALS_PER_SEC, &dropped))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warn(API_OPT "%s: %s%s", a->path, msg, dropped ? " (and earlier ones)" : "");
}

/* ---- Replies ---- */

/* Queue reply r on c (length-prefixed). False if c owes too much already: closed. */
static bool reply_queue(struct api *a, struct api_client *c, const ApiReply *r)
{
	size_t n = api_reply__get_packed_size(r);
	uint8_t *out;

	if (c->outlen - c->outoff + 4 + n > API_MAX_PENDING) {
		refused(a, "a client left %zu reply bytes unread: closed", c->outlen - c->outoff);
		c->closing = true;
		c->outlen = c->outoff = 0;
		return false;
	}
	if (c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	out = realloc(c->out, c->outlen + 4 + n);
	if (!out) {
		c->closing = true;
		return false;
	}
	c->out = out;
	out += c->outlen;
	out[0] = (uint8_t)n;
	out[1] = (uint8_t)(n >> 8);
	out[2] = (uint8_t)(n >> 16);
	out[3] = (uint8_t)(n >> 24);
	api_reply__pack(r, out + 4);
	c->outlen += 4 + n;
	return true;
}

static void reply_error(struct api *a, struct api_client *c, int err, const char *msg)
{
	ApiReply r = API_REPLY__INIT;
	ApiError e = API_ERROR__INIT;

	e.errno_value = err < 0 ? -err : err;
	e.message = (char *)msg;
	r.body_case = API_REPLY__BODY_ERROR;
	r.error = &e;
	reply_queue(a, c, &r);
}

static void reply_ok(struct api *a, struct api_client *c)
{
	ApiReply r = API_REPLY__INIT;
	ApiEmpty e = API_EMPTY__INIT;

	r.body_case = API_REPLY__BODY_OK;
	r.ok = &e;
	reply_queue(a, c, &r);
}

static const char *vm_state(const struct vm *vm)
{
	if (atomic_load(&vm->stopping))
		return "stopping";
	return atomic_load(&vm->paused) ? "paused" : "running";
}

static void do_status(struct api *a, struct api_client *c, struct vm *vm)
{
	ApiReply r = API_REPLY__INIT;
	ApiStatus s = API_STATUS__INIT;

	s.state = (char *)vm_state(vm);
	s.pid = (uint32_t)a->pid;
	s.vcpus = vm->ncpus;
	s.mem_bytes = vm->mem.total;
	s.uptime_ms = (now_ns() - a->started_ns) / 1000000ull;
	s.devices_mode = (char *)a->devices_mode;
	s.sandbox = (char *)a->sandbox;
	r.body_case = API_REPLY__BODY_STATUS;
	r.status = &s;
	reply_queue(a, c, &r);
}

static void do_devices(struct api *a, struct api_client *c, struct vm *vm)
{
	ApiReply r = API_REPLY__INIT;
	ApiDevices list = API_DEVICES__INIT;
	ApiDevice dev[MACHINE_MAX_DEVS], *devp[MACHINE_MAX_DEVS];
	ApiRegion reg[MACHINE_MAX_DEVS][DEVICE_MAX_REGIONS];
	ApiRegion *regp[MACHINE_MAX_DEVS][DEVICE_MAX_REGIONS];
	char names[MACHINE_MAX_DEVS][DEVICE_MAX_REGIONS][16];
	unsigned n = vm->ndevs < MACHINE_MAX_DEVS ? vm->ndevs : MACHINE_MAX_DEVS;

	for (unsigned i = 0; i < n; i++) {
		const struct vdev *d = &vm->devs[i];
		struct vdev_info info;
		unsigned nreg = d->spec.spec.nregions < DEVICE_MAX_REGIONS ? d->spec.spec.nregions
									   : DEVICE_MAX_REGIONS;

		vdev_describe(d, &info);
		api_device__init(&dev[i]);
		dev[i].id = (char *)d->id;
		dev[i].class_ = (char *)d->cls->name;
		dev[i].has_pid = info.pid > 0;
		dev[i].pid = info.pid;
		dev[i].state = info.failed ? "failed" : "running";
		dev[i].sandbox = (char *)info.sandbox;
		dev[i].restarts = info.restarts;
		for (unsigned k = 0; k < nreg; k++) {
			api_region__init(&reg[i][k]);
			reg[i][k].name = (char *)machine_region_name(d->pci != NULL, k, names[i][k],
								     sizeof(names[i][k]));
			reg[i][k].traps = atomic_load(&d->traps[k]);
			reg[i][k].shadowed = atomic_load(&d->shadowed[k]);
			reg[i][k].has_p50_ns = reg[i][k].has_p99_ns = reg[i][k].has_max_ns = true;
			reg[i][k].p50_ns = trap_lat_quantile(d->lat[k], 0.5);
			reg[i][k].p99_ns = trap_lat_quantile(d->lat[k], 0.99);
			reg[i][k].max_ns = trap_lat_quantile(d->lat[k], 1.0);
			regp[i][k] = &reg[i][k];
		}
		dev[i].n_regions = nreg;
		dev[i].regions = regp[i];
		devp[i] = &dev[i];
	}
	list.n_devices = n;
	list.devices = devp;
	r.body_case = API_REPLY__BODY_DEVICES;
	r.devices = &list;
	reply_queue(a, c, &r);
}

static void do_stats(struct api *a, struct api_client *c, struct vm *vm)
{
	ApiReply r = API_REPLY__INIT;
	ApiStats s = API_STATS__INIT;
	ApiVcpu v[VM_MAX_CPUS], *vp[VM_MAX_CPUS];
	unsigned n = vm->vcpus ? vm->ncpus : 0;

	for (unsigned i = 0; i < n; i++) {
		api_vcpu__init(&v[i]);
		v[i].index = i;
		vcpus_counts(vm, i, &v[i].exits, &v[i].io, &v[i].mmio);
		vp[i] = &v[i];
	}
	s.n_vcpus = n;
	s.vcpus = vp;
	for (int b = 0; b < TRAP_NBUS; b++)
		s.unclaimed += atomic_load(&vm->bus.stats.unclaimed_reads[b]) +
			       atomic_load(&vm->bus.stats.unclaimed_writes[b]);
	s.api_requests = a->requests;
	s.api_refused = a->refused;
	r.body_case = API_REPLY__BODY_STATS;
	r.stats = &s;
	reply_queue(a, c, &r);
}

static void do_restart_device(struct api *a, struct api_client *c, struct vm *vm, const char *id)
{
	struct vdev *d = NULL;
	int err;

	for (unsigned i = 0; i < vm->ndevs && !d; i++)
		if (strcmp(vm->devs[i].id, id) == 0)
			d = &vm->devs[i];
	if (!d) {
		reply_error(a, c, -ENODEV, "no such device (see `devices`)");
		return;
	}
	err = d->host->restart ? d->host->restart(d) : -EOPNOTSUPP;
	if (err == -EOPNOTSUPP)
		reply_error(a, c, err, "this device cannot be restarted (its class keeps no saved "
			    "state, or --device-restart is 0)");
	else if (err == -EBUSY)
		reply_error(a, c, err, "the device is starting, being replaced or has failed");
	else if (err)
		reply_error(a, c, err, "the device could not be restarted");
	else
		reply_ok(a, c);
}

static void do_request(struct api *a, struct api_client *c, struct vm *vm, const ApiRequest *rq)
{
	int err;

	a->requests++;
	switch (rq->cmd_case) {
	case API_REQUEST__CMD_STATUS:
		do_status(a, c, vm);
		return;
	case API_REQUEST__CMD_DEVICES:
		do_devices(a, c, vm);
		return;
	case API_REQUEST__CMD_STATS:
		do_stats(a, c, vm);
		return;
	case API_REQUEST__CMD_PAUSE:
		err = vcpus_pause(vm, API_PAUSE_MS);
		if (err)
			reply_error(a, c, err, err == -ETIMEDOUT ? "not every vCPU stopped in time; "
				    "the VM stays paused" : "the VM cannot be paused now");
		else
			reply_ok(a, c);
		return;
	case API_REQUEST__CMD_RESUME:
		vcpus_resume(vm);
		reply_ok(a, c);
		return;
	case API_REQUEST__CMD_POWERDOWN:
		err = vdevs_input(vm, DEV_INPUT_POWER_BUTTON);
		if (err)
			reply_error(a, c, err, err == -ENODEV ? "this machine has no power button"
				    : err == -EAGAIN ? "the power button could not be pressed: its "
				    "device is not reading its input (busy or hung)"
				    : "the power button could not be pressed");
		else
			reply_ok(a, c);
		return;
	case API_REQUEST__CMD_RESTART_DEVICE:
		do_restart_device(a, c, vm, rq->restart_device->id);
		return;
	case API_REQUEST__CMD_STOP:
		reply_ok(a, c);
		vm_request_stop(vm, VM_EXIT_OK, "stopped through the control API");
		return;
	default:
		refused(a, "a request with no known command: refused");
		reply_error(a, c, -EINVAL, "no known command in the request");
	}
}

/* ---- Clients ---- */

/* One connection taken (or refused with a reason); false when none was waiting. */
static bool client_accept(struct api *a)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd = accept4(a->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct api_client *c;
	unsigned slot = 0;

	if (fd < 0)
		return false;	/* EAGAIN, or the client gave up already */
	while (slot < API_MAX_CLIENTS && a->clients[slot])
		slot++;
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return true;
	}
	c->fd = fd;
	c->active_ns = now_ns();
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    (cred.uid != 0 && cred.uid != a->uid)) {
		refused(a, "a client of uid %d: refused", (int)cred.uid);
		reply_error(a, c, -EACCES, "only the monitor's user or root may use this socket");
		c->closing = true;
	} else if (slot == API_MAX_CLIENTS) {
		refused(a, "more than %d clients at once: one refused", API_MAX_CLIENTS);
		reply_error(a, c, -EBUSY, "too many clients at once; try again");
		c->closing = true;
	}
	if (c->closing) {	/* one try to say why, then gone */
		if (write(fd, c->out, c->outlen) < 0) {
			/* nothing more to do for it */
		}
		close(fd);
		free(c->out);
		free(c);
		return true;
	}
	a->clients[slot] = c;
	return true;
}

/* Every complete request in c's buffer, in order. */
static void client_requests(struct api *a, struct api_client *c, struct vm *vm)
{
	while (!c->closing && c->inlen >= 4) {
		uint32_t n = (uint32_t)c->in[0] | (uint32_t)c->in[1] << 8 |
			     (uint32_t)c->in[2] << 16 | (uint32_t)c->in[3] << 24;
		ApiRequest *rq;

		if (n > API_MAX_REQUEST) {
			refused(a, "a request of %u bytes (at most %d): closed", n, API_MAX_REQUEST);
			reply_error(a, c, -EMSGSIZE, "request too long");
			c->closing = true;
			return;
		}
		if (c->inlen < 4 + n)
			return;
		rq = api_request__unpack(NULL, n, c->in + 4);
		if (!rq) {
			refused(a, "a request that does not decode: closed");
			reply_error(a, c, -EBADMSG, "the request does not decode as an ApiRequest");
			c->closing = true;
			return;
		}
		do_request(a, c, vm, rq);
		api_request__free_unpacked(rq, NULL);
		memmove(c->in, c->in + 4 + n, c->inlen - 4 - n);
		c->inlen -= 4 + n;
		c->active_ns = now_ns();
	}
}

/* Read what c sent; false once c is to be dropped. */
static bool client_read(struct api *a, struct api_client *c, struct vm *vm)
{
	ssize_t n = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		return false;
	if (n > 0) {
		c->inlen += (size_t)n;
		client_requests(a, c, vm);
	}
	return true;
}

/* Write what c is owed; false once c is to be dropped. */
static bool client_write(struct api_client *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		c->outoff += (size_t)n;
		c->active_ns = now_ns();
	}
	return !c->closing;
}

unsigned api_pollfds(struct api *a, struct pollfd *pfds, unsigned max)
{
	unsigned n = 0;

	if (a->lfd < 0 || max < API_POLL_MAX)
		return 0;
	pfds[n++] = (struct pollfd){ .fd = a->lfd, .events = POLLIN };
	for (unsigned i = 0; i < API_MAX_CLIENTS; i++) {
		const struct api_client *c = a->clients[i];

		pfds[n++] = !c ? (struct pollfd){ .fd = -1 }
			       : (struct pollfd){ .fd = c->fd,
						  .events = (short)(POLLIN | (c->outoff < c->outlen
									      ? POLLOUT : 0)) };
	}
	return n;
}

void api_handle(struct api *a, struct vm *vm, const struct pollfd *pfds, unsigned n)
{
	if (n < API_POLL_MAX)
		return;
	for (unsigned i = 0; i < API_MAX_CLIENTS; i++) {
		struct api_client *c = a->clients[i];
		short ev = pfds[1 + i].revents;
		bool keep = true;

		if (!c)
			continue;
		if (ev & POLLIN)
			keep = client_read(a, c, vm);
		else if (ev & (POLLHUP | POLLERR))
			keep = false;
		if (keep && (c->outoff < c->outlen || c->closing))
			keep = client_write(c);
		if (keep && c->outoff == c->outlen &&
		    now_ns() - c->active_ns > API_IDLE_MS * 1000000ull)
			keep = false;	/* idle, owed nothing (active_ns is never in the future) */
		if (!keep)
			client_free(a, i);
	}
	if (pfds[0].revents & POLLIN)
		for (int k = 0; k < 16 && client_accept(a); k++)
			;	/* a burst of connections, bounded per round */
}
