/*
 * A fake KVM VM for fuzzing the monitor's own code (fuzz-vpci). The target
 * links with -Wl,--wrap=ioctl, so every ioctl() made by the objects linked
 * into it lands in __wrap_ioctl: the calls on fakekvm.vm_fd are served
 * here, everything else goes to the real ioctl. Production code is
 * unchanged; only this link substitutes the call.
 *
 * Served: KVM_IRQFD, KVM_IOEVENTFD and KVM_SET_GSI_ROUTING, with the
 * refusals real KVM makes (an fd assigned twice: -EBUSY; the same
 * ioeventfd twice: -EEXIST). What real KVM would accept silently but shows
 * the monitor's bookkeeping is wrong (deassigning what is not assigned, a
 * routing table KVM refuses, any other ioctl on the VM) is a broken
 * invariant: fz_fail.
 */
#ifndef VMM_TESTS_FUZZ_FAKEKVM_H
#define VMM_TESTS_FUZZ_FAKEKVM_H

#include <stdbool.h>
#include <stdint.h>

#define FAKEKVM_MAX_FDS 64
#define FAKEKVM_MAX_ROUTES 256
#define FAKEKVM_MAX_GSI 1024	/* GSIs the MSI route lookup indexes */

struct fakekvm_irqfd {
	int fd;
	uint32_t gsi;
	int resamplefd;		/* -1 unless KVM_IRQFD_FLAG_RESAMPLE */
};

struct fakekvm_ioeventfd {
	uint64_t addr;
	uint32_t len;		/* 0: any length */
	int fd;
};

struct fakekvm_route {
	uint32_t gsi;
	bool msi;		/* else an irqchip pin */
	uint64_t addr;		/* MSI message */
	uint32_t data;
};

struct fakekvm {
	int vm_fd;		/* a real fd (/dev/null), so no other fd has its number */
	unsigned nirqfd, nioeventfd, nroutes;
	struct fakekvm_irqfd irqfd[FAKEKVM_MAX_FDS];
	struct fakekvm_ioeventfd ioeventfd[FAKEKVM_MAX_FDS];
	struct fakekvm_route routes[FAKEKVM_MAX_ROUTES];
	uint16_t msi_at[FAKEKVM_MAX_GSI];	/* 1 + index of the GSI's MSI route, or 0 */
	bool routes_set;	/* the last KVM_SET_GSI_ROUTING succeeded */
	unsigned fail_skip;	/* after this many assigning calls succeed, ... */
	unsigned fail_next;	/* ... the next n fail ... */
	int fail_errno;		/* ... with this errno */
	unsigned failed;	/* failures injected since fakekvm_reset */
	unsigned calls;		/* ioctls served since fakekvm_reset */
};

extern struct fakekvm fakekvm;

/* An empty VM for the next input (vm_fd is opened on the first call). */
void fakekvm_reset(void);

/* The irqfd assigned with eventfd fd, or NULL. */
const struct fakekvm_irqfd *fakekvm_irqfd_find(int fd);

/* The ioeventfd at addr (len 0), or NULL. */
const struct fakekvm_ioeventfd *fakekvm_ioeventfd_find(uint64_t addr);

/* The MSI route of gsi in the table KVM holds, or NULL. */
const struct fakekvm_route *fakekvm_msi_route(uint32_t gsi);

#endif
