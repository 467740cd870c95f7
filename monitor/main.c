/* vmm-monitor: parse, load, start devices and vCPUs, run the control loop. */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "api.h"
#include "arch.h"
#include "cli.h"
#include "confine.h"
#include "console.h"
#include "log.h"
#include "pci.h"
#include "sandbox.h"
#include "spawner.h"
#include "util.h"
#include "vdev.h"
#include "vm.h"
#include "vpci.h"

#define KERNEL_MAX_BYTES (512u << 20)
#define VCPU_STOP_TIMEOUT_MS 2000
/* The loop's own 3, then the control API's, then each device's. */
#define MAX_POLL (3 + API_POLL_MAX + MACHINE_MAX_DEVS * VDEV_MAX_POLL)
#define DEVICE_STOP_TIMEOUT_MS 1000

static struct vm *signal_vm;

static void stop_signal(int sig)
{
	(void)sig;
	if (signal_vm)
		vm_request_stop_signal(signal_vm, VM_EXIT_FAILED);
}

static void stop_signals_install(struct vm *vm)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT };
	struct sigaction sa = { .sa_handler = stop_signal };

	signal_vm = vm;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* The loaded files: everything the command line names, read and checked. */
struct inputs {
	uint8_t *kernel, *initrd;
	size_t kernel_len, initrd_len;
	struct machine machine;	/* devices, with their disk and console files */
	bool machine_built;
};

static int input_read(const char *opt, const char *path, uint8_t **buf, size_t *len)
{
	int err = read_whole_file(path, KERNEL_MAX_BYTES, buf, len);

	if (err == -EINVAL)
		log_err("%s %s: not a regular file", opt, path);
	else if (err == -EFBIG)
		log_err("%s %s: larger than %u MiB", opt, path,
			KERNEL_MAX_BYTES >> 20);
	else if (err)
		log_err("%s %s: %s", opt, path, strerror(-err));
	return err;
}

static int inputs_load(const struct cli_opts *o, struct inputs *in)
{
	if (input_read("--kernel", o->kernel, &in->kernel, &in->kernel_len))
		return -EINVAL;
	if (arch_kernel_probe(in->kernel, in->kernel_len, o->kernel))
		return -ENOEXEC;
	if (o->initrd && input_read("--initrd", o->initrd, &in->initrd, &in->initrd_len))
		return -EINVAL;
	if (machine_build(&in->machine, &o->machine))
		return -EINVAL;
	in->machine_built = true;
	return 0;
}

static int boot_prepare(struct vm *vm, const struct cli_opts *o, const struct inputs *in,
			struct arch_boot **boot)
{
	struct arch_boot_config bc = {
		.kernel = in->kernel, .kernel_len = in->kernel_len,
		.initrd = in->initrd, .initrd_len = in->initrd_len,
		.cmdline = o->cmdline, .ncpus = o->ncpus,
	};

	return arch_boot_load(vm, &bc, boot);
}

/* The console's input may be read while its pipe has room for a read. */
static bool console_has_room(const struct console *c)
{
	int queued = 0, cap = fcntl(c->pipe_w, F_GETPIPE_SZ);

	if (cap <= 0 || ioctl(c->pipe_r, FIONREAD, &queued) < 0)
		return false;
	return cap - queued >= PIPE_BUF;
}

static void drain_eventfd(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0)
		return;	/* EAGAIN: someone else drained it */
}

/* One round of the control loop; false once the VM is stopping. */
static bool control_poll(struct vm *vm, struct console *con, struct api *api, int wake_fd)
{
	struct pollfd pfd[MAX_POLL];
	uint32_t tags[MAX_POLL];
	unsigned n = 0, ndev, napi, api_at;
	int timeout = -1, tick;

	pfd[n++] = (struct pollfd){ .fd = vm->stop_fd, .events = POLLIN };
	pfd[n++] = (struct pollfd){ .fd = wake_fd, .events = POLLIN };
	if (con->in_fd >= 0 && console_has_room(con))
		pfd[n] = (struct pollfd){ .fd = con->in_fd, .events = POLLIN };
	else
		pfd[n] = (struct pollfd){ .fd = -1 }, timeout = con->in_fd >= 0 ? 20 : -1;
	n++;
	api_at = n;
	napi = api_pollfds(api, pfd + n, MAX_POLL - n);
	n += napi;
	ndev = vdevs_pollfds(vm, pfd + n, tags, MAX_POLL - n);
	tick = vdevs_tick(vm);
	if (tick >= 0 && (timeout < 0 || tick < timeout))
		timeout = tick;
	if (poll(pfd, n + ndev, timeout) < 0 && errno != EINTR)
		vm_request_stop(vm, VM_EXIT_FAILED, "control loop: poll failed");
	if (atomic_load(&vm->stopping))
		return false;
	if (pfd[1].revents)
		drain_eventfd(wake_fd);
	if (pfd[2].revents && console_input(con, vm) == -EPIPE)
		log_debug("console: input ended");
	if (napi)
		api_handle(api, vm, pfd + api_at, napi);
	for (unsigned i = 0; i < ndev; i++)
		if (pfd[n + i].revents)
			vdevs_handle(vm, tags[i], pfd[n + i].revents);
	return !atomic_load(&vm->stopping);
}

static void stats_log(const struct vm *vm)
{
	const struct trapbus_stats *s = &vm->bus.stats;

	/* Served accesses are counted per device region (machine_traps_log). */
	log_debug("traps: unclaimed pio r/w %llu/%llu, mmio r/w %llu/%llu",
		  (unsigned long long)s->unclaimed_reads[TRAP_PIO],
		  (unsigned long long)s->unclaimed_writes[TRAP_PIO],
		  (unsigned long long)s->unclaimed_reads[TRAP_MMIO],
		  (unsigned long long)s->unclaimed_writes[TRAP_MMIO]);
}

/* The mode the device processes get: strict unless the user said otherwise. */
static unsigned sandbox_mode(const struct cli_opts *o)
{
	if (o->sandbox == CLI_SANDBOX_OFF)
		return SANDBOX_OFF;
	return o->sandbox == CLI_SANDBOX_LOG ? SANDBOX_LOG : SANDBOX_STRICT;
}

/* The monitor confines itself as its devices are, when they are processes (confine.h). */
static unsigned monitor_confine_mode(const struct cli_opts *o)
{
	return o->devices == CLI_DEVICES_PROCESS ? sandbox_mode(o) : SANDBOX_OFF;
}

static int devices_start(struct vm *vm, const struct cli_opts *o, struct machine *m,
			 int wake_fd, struct spawner *spawner)
{
	char name[32];
	struct vdev_cfg cfg = { .vcpu_spin_ns = o->vcpu_spin_ns, .dev_spin_ns = o->dev_spin_ns,
				.timeout_ns = o->dev_timeout_ns, .vm_name = name,
				.sandbox = sandbox_mode(o), .spawner = spawner,
				.wake_fd = wake_fd, .restart_max = o->dev_restart,
				.restart_violations = o->dev_restart_violations };

	snprintf(name, sizeof(name), "vm%d", (int)getpid());
	return vdevs_start(vm, o->devices == CLI_DEVICES_INPROC ? &vdev_host_inproc
			   : &vdev_host_process, m, &cfg);
}

/* Create, run and tear down the VM; returns the exit status. */
static int vm_run(const struct cli_opts *o, struct inputs *in, struct spawner *spawner)
{
	struct vm_config cfg = { .kernel = o->kernel, .initrd = o->initrd,
				 .cmdline = o->cmdline, .mem_size = o->mem_size,
				 .ncpus = o->ncpus };
	struct console con = { .pipe_r = -1, .pipe_w = -1 };
	struct api api = { .lfd = -1, .devices_mode = o->devices == CLI_DEVICES_INPROC ? "inproc"
								   : "process",
			   .sandbox = sandbox_mode_name((enum sandbox_mode)sandbox_mode(o)) };
	struct confine_opts copts = { .mode = monitor_confine_mode(o), .api_fd = -1,
				      .api_path = o->api_socket };
	struct arch_boot *boot = NULL;
	struct pci_host pci;
	struct vm vm;
	int wake_fd, status, err;

	err = vm_create(&vm, &cfg);
	if (err)
		return err == -ENODEV ? VM_EXIT_NO_KVM : VM_EXIT_FAILED;
	if (o->record_traps && (err = trapbus_record_open(&vm.bus, o->record_traps))) {
		log_err("--record-traps %s: %s", o->record_traps, strerror(-err));
		vm_destroy(&vm);
		return VM_EXIT_USAGE;
	}
	if (o->api_socket && api_open(&api, o->api_socket)) {
		vm_destroy(&vm);
		return VM_EXIT_USAGE;
	}
	copts.api_fd = api.lfd;
	err = boot_prepare(&vm, o, in, &boot);
	/* Copied into guest RAM: their buffers would cost their size all VM long. */
	free(in->kernel);
	free(in->initrd);
	in->kernel = in->initrd = NULL;
	if (err) {
		api_close(&api);
		vm_destroy(&vm);
		return err == -EIO || err == -ENOMEM ? VM_EXIT_FAILED : VM_EXIT_USAGE;
	}
	wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	stop_signals_install(&vm);
	err = wake_fd < 0 ? -errno : console_open(&con);
	if (!err)
		err = vcpus_create(&vm, boot);
	if (!err && !(err = pci_host_init(&pci, &vm.bus, &arch_pci.host)))
		vm.pci = &pci;
	machine_set_console(&in->machine, (int[2]){ con.pipe_r, con.out_fd });
	if (!err)
		err = devices_start(&vm, o, &in->machine, wake_fd, spawner);
	if (!err) {
		vm_hugepage_hint();
		err = vcpus_start(&vm, &copts);
	}
	if (!err)
		err = confine_thread(vm.confine, CONFINE_MAIN);
	if (err) {
		char why[80];

		snprintf(why, sizeof(why), "VM setup failed: %s", strerror(-err));
		vm_request_stop(&vm, VM_EXIT_FAILED, why);
	}
	while (control_poll(&vm, &con, &api, wake_fd))
		;
	api_close(&api);
	trapbus_table_freeze(&vm.bus);
	vdevs_quiesce(&vm);
	if (vcpus_stop(&vm, VCPU_STOP_TIMEOUT_MS)) {
		vdevs_abandon(&vm);
		console_restore_terminal();
		return VM_EXIT_FAILED;	/* a vCPU is stuck: leave its memory mapped */
	}
	stats_log(&vm);
	vdevs_stop(&vm, DEVICE_STOP_TIMEOUT_MS);
	status = vm.exit_status;	/* a device's late sandbox violation fails it */
	if (vm.pci)
		pci_host_destroy(&pci, &vm.bus);
	console_close(&con);
	close(wake_fd);
	signal_vm = NULL;
	arch_boot_free(boot);
	vm_destroy(&vm);
	return status;
}

/* cli_parse refused strict|log with inproc; off gets its one warning here. */
static int mode_check(const struct cli_opts *o)
{
	if (o->sandbox == CLI_SANDBOX_OFF && o->devices == CLI_DEVICES_PROCESS)
		log_warn("warning: --sandbox off: device processes run "
			"unconfined (debugging only)");
	return 0;
}

static void inputs_free(struct inputs *in)
{
	free(in->kernel);
	free(in->initrd);
	if (in->machine_built)
		machine_release(&in->machine);
}

int main(int argc, char **argv)
{
	static struct inputs in;
	struct spawner spawner = { .sock = -1 };
	struct cli_opts o;
	int status;

	log_set_program("vmm-monitor");
	if (cli_parse(argc, argv, &o, vm_host_mem_limit(), vm_max_cpus(), stderr))
		return VM_EXIT_USAGE;
	if (o.help) {
		cli_usage(stdout);
		return VM_EXIT_OK;
	}
	if (o.version) {
		printf("vmm-monitor %s\n", VMM_VERSION);
		return VM_EXIT_OK;
	}
	if (o.print_profile)
		return confine_print_profile(o.print_profile, stdout) ? VM_EXIT_FAILED : VM_EXIT_OK;
	log_set_level(o.verbose ? LOG_DEBUG : LOG_INFO);
	if (mode_check(&o))
		return VM_EXIT_USAGE;
	/* Forked first: before any thread, confinement or large buffer exists. */
	if (o.devices == CLI_DEVICES_PROCESS && spawner_start(&spawner))
		return VM_EXIT_FAILED;
	if (inputs_load(&o, &in)) {
		inputs_free(&in);
		spawner_stop(&spawner);
		return VM_EXIT_USAGE;
	}
	status = vm_run(&o, &in, &spawner);
	inputs_free(&in);
	spawner_stop(&spawner);
	return status;
}
