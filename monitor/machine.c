#include "machine.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch.h"
#include "device.h"
#include "log.h"
#include "trap.h"
#include "util.h"
#include "virtio_pci.h"
#include "vpci.h"
#include "vsock_broker.h"

#define MACHINE_BROKER_STOP_MS 1000	/* the broker's exit once its channel is closed */

void machine_dev_id(const struct machine_dev *md, char *buf, size_t len)
{
	size_t n = strlen(md->spec.klass);
	bool digit = n && md->spec.klass[n - 1] >= '0' && md->spec.klass[n - 1] <= '9';

	snprintf(buf, len, digit ? "%s-%u" : "%s%u", md->spec.klass, md->spec.instance);
}

/* A device of a built-in class; NULL when the machine is full. */
static struct machine_dev *machine_add(struct machine *m, const char *klass)
{
	struct machine_dev *md;
	unsigned instance = 0;

	if (m->ndevs >= MACHINE_MAX_DEVS || !device_class_find(klass))
		return NULL;
	for (unsigned i = 0; i < m->ndevs; i++)
		instance += strcmp(m->dev[i].spec.klass, klass) == 0;
	md = &m->dev[m->ndevs++];
	memset(md, 0, sizeof(*md));
	md->spec.klass = klass;
	md->cls = device_class_find(klass);
	md->spec.instance = instance;
	return md;
}

/* A fixed device at its place: its class says each region's size and sync. */
static int machine_fixed(struct machine *m, const struct arch_place *p)
{
	struct machine_dev *md = machine_add(m, p->klass);

	if (!md)
		return -E2BIG;
	md->spec.nregions = md->cls->nregions;
	for (unsigned r = 0; r < md->spec.nregions; r++)
		md->spec.regions[r] = (struct device_region){
			.bus = p->bus, .addr = p->base[r],
			.size = md->cls->regions[r].size, .sync = md->cls->regions[r].sync };
	md->spec.nirqs = p->nirqs;
	memcpy(md->spec.irqs, p->irqs, sizeof(md->spec.irqs));
	return 0;
}

static void machine_param(struct machine *m, struct machine_dev *md, const char *fmt,
			  const char *value)
{
	char *buf;

	if (md->spec.nparams >= MACHINE_MAX_PARAMS)
		return;	/* the callers below never add that many */
	buf = m->param_buf[md - m->dev][md->spec.nparams];
	snprintf(buf, sizeof(m->param_buf[0][0]), fmt, value);
	md->spec.params[md->spec.nparams++] = buf;
}

/* Open a backend file; one line on stderr if that fails. */
static int backend_open(const char *opt, const char *path, int flags, int *fd)
{
	*fd = open(path, flags | O_CLOEXEC, 0644);
	if (*fd < 0) {
		int err = -errno;

		log_err("%s %s: %s", opt, path, strerror(errno));
		return err;
	}
	return 0;
}

/* A disk: its image, locked so that no other VM writes it at the same time. */
static int machine_disk(struct machine *m, const struct machine_disk *d)
{
	struct machine_dev *md = machine_add(m, "virtio-blk");
	int flags = d->readonly ? O_RDONLY : O_RDWR;
	int err;

	if (!md)
		return -E2BIG;
	md->fds[0] = md->fds[1] = -1;
	err = backend_open("--disk", d->path, flags, &md->fds[0]);
	if (err)
		return err;
	md->nfds = 1;
	if (flock(md->fds[0], (d->readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
		log_err("--disk %s: in use by another VM", d->path);
		return -EBUSY;
	}
	/* Direct: fds[0] with O_DIRECT, fds[1] without for what O_DIRECT refuses. */
	if (d->direct) {
		md->fds[1] = md->fds[0];
		md->nfds = 2;
		md->fds[0] = open(d->path, flags | O_DIRECT | O_CLOEXEC);
		if (md->fds[0] < 0) {
			err = -errno;
			log_err("--disk %s: direct=on: %s%s", d->path,
				strerror(errno), errno == EINVAL ?
				" (this file system has no O_DIRECT; leave direct off)" : "");
			return err;
		}
	}
	machine_param(m, md, "readonly=%s", d->readonly ? "on" : "off");
	if (d->aio)
		machine_param(m, md, "aio=%s", d->aio);
	if (d->serial)
		machine_param(m, md, "serial=%s", d->serial);
	return 0;
}

/* Why TUNSETIFF refused an existing interface, for the one error line. */
static const char *tap_refusal(int err, bool multi)
{
	switch (err) {
	case EPERM: return "no permission to attach it (CAP_NET_ADMIN, or a tap owned by this user)";
	case EBUSY: return "in use (by another VM?)";
	case EINVAL: return multi ? "not a multi-queue tap (ip tuntap add NAME mode tap multi_queue)"
				  : "not a tap device, or a multi-queue one (then give queues=N)";
	default: return strerror(err);
	}
}

/* Attach one queue of tap `name` as *fd: vnet headers of 12 bytes, non-blocking. */
static int tap_attach(const char *name, bool multi, int *fd)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR |
					  (multi ? IFF_MULTI_QUEUE : 0) };
	int hdr = 12, err;

	*fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (*fd < 0) {
		err = errno;
		log_err("--net tap=%s: /dev/net/tun: %s", name, strerror(err));
		return -err;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(*fd, TUNSETIFF, &ifr) < 0) {
		err = errno;
		log_err("--net tap=%s: %s", name, tap_refusal(err, multi));
		return -err;
	}
	if (ioctl(*fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		err = errno;
		log_err("--net tap=%s: vnet header size: %s", name, strerror(err));
		return -err;
	}
	return 0;
}

/*
 * A NIC: attach to the existing tap n->tap (never create one), one fd per
 * queue pair.
 */
static int machine_nic(struct machine *m, const struct machine_nic *n)
{
	struct machine_dev *md = machine_add(m, "virtio-net");
	unsigned index = if_nametoindex(n->tap), queues = n->queues ? (unsigned)atoi(n->queues) : 1;
	int err = 0;

	if (!md)
		return -E2BIG;
	if (!index) {
		log_err("--net tap=%s: no such network interface (create it first: "
			"ip tuntap add %s mode tap)", n->tap, n->tap);
		return -ENODEV;
	}
	for (unsigned i = 0; i < queues && !err; i++) {
		md->nfds = i + 1;
		err = tap_attach(n->tap, queues > 1, &md->fds[i]);
	}
	if (err)
		return err;
	if (if_nametoindex(n->tap) != index) {	/* it went away and TUNSETIFF made a new one */
		log_err("--net tap=%s: the interface changed while it was attached", n->tap);
		return -ENODEV;
	}
	if (n->mac)
		machine_param(m, md, "mac=%s", n->mac);
	if (n->queues)
		machine_param(m, md, "queues=%s", n->queues);
	return 0;
}

static int machine_console(struct machine *m, const struct machine_opts *o)
{
	struct machine_dev *md = machine_add(m, "virtio-console");
	int err;

	if (!md)
		return -E2BIG;
	md->fds[0] = md->fds[1] = -1;
	md->nfds = 2;
	err = o->console_in ? backend_open("--console in=", o->console_in, O_RDONLY | O_NONBLOCK,
					   &md->fds[0])
			    : backend_open("--console", "/dev/null", O_RDONLY, &md->fds[0]);
	if (!err)
		err = backend_open("--console out=", o->console_out,
				   O_WRONLY | O_CREAT | O_APPEND, &md->fds[1]);
	return err;
}

/*
 * --vsock: the broker first, so that a problem with the socket path (the
 * user's to fix) is what is reported; then the device, its channel's end
 * as its backend fd.
 */
static int machine_vsock(struct machine *m, const struct machine_opts *o)
{
	struct machine_dev *md;
	int fd, err = vsock_broker_start(o->vsock_socket, &fd, &m->vsock_broker);

	if (err)
		return err;
	md = machine_add(m, "virtio-vsock");
	if (!md) {
		close(fd);	/* the broker ends by itself; machine_release reaps it */
		return -E2BIG;
	}
	md->fds[0] = fd;
	md->nfds = 1;
	machine_param(m, md, "cid=%s", o->vsock_cid);
	return 0;
}

void machine_set_console(struct machine *m, const int console_fds[2])
{
	m->dev[0].fds[0] = console_fds[0];
	m->dev[0].fds[1] = console_fds[1];
	m->dev[0].nfds = 2;
}

int machine_build(struct machine *m, const struct machine_opts *o)
{
	int err = 0;

	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < arch_fixed_count && !err; i++)
		err = machine_fixed(m, &arch_fixed_devices[i]);
	for (unsigned i = 0; i < o->ndisks && !err; i++)
		err = machine_disk(m, &o->disk[i]);
	for (unsigned i = 0; i < o->nnics && !err; i++)
		err = machine_nic(m, &o->nic[i]);
	if (!err && o->vsock_socket)
		err = machine_vsock(m, o);
	if (!err && !machine_add(m, "virtio-rng"))
		err = -E2BIG;
	if (!err && o->console_out)
		err = machine_console(m, o);
	if (err == -E2BIG)
		log_err("more than %d devices", MACHINE_MAX_DEVS);
	if (err)
		machine_release(m);
	return err;
}

void machine_release(struct machine *m)
{
	/* The fixed devices' fds (the console) are not the machine's. */
	for (unsigned i = arch_fixed_count; i < m->ndevs; i++)
		for (unsigned f = 0; f < m->dev[i].nfds; f++)
			if (m->dev[i].fds[f] >= 0)
				close(m->dev[i].fds[f]);
	m->ndevs = 0;
	if (m->vsock_broker > 0) {
		int err = vsock_broker_stop(m->vsock_broker, MACHINE_BROKER_STOP_MS);

		if (err == -ETIMEDOUT)
			log_warn("--vsock: the broker still ran %d ms after its channel closed: killed",
				 MACHINE_BROKER_STOP_MS);
		else if (err)
			log_warn("--vsock: the broker failed (%s)", err == -EIO ?
				 "an error status or a signal" : strerror(-err));
		m->vsock_broker = 0;
	}
}

void machine_spec_build(const struct machine_dev *md, uint64_t mem_size,
			struct machine_spec *out)
{
	memset(out, 0, sizeof(*out));
	out->spec = md->spec;
	out->spec.mem_size = mem_size;
}

void machine_spec_set_pci(struct machine_spec *ms, uint64_t bar0, const uint32_t *gsis,
			  unsigned n, uint32_t intx_gsi)
{
	struct device_spec *s = &ms->spec;

	for (unsigned i = 0; i < VIRTIO_PCI_NREGIONS && i < DEVICE_MAX_REGIONS; i++)
		s->regions[i] = (struct device_region){
			.bus = TRAP_MMIO, .addr = bar0 + i * VIRTIO_PCI_REGION_SIZE,
			.size = VIRTIO_PCI_REGION_SIZE };
	s->nregions = VIRTIO_PCI_NREGIONS;
	if (n >= DEVICE_MAX_IRQS)
		n = DEVICE_MAX_IRQS - 1;	/* vpci never asks for more */
	for (unsigned i = 0; i < n; i++)
		s->irqs[i] = gsis[i];
	s->irqs[n] = intx_gsi;
	s->nirqs = n + 1;
	snprintf(ms->intx_param, sizeof(ms->intx_param), "intx=%u", n);
	if (s->nparams < DEVICE_MAX_PARAMS)
		s->params[s->nparams++] = ms->intx_param;
}

const char *machine_region_name(bool pci, unsigned r, char *buf, size_t len)
{
	if (pci && vpci_region_name(r))
		snprintf(buf, len, "%s", vpci_region_name(r));
	else
		snprintf(buf, len, "region%u", r);
	return buf;
}

void machine_traps_log(const char *id, bool pci, const _Atomic uint64_t *traps,
		       const _Atomic uint64_t *shadowed, unsigned nregions)
{
	for (unsigned r = 0; r < nregions && r < DEVICE_MAX_REGIONS; r++) {
		char name[16], from_shadow[48] = "";
		uint64_t n = atomic_load(&shadowed[r]);

		machine_region_name(pci, r, name, sizeof(name));
		if (n)
			snprintf(from_shadow, sizeof(from_shadow), " (%llu reads from its shadow)",
				 (unsigned long long)n);
		log_debug("traps: %s %s %llu%s", id, name,
			  (unsigned long long)atomic_load(&traps[r]), from_shadow);
	}
}
