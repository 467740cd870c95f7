/*
 * Boot vCPU state for the 64-bit boot protocol: long mode with paging on
 * the identity map, flat segments loaded from the boot GDT (selectors as
 * Linux's __BOOT_CS / __BOOT_DS), interrupts off, the FPU in its reset
 * state.
 */
#include "x86_priv.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

#include "log.h"

#define CR0_PE	(1ULL << 0)
#define CR0_ET	(1ULL << 4)
#define CR0_NE	(1ULL << 5)
#define CR0_PG	(1ULL << 31)
#define CR4_PAE	(1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

/* A flat segment as the CPU caches it after loading the GDT descriptor. */
static struct kvm_segment regs_segment(uint16_t sel, int code)
{
	return (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel,
		.type = code ? 0xb : 0x3,	/* exec/read or read/write, accessed */
		.present = 1, .dpl = 0, .s = 1, .g = 1,
		.l = code ? 1 : 0, .db = code ? 0 : 1,
	};
}

static void regs_long_mode(struct kvm_sregs *sr, const struct x86_boot_info *bi)
{
	struct kvm_segment data = regs_segment(X86_BOOT_DS, 0);

	sr->cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_PG;
	sr->cr3 = bi->cr3;
	sr->cr4 = CR4_PAE;
	sr->efer = EFER_LME | EFER_LMA;
	sr->cs = regs_segment(X86_BOOT_CS, 1);
	sr->ds = sr->es = sr->fs = sr->gs = sr->ss = data;
	sr->gdt.base = bi->gdt;
	sr->gdt.limit = bi->gdt_limit;
}

static int regs_ioctl(int fd, unsigned long req, void *arg, const char *what)
{
	int err;

	if (ioctl(fd, req, arg) == 0)
		return 0;
	err = -errno;
	log_err("regs: %s: %s", what, strerror(-err));
	return err;
}

int x86_vcpu_boot_regs(int vcpu_fd, const struct x86_boot_info *bi)
{
	struct kvm_sregs sr;
	struct kvm_regs r;
	struct kvm_fpu fpu;
	int err;

	err = regs_ioctl(vcpu_fd, KVM_GET_SREGS, &sr, "KVM_GET_SREGS");
	if (err)
		return err;
	regs_long_mode(&sr, bi);
	err = regs_ioctl(vcpu_fd, KVM_SET_SREGS, &sr, "KVM_SET_SREGS");
	if (err)
		return err;
	memset(&r, 0, sizeof(r));
	r.rflags = 0x2;			/* bit 1 is reserved-one; IF clear */
	r.rip = bi->entry;
	r.rsi = bi->zero_page;
	r.rsp = bi->stack;
	err = regs_ioctl(vcpu_fd, KVM_SET_REGS, &r, "KVM_SET_REGS");
	if (err)
		return err;
	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;		/* FNINIT state */
	/*
	 * All SSE exceptions masked. KVM_SET_FPU does not actually copy
	 * mxcsr (nor KVM_GET_FPU report it); a new vCPU already holds 0x1f80
	 * in its XSAVE area, which is what the guest gets.
	 */
	fpu.mxcsr = 0x1f80;
	return regs_ioctl(vcpu_fd, KVM_SET_FPU, &fpu, "KVM_SET_FPU");
}
