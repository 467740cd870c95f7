#include "fakekvm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <string.h>

#include "harness.h"

#define KVM_MAX_IRQ_ROUTES 4096	/* the kernel's limit on the table and on a GSI */
#define IOAPIC_PINS 24
#define PIC_PINS 8

/* Not coverage-instrumented: the fake is not the code under test. */
#pragma clang attribute push(__attribute__((no_sanitize("coverage"))), apply_to = function)

struct fakekvm fakekvm = { .vm_fd = -1 };

int __real_ioctl(int fd, unsigned long req, ...);
int __wrap_ioctl(int fd, unsigned long req, ...);

void fakekvm_reset(void)
{
	int fd = fakekvm.vm_fd;

	if (fd < 0 && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		fz_fail("fakekvm: cannot open /dev/null");
	memset(&fakekvm, 0, sizeof(fakekvm));
	fakekvm.vm_fd = fd;
}

/* An injected failure for this assigning call, or 0. */
static int injected(void)
{
	if (!fakekvm.fail_next)
		return 0;
	if (fakekvm.fail_skip) {
		fakekvm.fail_skip--;
		return 0;
	}
	fakekvm.fail_next--;
	fakekvm.failed++;
	return -fakekvm.fail_errno;
}

const struct fakekvm_irqfd *fakekvm_irqfd_find(int fd)
{
	for (unsigned i = 0; i < fakekvm.nirqfd; i++)
		if (fakekvm.irqfd[i].fd == fd)
			return &fakekvm.irqfd[i];
	return NULL;
}

const struct fakekvm_ioeventfd *fakekvm_ioeventfd_find(uint64_t addr)
{
	for (unsigned i = 0; i < fakekvm.nioeventfd; i++)
		if (fakekvm.ioeventfd[i].addr == addr)
			return &fakekvm.ioeventfd[i];
	return NULL;
}

const struct fakekvm_route *fakekvm_msi_route(uint32_t gsi)
{
	unsigned i = gsi < FAKEKVM_MAX_GSI ? fakekvm.msi_at[gsi] : 0;

	return i ? &fakekvm.routes[i - 1] : NULL;
}

static int irqfd(const struct kvm_irqfd *a)
{
	struct fakekvm_irqfd *e = (struct fakekvm_irqfd *)fakekvm_irqfd_find((int)a->fd);
	uint32_t known = KVM_IRQFD_FLAG_DEASSIGN | KVM_IRQFD_FLAG_RESAMPLE;
	int err;

	FZ_CHECK(!(a->flags & ~known), "KVM_IRQFD with flags 0x%x", a->flags);
	if (a->flags & KVM_IRQFD_FLAG_DEASSIGN) {
		FZ_CHECK(e && e->gsi == a->gsi,
			 "KVM_IRQFD deassigns fd %u from GSI %u: KVM has no such irqfd", a->fd, a->gsi);
		*e = fakekvm.irqfd[--fakekvm.nirqfd];
		return 0;
	}
	if (a->gsi >= KVM_MAX_IRQ_ROUTES)
		return -EINVAL;
	if (e)
		return -EBUSY;
	if ((err = injected()))
		return err;
	FZ_CHECK(fakekvm.nirqfd < FAKEKVM_MAX_FDS, "more than %d irqfds", FAKEKVM_MAX_FDS);
	fakekvm.irqfd[fakekvm.nirqfd++] = (struct fakekvm_irqfd){
		.fd = (int)a->fd, .gsi = a->gsi,
		.resamplefd = (a->flags & KVM_IRQFD_FLAG_RESAMPLE) ? (int)a->resamplefd : -1 };
	return 0;
}

static int ioeventfd(const struct kvm_ioeventfd *a)
{
	struct fakekvm_ioeventfd *e = (struct fakekvm_ioeventfd *)fakekvm_ioeventfd_find(a->addr);
	int err;

	FZ_CHECK(!(a->flags & ~(uint32_t)KVM_IOEVENTFD_FLAG_DEASSIGN),
		 "KVM_IOEVENTFD with flags 0x%x (the monitor uses MMIO, no datamatch)", a->flags);
	if (a->len != 0 && a->len != 1 && a->len != 2 && a->len != 4 && a->len != 8)
		return -EINVAL;
	if (a->flags & KVM_IOEVENTFD_FLAG_DEASSIGN) {
		FZ_CHECK(e && e->len == a->len && e->fd == a->fd,
			 "KVM_IOEVENTFD deassigns fd %d at 0x%llx: KVM has no such ioeventfd", a->fd,
			 (unsigned long long)a->addr);
		*e = fakekvm.ioeventfd[--fakekvm.nioeventfd];
		return 0;
	}
	if (e && e->len == a->len)
		return -EEXIST;
	if ((err = injected()))
		return err;
	FZ_CHECK(fakekvm.nioeventfd < FAKEKVM_MAX_FDS, "more than %d ioeventfds", FAKEKVM_MAX_FDS);
	fakekvm.ioeventfd[fakekvm.nioeventfd++] =
		(struct fakekvm_ioeventfd){ .addr = a->addr, .len = a->len, .fd = a->fd };
	return 0;
}

/* One entry as KVM checks it (kvm_set_routing_entry); the table as KVM would refuse it fails. */
static void route_check(const struct kvm_irq_routing_entry *e, const struct kvm_irq_routing *r,
			unsigned i)
{
	FZ_CHECK(e->gsi < KVM_MAX_IRQ_ROUTES && e->flags == 0, "route %u: GSI %u flags 0x%x", i,
		 e->gsi, e->flags);
	if (e->type == KVM_IRQ_ROUTING_IRQCHIP) {
		unsigned chip = e->u.irqchip.irqchip, pin = e->u.irqchip.pin;

		FZ_CHECK(chip <= KVM_IRQCHIP_IOAPIC &&
			 pin < (chip == KVM_IRQCHIP_IOAPIC ? IOAPIC_PINS : PIC_PINS),
			 "route %u: irqchip %u pin %u", i, chip, pin);
		return;
	}
	FZ_CHECK(e->type == KVM_IRQ_ROUTING_MSI, "route %u: type %u", i, e->type);
	for (unsigned j = 0; j < r->nr; j++)
		FZ_CHECK(j == i || r->entries[j].gsi != e->gsi,
			 "routes %u and %u: GSI %u has an MSI route and another one", j, i, e->gsi);
}

static int set_routing(const struct kvm_irq_routing *r)
{
	int err;

	FZ_CHECK(r->nr <= FAKEKVM_MAX_ROUTES && r->flags == 0, "KVM_SET_GSI_ROUTING: %u routes",
		 r->nr);
	for (unsigned i = 0; i < r->nr; i++)
		route_check(&r->entries[i], r, i);
	if ((err = injected())) {
		fakekvm.routes_set = false;
		return err;
	}
	fakekvm.nroutes = r->nr;
	memset(fakekvm.msi_at, 0, sizeof(fakekvm.msi_at));
	for (unsigned i = 0; i < r->nr; i++) {
		const struct kvm_irq_routing_entry *e = &r->entries[i];
		bool msi = e->type == KVM_IRQ_ROUTING_MSI;

		fakekvm.routes[i] = (struct fakekvm_route){
			.gsi = e->gsi, .msi = msi,
			.addr = msi ? (uint64_t)e->u.msi.address_hi << 32 | e->u.msi.address_lo : 0,
			.data = msi ? e->u.msi.data : 0 };
		if (msi && e->gsi < FAKEKVM_MAX_GSI)
			fakekvm.msi_at[e->gsi] = (uint16_t)(i + 1);
	}
	fakekvm.routes_set = true;
	return 0;
}

int __wrap_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;
	int ret;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd != fakekvm.vm_fd || fd < 0)
		return __real_ioctl(fd, req, arg);
	fakekvm.calls++;
	if (req == KVM_IRQFD)
		ret = irqfd(arg);
	else if (req == KVM_IOEVENTFD)
		ret = ioeventfd(arg);
	else if (req == KVM_SET_GSI_ROUTING)
		ret = set_routing(arg);
	else
		fz_fail("unexpected ioctl 0x%lx on the VM", req);
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return ret;
}

#pragma clang attribute pop

/*
 * vm.c's vm_ioctl, for arch_x86.c (linked for arch_pci and the irqchip
 * routes; its arch_vm_init, the only caller, never runs here): the same
 * call, through the wrapped ioctl.
 */
#include <sys/ioctl.h>

#include "vm.h"

int vm_ioctl(struct vm *vm, unsigned long req, void *arg, const char *what)
{
	return ioctl(vm->vm_fd, req, arg) < 0 ? -errno : 0;
}
