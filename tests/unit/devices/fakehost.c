#include "fakehost.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct fakehost *fh_of(struct device_host *h)
{
	return h->opaque;
}

static void *fh_mem_ptr(struct device_host *h, uint64_t gpa, uint64_t len)
{
	struct fakehost *fh = fh_of(h);

	if (fh->bigmem) {
		if (gpa > fh->bigmem_size || len > fh->bigmem_size - gpa)
			return NULL;
		return fh->bigmem + gpa;
	}
	if (gpa > FAKEHOST_MEM || len > FAKEHOST_MEM - gpa)
		return NULL;
	return fh->mem + gpa;
}

static int fh_irq_set(struct device_host *h, unsigned line, int level)
{
	struct fakehost *fh = fh_of(h);

	fh->irq_calls++;
	if (line >= DEVICE_MAX_IRQS) {
		fh->irq_bad_calls++;
		return -EINVAL;
	}
	if (level)
		fh->irq_raises[line]++;
	if (fh->irq[line] == level)
		fh->irq_bad_calls++;	/* devices only report changes */
	fh->irq[line] = level;
	return 0;
}

static int fh_event(struct device_host *h, enum device_event ev)
{
	struct fakehost *fh = fh_of(h);

	if (fh->nevents == FAKEHOST_EVENTS)
		return -ENOSPC;
	fh->events[fh->nevents++] = ev;
	return 0;
}

static void fh_log(struct device_host *h, int lvl, const char *id, const char *msg)
{
	struct fakehost *fh = fh_of(h);

	printf("# log %d %s: %s\n", lvl, id, msg);
	if (fh->nlogs < FAKEHOST_LOGS)
		snprintf(fh->logs[fh->nlogs++], sizeof(fh->logs[0]), "%s: %s", id, msg);
}

void fakehost_init(struct fakehost *fh)
{
	memset(fh, 0, sizeof(*fh));
	fh->host = (struct device_host){
		.mem_ptr = fh_mem_ptr,
		.irq_set = fh_irq_set,
		.event = fh_event,
		.log = fh_log,
		.opaque = fh,
	};
}

unsigned fakehost_count_events(const struct fakehost *fh, enum device_event ev)
{
	unsigned n = 0;

	for (unsigned i = 0; i < fh->nevents; i++)
		n += fh->events[i] == ev;
	return n;
}

bool fakehost_logged(const struct fakehost *fh, const char *needle)
{
	for (unsigned i = 0; i < fh->nlogs; i++)
		if (strstr(fh->logs[i], needle))
			return true;
	return false;
}

void fakespec_init(struct fakespec *fs, const char *klass)
{
	memset(fs, 0, sizeof(*fs));
	fs->spec.klass = klass;
}

void fakespec_add_pio(struct fakespec *fs, uint64_t addr, uint64_t size)
{
	fs->spec.regions[fs->spec.nregions++] =
		(struct device_region){ .bus = TRAP_PIO, .addr = addr, .size = size };
}

void fakehost_set_mem(struct fakehost *fh, uint8_t *buf, uint64_t size)
{
	fh->bigmem = buf;
	fh->bigmem_size = size;
}

void fakespec_add_mmio(struct fakespec *fs, uint64_t addr, uint64_t size)
{
	fakespec_add_pio(fs, addr, size);
	fs->spec.regions[fs->spec.nregions - 1].bus = TRAP_MMIO;
}

void fakespec_add_irq(struct fakespec *fs, uint32_t gsi)
{
	fs->spec.irqs[fs->spec.nirqs++] = gsi;
}

void fakespec_add_param(struct fakespec *fs, char *param)
{
	fs->spec.params[fs->spec.nparams++] = param;
}

int fakehost_create(struct fakehost *fh, struct device *dev,
		    const struct device_class *cls, const struct device_spec *spec,
		    int fd0, int fd1)
{
	memset(dev, 0, sizeof(*dev));
	dev->host = &fh->host;
	snprintf(dev->id, sizeof(dev->id), "%s0", cls->name);
	for (unsigned i = 0; i < DEVICE_MAX_FDS; i++)
		dev->fds[i] = -1;
	dev->fds[0] = fd0;
	dev->fds[1] = fd1;
	dev->nfds = 2;
	return device_create(dev, cls, spec);
}

bool fakehost_wake(struct device *dev, int timeout_ms)
{
	struct pollfd p = { .fd = dev->wake_fd, .events = POLLIN };

	if (!dev->ops->wake || poll(&p, 1, timeout_ms) != 1)
		return false;
	dev->ops->wake(dev);
	return true;
}

unsigned long fake_shadow_reads, fake_shadow_writes;

static void fake_shadow_broken(struct device *dev, const struct trap *t, const char *what)
{
	fprintf(stderr, "fakehost: %s: %u-byte %s at region %u +0x%llx: %s\n", dev->id,
		t->len, t->is_write ? "write" : "read", t->region, (unsigned long long)t->offset,
		what);
	abort();
}

static void dev_trap(struct device *dev, struct trap *t, unsigned region,
		     uint64_t offset, unsigned len)
{
	t->bus = TRAP_PIO;
	t->len = (uint8_t)len;
	t->region = (uint8_t)region;
	t->offset = offset;
	t->addr = offset;	/* tests do not care about the base */
}

/* A write the device's shadow declares neutral must change nothing in it. */
int dev_out(struct device *dev, unsigned region, uint64_t offset,
	    unsigned len, uint64_t val)
{
	struct trap t = { 0 };
	struct trap_shadow before, after;
	bool neutral;
	int ret;

	dev_trap(dev, &t, region, offset, len);
	t.is_write = 1;
	trap_set_value(&t, val);
	device_shadow(dev, &before);
	neutral = trap_shadow_is_neutral(&before, &t);
	ret = dev->ops->trap(dev, &t);
	device_shadow(dev, &after);
	if (neutral && memcmp(&before, &after, sizeof(before)))
		fake_shadow_broken(dev, &t, "a write its shadow declares neutral changed the shadow");
	fake_shadow_writes += neutral;
	return ret;
}

/*
 * Every read a test makes is also held against the device's shadow (as a
 * host would answer it, device_shadow): where the shadow has the register,
 * the device must answer the same and the read must change no shadowed
 * register. A broken promise aborts the test program.
 */
uint64_t dev_in(struct device *dev, unsigned region, uint64_t offset, unsigned len)
{
	struct trap t = { 0 }, st;
	struct trap_shadow before, after;
	bool in_shadow;

	dev_trap(dev, &t, region, offset, len);
	st = t;
	device_shadow(dev, &before);
	in_shadow = trap_shadow_answer(&before, &st);
	memset(t.data, 0xAB, sizeof(t.data));	/* the device must fill it */
	if (dev->ops->trap(dev, &t) < 0) {
		if (in_shadow)
			fake_shadow_broken(dev, &t, "the device refused a read its shadow holds");
		return ~0ull;
	}
	if (in_shadow) {
		device_shadow(dev, &after);
		if (trap_value(&st) != trap_value(&t))
			fake_shadow_broken(dev, &t, "the shadow and the device disagree");
		if (memcmp(&before, &after, sizeof(before)))
			fake_shadow_broken(dev, &t, "a read its shadow holds changed the shadow");
		fake_shadow_reads++;
	}
	return trap_value(&t);
}

void dev_out8(struct device *dev, uint64_t offset, uint8_t val)
{
	dev_out(dev, 0, offset, 1, val);
}

uint8_t dev_in8(struct device *dev, uint64_t offset)
{
	return (uint8_t)dev_in(dev, 0, offset, 1);
}

void fakespec_init_virtio(struct fakespec *fs, const char *klass, unsigned nirqs)
{
	fakespec_init(fs, klass);
	for (unsigned i = 0; i < 4; i++)
		fakespec_add_mmio(fs, 0xfe000000ull + 0x1000u * i, 0x1000);
	for (unsigned i = 0; i < nirqs; i++)
		fakespec_add_irq(fs, 40u + i);
}
