/*
 * The parts that need /dev/kvm: per-vCPU CPUID (read back with
 * KVM_GET_CPUID2 for vCPUs 0 and 3 of 4) and the boot register state (read
 * back with KVM_GET_SREGS / KVM_GET_REGS / KVM_GET_FPU). Skipped with the
 * reason when there is no usable /dev/kvm.
 */
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "log.h"
#include "x86_test.h"

#define NCPUS 4
#define MAX_ENT 512

/* kvm_cpuid2 ends in a flexible array: room for MAX_ENT entries behind it. */
struct cpuid_buf {
	union {
		struct kvm_cpuid2 c;
		unsigned char room[sizeof(struct kvm_cpuid2) +
				   MAX_ENT * sizeof(struct kvm_cpuid_entry2)];
	};
};

static const struct kvm_cpuid_entry2 *find(const struct cpuid_buf *b, uint32_t fn, uint32_t idx)
{
	for (uint32_t i = 0; i < b->c.nent; i++)
		if (b->c.entries[i].function == fn && b->c.entries[i].index == idx)
			return &b->c.entries[i];
	return NULL;
}

static void check_topology(const struct cpuid_buf *b, unsigned i)
{
	const struct kvm_cpuid_entry2 *smt = find(b, 0xb, 0), *core = find(b, 0xb, 1);
	const struct kvm_cpuid_entry2 *end = find(b, 0xb, 2), *e0 = find(b, 0, 0);

	CHECK(e0 && e0->eax >= 0xb, "max basic leaf reaches 0xB");
	CHECK(smt && smt->ebx == 1 && ((smt->ecx >> 8) & 0xff) == 1 && smt->edx == i &&
	      (smt->eax & 0x1f) == 0, "vCPU %u leaf 0xB.0: SMT level, 1 thread, x2APIC id", i);
	CHECK(core && core->ebx == NCPUS && ((core->ecx >> 8) & 0xff) == 2 && core->edx == i &&
	      (core->eax & 0x1f) == 2, "vCPU %u leaf 0xB.1: core level, %u cores, shift 2", i, NCPUS);
	CHECK(end && ((end->ecx >> 8) & 0xff) == 0, "vCPU %u leaf 0xB.2: end of levels", i);
}

/* Leaves 0x80000002..4 hold the host's brand string (KVM leaves them 0). */
static void check_brand(const struct cpuid_buf *b, unsigned i)
{
	char guest[49] = "", host[49] = "";
	unsigned r[4];

	for (uint32_t fn = 0x80000002; fn <= 0x80000004; fn++) {
		const struct kvm_cpuid_entry2 *e = find(b, fn, 0);
		uint32_t g[4] = { e ? e->eax : 0, e ? e->ebx : 0, e ? e->ecx : 0, e ? e->edx : 0 };

		memcpy(guest + (fn - 0x80000002) * 16, g, 16);
		if (!__get_cpuid(fn, &r[0], &r[1], &r[2], &r[3]))
			memset(r, 0, sizeof(r));
		memcpy(host + (fn - 0x80000002) * 16, r, 16);
	}
	CHECK(host[0] && strcmp(guest, host) == 0, "vCPU %u brand string [%s], host [%s]", i, guest, host);
}

static void check_cpuid(const struct cpuid_buf *sup, int kvm_fd, int vcpu, unsigned i)
{
	const struct kvm_cpuid_entry2 *sup8 = find(sup, 0x80000008, 0);
	struct cpuid_buf b = { .c.nent = MAX_ENT };
	const struct kvm_cpuid_entry2 *l1, *kvm, *ext8;

	if (ioctl(vcpu, KVM_GET_CPUID2, &b) != 0) {
		CHECK(0, "KVM_GET_CPUID2: %s", strerror(errno));
		return;
	}
	l1 = find(&b, 1, 0);
	kvm = find(&b, 0x40000000, 0);
	ext8 = find(&b, 0x80000008, 0);
	CHECK(l1 && l1->ebx >> 24 == i, "vCPU %u leaf 1 initial APIC id", i);
	CHECK(l1 && ((l1->ebx >> 16) & 0xff) == NCPUS, "vCPU %u leaf 1 logical count", i);
	CHECK(l1 && (l1->ecx >> 31), "vCPU %u leaf 1 hypervisor bit", i);
	CHECK(l1 && !!(l1->ecx & (1u << 24)) ==
		    (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0),
	      "vCPU %u leaf 1 TSC-deadline bit as KVM_CAP_TSC_DEADLINE_TIMER says", i);
	CHECK(kvm && memcmp(&kvm->ebx, "KVMK", 4) == 0 && memcmp(&kvm->ecx, "VMKV", 4) == 0 &&
	      memcmp(&kvm->edx, "M\0\0\0", 4) == 0, "vCPU %u KVM signature leaf kept", i);
	check_topology(&b, i);
	CHECK(ext8 && sup8 && ext8->ebx == sup8->ebx,
	      "vCPU %u leaf 0x80000008 EBX (XSAVEERPTR, ...) as KVM supports it: 0x%x", i,
	      ext8 ? ext8->ebx : 0);
	check_brand(&b, i);
}

/* KVM_GET_FPU leaves mxcsr out: read it from the legacy XSAVE area. */
static void check_mxcsr(int vcpu)
{
	struct kvm_xsave x;
	uint32_t mxcsr;

	if (ioctl(vcpu, KVM_GET_XSAVE, &x) != 0) {
		CHECK(1, "# SKIP KVM_GET_XSAVE: %s", strerror(errno));
		return;
	}
	memcpy(&mxcsr, (const uint8_t *)x.region + 24, 4);
	CHECK_EQ(mxcsr, 0x1f80, "MXCSR (from KVM_GET_XSAVE)");
}

static void check_regs(int vcpu)
{
	const struct x86_boot_info bi = { .entry = 0x1000200, .zero_page = X86_ZERO_PAGE_ADDR,
					  .stack = X86_BOOT_STACK, .cr3 = X86_PML4_ADDR,
					  .gdt = X86_GDT_ADDR, .gdt_limit = 31 };
	struct kvm_sregs s;
	struct kvm_regs r;
	struct kvm_fpu f;

	CHECK_EQ(x86_vcpu_boot_regs(vcpu, &bi), 0, "x86_vcpu_boot_regs");
	if (ioctl(vcpu, KVM_GET_SREGS, &s) || ioctl(vcpu, KVM_GET_REGS, &r) ||
	    ioctl(vcpu, KVM_GET_FPU, &f)) {
		CHECK(0, "read back registers: %s", strerror(errno));
		return;
	}
	CHECK((s.cr0 & 0x80000001) == 0x80000001, "CR0 PE|PG (0x%llx)", (unsigned long long)s.cr0);
	CHECK(s.cr4 & 0x20, "CR4.PAE");
	CHECK((s.efer & 0x500) == 0x500, "EFER LME|LMA (0x%llx)", (unsigned long long)s.efer);
	CHECK_EQ(s.cr3, X86_PML4_ADDR, "CR3");
	CHECK(s.cs.selector == 0x10 && s.cs.l == 1 && s.cs.db == 0 && s.cs.present &&
	      s.cs.dpl == 0 && s.cs.s && (s.cs.type & 0xb) == 0xb, "CS: 0x10 64-bit code");
	CHECK(s.ds.selector == 0x18 && s.es.selector == 0x18 && s.ss.selector == 0x18 &&
	      s.fs.selector == 0x18 && s.gs.selector == 0x18 && s.ds.present && s.ss.db,
	      "DS/ES/FS/GS/SS: 0x18 data");
	CHECK(s.gdt.base == X86_GDT_ADDR && s.gdt.limit == 31, "GDTR");
	CHECK(r.rip == bi.entry && r.rsi == bi.zero_page && r.rsp == bi.stack,
	      "RIP, RSI, RSP");
	CHECK_EQ(r.rflags, 2, "RFLAGS: interrupts off");
	CHECK_EQ(f.fcw, 0x37f, "FPU control word");
	check_mxcsr(vcpu);
}

/*
 * Boot a four-instruction ELF through x86_boot_setup + x86_vcpu_boot_regs
 * and let it run: it reads boot_flag through %rsi, bounces it through the
 * stack, and writes it to port 0x3f8. Only correct page tables, GDT and
 * long-mode state get it there.
 */
static const uint8_t guest_code[] = {
	0x0f, 0xb7, 0x86, 0xfe, 0x01, 0x00, 0x00,	/* movzwl 0x1fe(%rsi), %eax */
	0x50,						/* push %rax */
	0x59,						/* pop %rcx */
	0x89, 0xc8,					/* mov %ecx, %eax */
	0x66, 0xba, 0xf8, 0x03,				/* mov $0x3f8, %dx */
	0xef,						/* out %eax, (%dx) */
	0xf4,						/* hlt */
};

static void run_guest(int kvm, int vm, int vcpu)
{
	struct telf t;
	struct x86_boot_config cfg = { .kernel = t.bytes, .kernel_len = sizeof(t.bytes),
				       .cmdline = "", .ncpus = 1 };
	struct x86_boot_info bi;
	struct kvm_userspace_memory_region mr = { .slot = 0, .memory_size = 64 * MiB };
	int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	struct kvm_run *run;
	struct gmem gm;

	telf_build(&t);
	memcpy(t.bytes + TELF_TEXT_OFF + (TELF_ENTRY - TELF_TEXT), guest_code, sizeof(guest_code));
	run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (size <= 0 || run == MAP_FAILED || test_gmem_new(&gm, 64 * MiB) != 0) {
		CHECK(0, "map kvm_run and guest RAM");
		return;
	}
	mr.userspace_addr = (uint64_t)(uintptr_t)gm.r[0].hva;
	CHECK_EQ(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &mr), 0, "memory slot");
	CHECK_EQ(x86_boot_setup(&gm, &cfg, &bi), 0, "boot setup for the run");
	CHECK_EQ(x86_vcpu_boot_regs(vcpu, &bi), 0, "boot regs for the run");
	CHECK_EQ(ioctl(vcpu, KVM_RUN, 0), 0, "KVM_RUN");
	CHECK(run->exit_reason == KVM_EXIT_IO && run->io.port == 0x3f8 && run->io.size == 4 &&
	      run->io.direction == KVM_EXIT_IO_OUT &&
	      rd32((const uint8_t *)run + run->io.data_offset) == 0xaa55,
	      "guest ran in long mode and wrote boot_flag to 0x3f8 (exit %u)", run->exit_reason);
	munmap(run, (size_t)size);
	test_gmem_free(&gm);
}

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm, vcpu[NCPUS];
	static struct cpuid_buf sup = { .c.nent = MAX_ENT };

	if (kvm < 0)
		CHECK_SKIP_ALL("/dev/kvm: %s", strerror(errno));
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		CHECK_SKIP_ALL("KVM_CREATE_VM: %s", strerror(errno));
	log_set_level(LOG_ERR);
	for (unsigned i = 0; i < NCPUS; i++) {
		vcpu[i] = ioctl(vm, KVM_CREATE_VCPU, i);
		if (vcpu[i] < 0)
			CHECK_SKIP_ALL("KVM_CREATE_VCPU %u: %s", i, strerror(errno));
	}
	for (unsigned i = 0; i < NCPUS; i++)
		CHECK_EQ(x86_cpuid_setup(kvm, vcpu[i], i, NCPUS), 0, "x86_cpuid_setup");
	if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, &sup) != 0)
		CHECK_SKIP_ALL("KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
	check_cpuid(&sup, kvm, vcpu[0], 0);
	check_cpuid(&sup, kvm, vcpu[3], 3);
	CHECK_EQ(x86_cpuid_setup(kvm, vcpu[0], NCPUS, NCPUS), (uint64_t)-EINVAL, "index >= ncpus");
	check_regs(vcpu[0]);
	run_guest(kvm, vm, vcpu[1]);
	for (unsigned i = 0; i < NCPUS; i++)
		close(vcpu[i]);
	close(vm);
	close(kvm);
	return check_done();
}
