/*
 * The machine's devices: the PC's fixed ones (which class sits where on
 * the trap bus, which interrupt lines it drives) from one table, plus the
 * virtio-pci functions the command line asks for. One list, read by
 * whichever host runs the devices.
 */
#ifndef VMM_MONITOR_MACHINE_H
#define VMM_MONITOR_MACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "device.h"

#define MACHINE_MAX_DEVS 16
#define MACHINE_MAX_DISKS 8
#define MACHINE_MAX_NICS 4
#define MACHINE_MAX_NIC_QUEUES DEVICE_MAX_FDS	/* a NIC's tap queues are its backend fds */
#define MACHINE_MAX_PARAMS (DEVICE_MAX_PARAMS - 1)	/* one left for vpci's intx= */

struct machine_dev {
	const struct device_class *cls;
	/*
	 * Its class, instance, regions, lines and params (at most
	 * MACHINE_MAX_PARAMS); a virtio class (cls->virtio) gets its regions
	 * and lines from vpci, and every device its RAM size at start.
	 */
	struct device_spec spec;
	unsigned nfds;
	int fds[DEVICE_MAX_FDS];	/* backend fds (owned by the machine) */
};

/* One disk of --disk path=FILE[,readonly=on][,serial=S]. */
struct machine_disk {
	const char *path;
	bool readonly;
	bool direct;		/* O_DIRECT: the host's page cache bypassed */
	const char *aio;	/* "threads", "native"; NULL: the device's default */
	const char *serial;	/* NULL: none */
};

/* One NIC of --net tap=NAME[,mac=MAC][,queues=N]: a virtio-net on an existing tap. */
struct machine_nic {
	const char *tap;	/* the tap's interface name */
	const char *mac;	/* checked by the command line; NULL: the device's default */
	const char *queues;	/* "1".."4" (checked), NULL: one; > 1 needs a multi_queue tap */
};

/* What the command line adds to the fixed devices. */
struct machine_opts {
	unsigned ndisks;
	struct machine_disk disk[MACHINE_MAX_DISKS];
	unsigned nnics;
	struct machine_nic nic[MACHINE_MAX_NICS];
	const char *console_out;	/* --console out=FILE, NULL: no virtio-console */
	const char *console_in;		/* --console in=FILE */
	const char *vsock_cid;		/* --vsock cid=N: "3".."4294967294" (checked) */
	const char *vsock_socket;	/* --vsock socket=PATH, NULL: no virtio-vsock */
};

struct machine {
	unsigned ndevs;
	struct machine_dev dev[MACHINE_MAX_DEVS];
	char param_buf[MACHINE_MAX_DEVS][MACHINE_MAX_PARAMS][64];
	pid_t vsock_broker;	/* --vsock's broker process (monitor/vsock_broker.h), 0: none */
};

/*
 * Build the device list: the PC's fixed devices, then one virtio-blk per
 * disk, one virtio-net per NIC, a virtio-vsock if asked for, a virtio-rng,
 * and a virtio-console if asked for. Opens every disk and console file and
 * attaches every tap (they are the devices' backends; disks are locked
 * against other VMs); for the virtio-vsock, listens at its socket path and
 * forks its broker, whose channel is the device's backend fd. Must be
 * called before any thread exists (it forks). Returns 0, or -errno after
 * one line on stderr naming the file and the problem; on error nothing
 * stays open or running.
 */
int machine_build(struct machine *m, const struct machine_opts *o)
	__attribute__((warn_unused_result));

/* Give the serial port the console's {input, output} fds (borrowed). */
void machine_set_console(struct machine *m, const int console_fds[2]);

/*
 * Close the backend fds machine_build opened, then reap the vsock broker,
 * which exits once every copy of its channel is closed (the device
 * processes must be gone by then, or it is killed after 1 s).
 */
void machine_release(struct machine *m);

/* The spec of one machine device, and the intx= parameter vpci adds to it. */
struct machine_spec {
	struct device_spec spec;
	char intx_param[16];	/* "intx=N" for a virtio-pci function */
};

/*
 * Fill *out (which must not move afterwards: a PCI function's spec points
 * into it) with the spec of md for a guest with mem_size bytes of RAM.
 */
void machine_spec_build(const struct machine_dev *md, uint64_t mem_size,
			struct machine_spec *out);

/*
 * The device's id for logs, ps and reports: class then instance
 * ("serial0"), with a dash when the class ends in a digit ("i8042-0").
 */
void machine_dev_id(const struct machine_dev *md, char *buf, size_t len);

/*
 * Region r of a device as -v and vmm-ctl name it: a virtio function's BAR0
 * regions by their role ("common", "notify", pci true), else "regionN".
 * Written into buf; returns buf.
 */
const char *machine_region_name(bool pci, unsigned r, char *buf, size_t len);

/*
 * Log (at debug level) how many trapped accesses each region of device id
 * served, and how many of them were reads answered from its shadow:
 * "traps: virtio-blk0 notify 0", "traps: serial0 region0 812 (530 reads
 * from its shadow)". pci: name the virtio regions.
 */
void machine_traps_log(const char *id, bool pci, const _Atomic uint64_t *traps,
		       const _Atomic uint64_t *shadowed, unsigned nregions);

/*
 * Point spec's regions at a virtio-pci function's BAR0 (the four regions
 * of devices/virtio_pci.h) and its interrupt lines at the MSI-X vectors'
 * gsis[0..n), then INTA (intx_gsi) as line n, named by the "intx=n" param.
 */
void machine_spec_set_pci(struct machine_spec *ms, uint64_t bar0, const uint32_t *gsis,
			  unsigned n, uint32_t intx_gsi);

#endif
