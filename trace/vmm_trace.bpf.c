// SPDX-License-Identifier: GPL-2.0
/*
 * vmm-trace's BPF side (CO-RE; see vmm_trace.c): on KVM's tracepoints,
 * for the one monitor process target_tgid, count every port and MMIO
 * access its vCPUs make, by address, split into those the kernel served
 * (an in-kernel device, or an ioeventfd: the fast path) and those that
 * exited to the monitor, with the time from that exit to the vCPU's next
 * entry; and count VM exits by reason.
 *
 * A vCPU thread's accesses follow one pattern per access:
 *   kvm_pio (out) / kvm_mmio (WRITE, READ_UNSATISFIED) the access, seen first
 *   kvm_userspace_exit (KVM_EXIT_IO / KVM_EXIT_MMIO)  it goes to the monitor
 *   kvm_pio (in) / kvm_mmio (READ)                    the answer, on completion:
 *                                                     not a new access
 *   kvm_entry                                         back in the guest
 * except that KVM traces a port read only on completion (its data is in the
 * record): an IO exit with nothing before it is a read whose port the
 * completion gives.
 * An access with no userspace exit before the next entry was served in the
 * kernel. kvm_mmio READ outside a completion is an in-kernel read;
 * kvm_fast_mmio (VMX's ioeventfd path) an in-kernel write.
 *
 * The tracepoints' records are declared here with only the fields used,
 * preserve_access_index: libbpf relocates them against the running
 * kernel's BTF (the kvm module's), so no vmlinux.h is needed.
 */
#include <linux/bpf.h>
#include <linux/types.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "vmm_trace.h"

struct trace_entry {
	unsigned short type;
} __attribute__((preserve_access_index));

struct trace_event_raw_kvm_exit {
	struct trace_entry ent;
	unsigned int exit_reason;
} __attribute__((preserve_access_index));

struct trace_event_raw_kvm_pio {
	struct trace_entry ent;
	unsigned int rw;
	unsigned int port;
	unsigned int size;
	unsigned int count;
} __attribute__((preserve_access_index));

struct trace_event_raw_kvm_mmio {
	struct trace_entry ent;
	__u32 type;
	__u32 len;
	__u64 gpa;
} __attribute__((preserve_access_index));

struct trace_event_raw_kvm_fast_mmio {
	struct trace_entry ent;
	__u64 gpa;
} __attribute__((preserve_access_index));

struct trace_event_raw_kvm_userspace_exit {
	struct trace_entry ent;
	__u32 reason;
} __attribute__((preserve_access_index));

#define KVM_TRACE_MMIO_READ_UNSATISFIED 0
#define KVM_TRACE_MMIO_READ 1
#define KVM_TRACE_MMIO_WRITE 2
#define KVM_EXIT_IO 2
#define KVM_EXIT_MMIO 6

const volatile __u32 target_tgid = 0;

/* Per address. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TRACE_MAX_ADDRS);
	__type(key, struct trace_key);
	__type(value, struct trace_stats);
} stats SEC(".maps");

/* VM exits by reason (the hardware's code); key TRACE_USER_EXITS + r: exits to the monitor by KVM_EXIT_r. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} exits SEC(".maps");

/*
 * VCPU_IN_USER_IN: a KVM_EXIT_IO with no access traced before it, which is
 * a port read (KVM traces an IN only once its data is there, on
 * completion): the completion names the port.
 */
enum { VCPU_IDLE, VCPU_ACCESS, VCPU_IN_USER, VCPU_IN_USER_IN };

/* Per vCPU thread: the access in flight. */
struct vcpu_state {
	__u32 state;
	__u32 write;
	struct trace_key key;
	__u64 exit_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct vcpu_state);
} vcpus SEC(".maps");

static __always_inline bool mine(__u32 *tid)
{
	__u64 id = bpf_get_current_pid_tgid();

	*tid = (__u32)id;
	return (id >> 32) == target_tgid;
}

static __always_inline struct trace_stats *stats_of(const struct trace_key *k)
{
	struct trace_stats *s = bpf_map_lookup_elem(&stats, k);

	if (s)
		return s;
	struct trace_stats zero = {};

	bpf_map_update_elem(&stats, k, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&stats, k);
}

static __always_inline void count(__u32 key)
{
	__u64 *n = bpf_map_lookup_elem(&exits, &key), one = 1;

	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&exits, &key, &one, BPF_NOEXIST);
}

static __always_inline void kernel_served(const struct trace_key *k, bool write)
{
	struct trace_stats *s = stats_of(k);

	if (!s)
		return;
	if (write)
		__sync_fetch_and_add(&s->kernel_writes, 1);
	else
		__sync_fetch_and_add(&s->kernel_reads, 1);
}

/* A new access on this vCPU: settle the one before it (served in the kernel). */
static __always_inline void access_begin(__u32 tid, __u32 bus, __u64 addr, bool write)
{
	struct vcpu_state *v = bpf_map_lookup_elem(&vcpus, &tid);
	struct vcpu_state fresh = { .state = VCPU_ACCESS, .write = write,
				    .key = { .bus = bus, .addr = addr } };

	if (v && v->state == VCPU_IN_USER && !write && !v->write && v->key.bus == bus &&
	    v->key.addr == addr)
		return;	/* the monitor's answer being completed, not a new access */
	if (v && v->state == VCPU_IN_USER_IN && !write && bus == TRACE_BUS_PIO) {
		struct trace_stats *s;

		/* The port read that went to the monitor, completed: now we know the port. */
		v->key.bus = bus;
		v->key.addr = addr;
		v->write = 0;
		v->state = VCPU_IN_USER;
		s = stats_of(&v->key);
		if (s)
			__sync_fetch_and_add(&s->user_reads, 1);
		return;
	}
	if (v && v->state == VCPU_ACCESS)
		kernel_served(&v->key, v->write);
	bpf_map_update_elem(&vcpus, &tid, &fresh, BPF_ANY);
}

/* log2 of ns, bounded: the histogram bucket. */
static __always_inline __u32 bucket(__u64 ns)
{
	__u32 b = 0;

	if (ns >> 32) { ns >>= 32; b += 32; }
	if (ns >> 16) { ns >>= 16; b += 16; }
	if (ns >> 8) { ns >>= 8; b += 8; }
	if (ns >> 4) { ns >>= 4; b += 4; }
	if (ns >> 2) { ns >>= 2; b += 2; }
	if (ns >> 1) { b += 1; }
	return b < TRACE_LAT_BUCKETS ? b : TRACE_LAT_BUCKETS - 1;
}

SEC("tracepoint/kvm/kvm_exit")
int on_exit(struct trace_event_raw_kvm_exit *ctx)
{
	__u32 tid;

	if (mine(&tid))
		count(BPF_CORE_READ(ctx, exit_reason) & 0xffff);
	return 0;
}

SEC("tracepoint/kvm/kvm_pio")
int on_pio(struct trace_event_raw_kvm_pio *ctx)
{
	__u32 tid;

	if (mine(&tid))
		access_begin(tid, TRACE_BUS_PIO, BPF_CORE_READ(ctx, port),
			     BPF_CORE_READ(ctx, rw) != 0);
	return 0;
}

SEC("tracepoint/kvm/kvm_mmio")
int on_mmio(struct trace_event_raw_kvm_mmio *ctx)
{
	__u32 tid, type;
	__u64 gpa;

	if (!mine(&tid))
		return 0;
	type = BPF_CORE_READ(ctx, type);
	gpa = BPF_CORE_READ(ctx, gpa);
	if (type == KVM_TRACE_MMIO_READ) {
		struct vcpu_state *v = bpf_map_lookup_elem(&vcpus, &tid);
		struct trace_key k = { .bus = TRACE_BUS_MMIO, .addr = gpa };

		/* The completion of a read the monitor answered, or an in-kernel read. */
		if (!(v && v->state == VCPU_IN_USER && !v->write && v->key.addr == gpa))
			kernel_served(&k, false);
		return 0;
	}
	access_begin(tid, TRACE_BUS_MMIO, gpa, type == KVM_TRACE_MMIO_WRITE);
	return 0;
}

SEC("tracepoint/kvm/kvm_fast_mmio")
int on_fast_mmio(struct trace_event_raw_kvm_fast_mmio *ctx)
{
	__u32 tid;
	struct trace_key k = { .bus = TRACE_BUS_MMIO };

	if (!mine(&tid))
		return 0;
	k.addr = BPF_CORE_READ(ctx, gpa);
	kernel_served(&k, true);
	return 0;
}

SEC("tracepoint/kvm/kvm_userspace_exit")
int on_userspace_exit(struct trace_event_raw_kvm_userspace_exit *ctx)
{
	__u32 tid, reason;
	struct vcpu_state *v;

	if (!mine(&tid))
		return 0;
	reason = BPF_CORE_READ(ctx, reason);
	count(TRACE_USER_EXITS + (reason & 0xff));
	v = bpf_map_lookup_elem(&vcpus, &tid);
	if (reason == KVM_EXIT_IO && (!v || v->state != VCPU_ACCESS)) {
		struct vcpu_state in = { .state = VCPU_IN_USER_IN, .exit_ns = bpf_ktime_get_ns() };

		bpf_map_update_elem(&vcpus, &tid, &in, BPF_ANY);
		return 0;
	}
	if (!v || v->state != VCPU_ACCESS || (reason != KVM_EXIT_IO && reason != KVM_EXIT_MMIO))
		return 0;
	struct trace_stats *s = stats_of(&v->key);

	if (s) {
		if (v->write)
			__sync_fetch_and_add(&s->user_writes, 1);
		else
			__sync_fetch_and_add(&s->user_reads, 1);
	}
	v->state = VCPU_IN_USER;
	v->exit_ns = bpf_ktime_get_ns();
	return 0;
}

SEC("tracepoint/kvm/kvm_entry")
int on_entry(void *ctx)
{
	__u32 tid;
	struct vcpu_state *v;

	if (!mine(&tid))
		return 0;
	v = bpf_map_lookup_elem(&vcpus, &tid);
	if (!v)
		return 0;
	if (v->state == VCPU_ACCESS) {
		kernel_served(&v->key, v->write);
	} else if (v->state == VCPU_IN_USER) {	/* (IN_USER_IN: no completion seen; dropped) */
		struct trace_stats *s = stats_of(&v->key);
		__u64 ns = bpf_ktime_get_ns() - v->exit_ns;

		if (s) {
			__u32 b = bucket(ns);

			__sync_fetch_and_add(&s->lat_ns, ns);
			if (b < TRACE_LAT_BUCKETS)
				__sync_fetch_and_add(&s->lat[b], 1);
		}
	}
	v->state = VCPU_IDLE;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
