/*
 * What vmm_trace.bpf.c and vmm_trace.c share: the maps' keys and values.
 * Plain fixed-size types only (the BPF side has no libc).
 */
#ifndef VMM_TRACE_H
#define VMM_TRACE_H

#define TRACE_MAX_ADDRS 4096	/* distinct port and MMIO addresses counted */
#define TRACE_LAT_BUCKETS 32	/* log2(ns) of exit-to-entry: 1 ns .. 2 s and more */
#define TRACE_USER_EXITS 0x10000	/* exits map: this + KVM_EXIT_*: exits to the monitor */

enum { TRACE_BUS_PIO = 0, TRACE_BUS_MMIO = 1 };	/* as enum trap_bus */

struct trace_key {
	__u32 bus;
	__u32 pad;
	__u64 addr;
};

struct trace_stats {
	__u64 kernel_reads;	/* served in the kernel: an in-kernel device */
	__u64 kernel_writes;	/* ... or an ioeventfd (the virtio fast path) */
	__u64 user_reads;	/* exited to the monitor */
	__u64 user_writes;
	__u64 lat_ns;		/* sum of exit-to-entry times of those exits */
	__u64 lat[TRACE_LAT_BUCKETS];	/* and their log2(ns) histogram */
};

#endif
