/*
 * Per-vCPU CPUID: what KVM supports, with the topology a guest sees made
 * consistent with the MP table and MADT: one package of ncpus cores, one
 * thread per core, APIC id = vCPU index. Also the hypervisor bit. Every
 * feature bit is passed through as KVM reports it (claiming, say, AMD's
 * XSAVEERPTR on a CPU that leaks FXSAVE's error pointers would let one
 * guest process see another's). KVM leaves the brand string
 * (leaves 0x80000002..4) to userspace, zeroed: the host's is copied in, as
 * QEMU's -cpu host does, so the guest names its CPU ("AMD EPYC", not
 * "AMD 19/11").
 */
#include "x86_priv.h"

#include <cpuid.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

#include "log.h"

#define CPUID_NENT_START 128
#define CPUID_NENT_MAX   4096
#define CPUID_EXTRA      8	/* room for the topology subleaves we add */

#define LEAF1_ECX_TSC_DEADLINE	(1u << 24)
#define LEAF1_ECX_HYPERVISOR	(1u << 31)
#define LEAF1_EDX_HTT		(1u << 28)
#define TOPO_SMT		1	/* leaf 0xB/0x1F level types */
#define TOPO_CORE		2

/* KVM_GET_SUPPORTED_CPUID into a malloc'ed buffer, growing it on E2BIG. */
static int cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **out)
{
	for (unsigned n = CPUID_NENT_START; n <= CPUID_NENT_MAX; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + (n + CPUID_EXTRA) * sizeof(c->entries[0]));

		if (!c)
			return -ENOMEM;
		c->nent = n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			*out = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG)
			return -errno;
	}
	return -E2BIG;
}

static struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == idx)
			return &c->entries[i];
	return NULL;
}

/* Bits needed to hold n - 1 (the x2APIC id shift for n units). */
static uint32_t cpuid_shift(unsigned n)
{
	uint32_t s = 0;

	while ((1u << s) < n)
		s++;
	return s;
}

static void cpuid_leaf1(struct kvm_cpuid_entry2 *e, unsigned index, unsigned ncpus)
{
	uint32_t count = ncpus > 255 ? 255 : ncpus;

	e->ebx = (e->ebx & 0x0000ffffu) | (uint32_t)index << 24 | count << 16;
	e->ecx |= LEAF1_ECX_HYPERVISOR;
	if (ncpus > 1)
		e->edx |= LEAF1_EDX_HTT;	/* EBX[23:16] is valid */
	else
		e->edx &= ~LEAF1_EDX_HTT;
}

/* Leaf 4 (Intel caches): cores per package, and who shares each cache. */
static void cpuid_leaf4(struct kvm_cpuid2 *c, unsigned ncpus)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		uint32_t level = (e->eax >> 5) & 7, sharing;

		if (e->function != 4 || (e->eax & 0x1f) == 0)
			continue;
		sharing = level >= 3 ? ncpus - 1 : 0;	/* L3 is per package */
		e->eax &= 0x00003fffu;
		e->eax |= (uint32_t)(ncpus - 1) << 26 | sharing << 14;
	}
}

/* Drop every entry of leaf fn. */
static void cpuid_remove(struct kvm_cpuid2 *c, uint32_t fn)
{
	uint32_t j = 0;

	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function != fn)
			c->entries[j++] = c->entries[i];
	c->nent = j;
}

/* Leaf 0xB / 0x1F: SMT level (1 thread), core level (ncpus), then end. */
static void cpuid_topology(struct kvm_cpuid2 *c, uint32_t fn, unsigned index,
			   unsigned ncpus)
{
	const uint32_t eax[3] = { 0, cpuid_shift(ncpus), 0 };
	const uint32_t ebx[3] = { 1, ncpus, 0 };
	const uint32_t type[3] = { TOPO_SMT, TOPO_CORE, 0 };

	cpuid_remove(c, fn);
	for (uint32_t i = 0; i < 3; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[c->nent++];

		memset(e, 0, sizeof(*e));
		e->function = fn;
		e->index = i;
		e->flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
		e->eax = eax[i];
		e->ebx = ebx[i];
		e->ecx = type[i] << 8 | i;
		e->edx = index;
	}
}

/* The host's brand string into leaves 0x80000002..4 where KVM left them zero. */
static void cpuid_brand(struct kvm_cpuid2 *c)
{
	for (uint32_t fn = 0x80000002; fn <= 0x80000004; fn++) {
		struct kvm_cpuid_entry2 *e = cpuid_find(c, fn, 0);
		unsigned a, b, cx, d;

		if (!e || e->eax | e->ebx | e->ecx | e->edx || !__get_cpuid(fn, &a, &b, &cx, &d))
			continue;
		e->eax = a;
		e->ebx = b;
		e->ecx = cx;
		e->edx = d;
	}
}

/* Apply every per-vCPU fix-up to the supported list. */
static void cpuid_fixup(struct kvm_cpuid2 *c, unsigned index, unsigned ncpus)
{
	struct kvm_cpuid_entry2 *e0 = cpuid_find(c, 0, 0);
	struct kvm_cpuid_entry2 *e = cpuid_find(c, 1, 0);

	if (e)
		cpuid_leaf1(e, index, ncpus);
	cpuid_leaf4(c, ncpus);
	if (e0 && e0->eax < 0xb)
		e0->eax = 0xb;		/* make leaf 0xB visible */
	cpuid_topology(c, 0xb, index, ncpus);
	/* 0x1F only where the host has it; it then must agree with 0xB. */
	if (cpuid_find(c, 0x1f, 0))
		cpuid_topology(c, 0x1f, index, ncpus);
	cpuid_brand(c);
}

int x86_cpuid_setup(int kvm_fd, int vcpu_fd, unsigned index, unsigned ncpus)
{
	struct kvm_cpuid_entry2 *e1;
	struct kvm_cpuid2 *c = NULL;
	int err;

	if (ncpus == 0 || ncpus > X86_MAX_CPUS || index >= ncpus)
		return -EINVAL;
	err = cpuid_get_supported(kvm_fd, &c);
	if (err) {
		log_err("cpuid: KVM_GET_SUPPORTED_CPUID: %s", strerror(-err));
		return err;
	}
	cpuid_fixup(c, index, ncpus);
	/*
	 * KVM emulates the LAPIC's TSC-deadline mode but leaves the bit out of
	 * KVM_GET_SUPPORTED_CPUID (the VMM must offer it): without it Linux arms
	 * its timer through TMICT, not one MSR write per event.
	 */
	e1 = cpuid_find(c, 1, 0);
	if (e1 && ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0)
		e1->ecx |= LEAF1_ECX_TSC_DEADLINE;
	err = ioctl(vcpu_fd, KVM_SET_CPUID2, c) ? -errno : 0;
	if (err)
		log_err("cpuid: KVM_SET_CPUID2 on vCPU %u: %s", index, strerror(-err));
	free(c);
	return err;
}
