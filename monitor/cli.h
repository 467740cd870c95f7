/* vmm-monitor's command line: parsing and validation, nothing else. */
#ifndef VMM_MONITOR_CLI_H
#define VMM_MONITOR_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "machine.h"

enum cli_devices { CLI_DEVICES_INPROC, CLI_DEVICES_PROCESS };
enum cli_sandbox { CLI_SANDBOX_DEFAULT, CLI_SANDBOX_STRICT, CLI_SANDBOX_LOG, CLI_SANDBOX_OFF };

#define CLI_DEFAULT_MEM     (256ULL << 20)
#if defined(__aarch64__)	/* the 16550 on MMIO is ttyS0; earlycon finds it by /chosen/stdout-path */
#define CLI_DEFAULT_CMDLINE "console=ttyS0 earlycon panic=-1"
#define CLI_ARCH_NAME "arm64"
#define CLI_KERNEL_HELP "Linux arm64 Image to boot (required)"
#else
#define CLI_DEFAULT_CMDLINE "console=ttyS0 reboot=k panic=-1"
#define CLI_ARCH_NAME "x86-64"
#define CLI_KERNEL_HELP "Linux bzImage or ELF64 kernel to boot (required)"
#endif
/* Spin budgets: see bench/trap.sh for how they were chosen. */
#define CLI_DEFAULT_VCPU_SPIN_US   50
#define CLI_DEFAULT_DEV_SPIN_US    100
#define CLI_DEFAULT_DEV_TIMEOUT_MS 1000
#define CLI_DEFAULT_DEV_RESTART    10	/* replacements per device per minute */
#define CLI_MAX_DEV_RESTART        64	/* PROCESS_RESTART_TRACK */

struct cli_opts {
	const char *kernel;
	const char *initrd;
	const char *cmdline;
	uint64_t mem_size;
	unsigned ncpus;
	enum cli_devices devices;
	enum cli_sandbox sandbox;
	uint64_t vcpu_spin_ns;	/* --spin-us */
	uint64_t dev_spin_ns;	/* --device-spin-us */
	uint64_t dev_timeout_ns;	/* --device-timeout-ms */
	unsigned dev_restart;		/* --device-restart */
	bool dev_restart_violations;	/* --device-restart-violations */
	struct machine_opts machine;	/* --disk, --console */
	const char *record_traps;	/* --record-traps FILE, or NULL */
	bool verbose;
	bool help;		/* --help: print usage, exit 0 */
	bool version;
	const char *api_socket;		/* --api-socket PATH, or NULL */
	const char *print_profile;	/* --print-profile main|vcpu: print it, exit 0 */
};

/*
 * Parse argv into *o, applying defaults. host_mem is the host's RAM (0:
 * unknown) and max_cpus the most vCPUs KVM allows; they bound --mem and
 * --cpus. Returns 0, or -EINVAL after writing one line naming the problem
 * to err. Does not touch the file system.
 */
int cli_parse(int argc, char **argv, struct cli_opts *o, uint64_t host_mem,
	      unsigned max_cpus, FILE *err) __attribute__((warn_unused_result));

/* Print the usage text (every option) to f. */
void cli_usage(FILE *f);

#endif
