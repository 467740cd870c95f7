#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "arch.h"
#include "confine.h"
#include "log.h"

uint64_t vm_host_mem_limit(void)
{
	struct sysinfo si;

	if (sysinfo(&si) < 0)
		return 0;
	return (uint64_t)si.totalram * si.mem_unit;
}

unsigned vm_max_cpus(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int n;

	if (fd < 0)
		return VM_MAX_CPUS;
	n = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (n <= 0)
		n = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	close(fd);
	return n > 0 && n < VM_MAX_CPUS ? (unsigned)n : VM_MAX_CPUS;
}

static int kvm_open(struct vm *vm)
{
	int ver;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		if (errno == EACCES || errno == EPERM)
			log_err("/dev/kvm: %s: run as root or as a member "
				"of the group that owns /dev/kvm", strerror(errno));
		else
			log_err("/dev/kvm: %s: this machine has no KVM; "
				"scripts/kvm-machine.sh runs the command in an emulated machine "
				"that has one", strerror(errno));
		return -ENODEV;
	}
	ver = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (ver != KVM_API_VERSION) {
		log_err("/dev/kvm: API version %d, need %d", ver, KVM_API_VERSION);
		return -ENOTSUP;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		int err = -errno;

		log_err("KVM_CREATE_VM: %s", strerror(errno));
		return err;
	}
	return 0;
}

int vm_ioctl(struct vm *vm, unsigned long req, void *arg, const char *what)
{
	if (ioctl(vm->vm_fd, req, arg) < 0) {
		int err = -errno;

		log_err("%s: %s", what, strerror(errno));
		return err;
	}
	return 0;
}

void vm_hugepage_hint(void)
{
	static const char knob[] = "/sys/kernel/mm/transparent_hugepage/shmem_enabled";
	char buf[128] = "";
	FILE *f = fopen(knob, "re");

	if (!f)
		return;
	if (fgets(buf, sizeof(buf), f) && (strstr(buf, "[never]") || strstr(buf, "[deny]")))
		log_info("guest RAM on 4 KiB pages: %s is never; \"advise\" gives it huge "
			 "pages (faster guests, README.md \"Huge pages\")", knob);
	fclose(f);
}

/*
 * Guest RAM: one memfd, sealed so that nobody it is shared with (device
 * processes, later) can shrink it under the monitor's mappings.
 */
static int ram_create(struct vm *vm, uint64_t size)
{
	int err;

	vm->mem_fd = memfd_create("vmm-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (vm->mem_fd < 0)
		goto fail;
	if (ftruncate(vm->mem_fd, (off_t)size) < 0 ||
	    fcntl(vm->mem_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;
	arch_mem_layout(&vm->mem, size);
	err = gmem_map(&vm->mem, vm->mem_fd);
	if (err) {
		log_err("guest RAM: mmap of %llu MiB: %s",
			(unsigned long long)(size >> 20), strerror(-err));
		return err;
	}
	/*
	 * Huge pages where the host allows them for shared memory
	 * (transparent_hugepage/shmem_enabled "advise" or above): a guest on
	 * 2 MiB pages takes far fewer nested page faults and TLB misses.
	 * Where it does not, this changes nothing, and is no error.
	 */
	for (unsigned i = 0; i < vm->mem.nranges; i++)
		madvise(vm->mem.r[i].hva, vm->mem.r[i].size, MADV_HUGEPAGE);
	return 0;
fail:
	err = -errno;
	log_err("guest RAM: %s", strerror(errno));
	return err;
}

static int ram_register(struct vm *vm)
{
	for (unsigned i = 0; i < vm->mem.nranges; i++) {
		const struct gmem_range *r = &vm->mem.r[i];
		struct kvm_userspace_memory_region reg = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uintptr_t)r->hva,
		};
		int err = vm_ioctl(vm, KVM_SET_USER_MEMORY_REGION, &reg,
				   "KVM_SET_USER_MEMORY_REGION");

		if (err)
			return err;
	}
	return 0;
}

int vm_create(struct vm *vm, const struct vm_config *cfg)
{
	int err;

	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = vm->vm_fd = vm->mem_fd = vm->stop_fd = -1;
	vm->irqchip_fd[0] = vm->irqchip_fd[1] = -1;
	vm->mem.fd = -1;
	vm->ncpus = cfg->ncpus;
	err = trapbus_init(&vm->bus);
	if (err)
		return err;
	vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_fd < 0) {
		err = -errno;
		goto fail;
	}
	err = kvm_open(vm);
	if (!err)
		err = arch_vm_init(vm);
	if (!err)
		err = ram_create(vm, cfg->mem_size);
	if (!err)
		err = ram_register(vm);
	if (!err)
		return 0;
fail:
	vm_destroy(vm);
	return err;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void vm_destroy(struct vm *vm)
{
	gmem_unmap(&vm->mem);
	close_fd(&vm->mem_fd);
	close_fd(&vm->irqchip_fd[0]);
	close_fd(&vm->irqchip_fd[1]);
	close_fd(&vm->vm_fd);
	close_fd(&vm->kvm_fd);
	close_fd(&vm->stop_fd);
	if (vm->irq_ready)
		irq_routes_destroy(&vm->irq);
	trapbus_destroy(&vm->bus);
	confine_free(vm->confine);
	vm->confine = NULL;
}

/* Claim the stop for `status`: true for the first caller only. */
static bool stop_claim(struct vm *vm, int status)
{
	int expected = 0;
	uint64_t one = 1;

	if (!atomic_compare_exchange_strong(&vm->stopping, &expected, 1))
		return false;
	vm->exit_status = status;
	if (write(vm->stop_fd, &one, sizeof(one)) < 0)
		return true;	/* the eventfd cannot overflow from one write */
	return true;
}

void vm_request_stop_signal(struct vm *vm, int status)
{
	stop_claim(vm, status);
}

void vm_fail_late(struct vm *vm, const char *why)
{
	vmm_log(LOG_ERR, NULL, "%s", why);
	vm->exit_status = VM_EXIT_FAILED;
}

void vm_request_stop(struct vm *vm, int status, const char *why)
{
	if (stop_claim(vm, status) && why)
		vmm_log(status == VM_EXIT_OK ? LOG_INFO : LOG_ERR, NULL, "%s", why);
}
