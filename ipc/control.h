/*
 * The control channel between the monitor and one device process: protobuf-c
 * ControlMsg messages (ipc/control.proto) over a SOCK_SEQPACKET socket, one
 * message per packet, file descriptors attached by SCM_RIGHTS. Everything
 * received is untrusted: control_recv unpacks and checks structure, and the
 * per-direction checks below check content, before anyone uses a field.
 */
#ifndef VMM_IPC_CONTROL_H
#define VMM_IPC_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control.pb-c.h"
#include "device_abi.h"

#define CONTROL_MAX_MSG   16384		/* bytes of one packed message */
#define CONTROL_MAX_FDS   32		/* fds attached to one message (a Setup: see control.c) */
#define CONTROL_MAX_LOG   512		/* bytes of one Log text (and Ready.info) */

/* Limits of a Setup (see control_check_from_monitor). */
#define CONTROL_MAX_CLASS   31		/* bytes of spec.klass */
#define CONTROL_MAX_MEM     4		/* Setup.mem ranges */
#define CONTROL_MAX_NAME    64		/* bytes of Setup.vm_name */
#define CONTROL_MAX_SPIN_NS 10000000000ull	/* Setup.spin_ns: 10 s */
#define CONTROL_MAX_SANDBOX 2		/* Setup.sandbox: enum sandbox_mode */
#define CONTROL_MAX_SYSCALL_NR 1023	/* Violation.nr */

/*
 * Fixed order of the fds attached to Setup. After these come one irqfd per
 * spec irq (spec.n_irqs of them), then Setup.n_backend_fds backend fds.
 */
enum control_setup_fd {
	CONTROL_FD_GUEST_MEM = 0,	/* guest RAM memfd */
	CONTROL_FD_RING,		/* ring memfd (ipc/ring.h) */
	CONTROL_FD_DOORBELL,		/* eventfd the vCPUs ring */
	CONTROL_FD_STATE,		/* state region memfd (ipc/state.h) */
	CONTROL_FD_FIXED		/* count of the fixed ones */
};

/*
 * Pack m and send it as one packet with nfds fds attached (the caller keeps
 * its fds; the peer gets duplicates). Returns 0, or -EMSGSIZE if it packs
 * to more than CONTROL_MAX_MSG, -EINVAL if nfds > CONTROL_MAX_FDS or m is
 * not a sendable message (no body, a required field missing), or -errno
 * from sendmsg (-EPIPE: the peer is gone, also when sendmsg said
 * ECONNRESET because it died with packets unread; -EAGAIN on a full
 * non-blocking socket). Never raises SIGPIPE. Content is not checked: see the
 * per-direction checks below.
 */
int control_send(int sock, const ControlMsg *m, const int *fds, unsigned nfds)
	__attribute__((warn_unused_result));

/*
 * Receive one packet, unpack it into *m (free with control_msg_free) and
 * take its fds into fds[] (*nfds of them, at most max_fds; the caller owns
 * them). Checks structure: the packet was not truncated, unpacks, has
 * exactly one body set. On any error no message is returned and every fd
 * that arrived is closed. Returns 0; -ECONNRESET when the peer closed the
 * socket; -EBADMSG for a malformed packet; -E2BIG for too many fds;
 * -EAGAIN if nothing is waiting on a non-blocking socket; other -errno.
 * fds must have room for max_fds entries (it may be NULL if max_fds is 0);
 * max_fds above CONTROL_MAX_FDS counts as CONTROL_MAX_FDS. Received fds
 * are close-on-exec.
 *
 * Malformed includes: more than CONTROL_MAX_MSG bytes, bytes that do not
 * unpack, no body or an unknown one, and bytes that are not exactly the
 * canonical (protobuf-c) encoding of what they unpack to - which catches a
 * NUL hidden inside a string field, duplicated fields and padding.
 *
 * A 0-byte packet cannot be told from end-of-file by recvmsg alone: on a
 * 0-byte read control_recv polls the socket once (poll(2), no wait) and
 * returns -ECONNRESET if the peer has shut down or closed, else -EBADMSG
 * (an empty packet from a live peer).
 */
int control_recv(int sock, ControlMsg **m, int *fds, unsigned *nfds, unsigned max_fds)
	__attribute__((warn_unused_result));

/* Free a message returned by control_recv. NULL is a no-op. */
void control_msg_free(ControlMsg *m);

/*
 * Send a message with an empty body and no fds: body is
 * CONTROL_MSG__BODY_READY (no info), _STATS_REQUEST or _SHUTDOWN. Returns
 * what control_send returns, or -EINVAL for any other body.
 */
int control_send_simple(int sock, ControlMsg__BodyCase body)
	__attribute__((warn_unused_result));

/* Monitor side: an outside event for the device (enum device_input). 0 or -errno. */
int control_send_input(int sock, unsigned what) __attribute__((warn_unused_result));

/*
 * Device side: post event `type` (an enum device_event) to the monitor.
 * Returns what control_send returns, or -EINVAL for an unknown type (the
 * monitor would refuse it).
 */
int control_send_event(int sock, unsigned type)
	__attribute__((warn_unused_result));

/*
 * Device side: send one log line at `level` (enum log_level). The text is
 * made acceptable to control_check_from_device first, never refused: it is
 * cut at CONTROL_MAX_LOG bytes and every byte that is not printable ASCII
 * or tab becomes '?', so guest data quoted in a log line cannot get the
 * device judged as misbehaving. Returns what control_send returns, or
 * -EINVAL if level is not 0..3 or text is NULL.
 */
int control_send_log(int sock, int level, const char *text)
	__attribute__((warn_unused_result));

/*
 * Device side: report a syscall outside the sandbox profile (Violation).
 * Called from a SIGSYS handler: packs on the stack, no allocation, one
 * sendmsg. Returns what control_send returns.
 */
int control_send_violation(int sock, uint32_t nr, uint32_t arch, bool allowed)
	__attribute__((warn_unused_result));

/* What a device reports about itself (Stats in control.proto). */
struct control_stats {
	uint64_t traps, sleeps, notifies;
	uint64_t spins_paid, spins_wasted, spins_preempted, spin_budget_ns;
};

/*
 * Device side: answer a StatsRequest, or say it once more before exiting.
 * Returns what control_send returns.
 */
int control_send_stats(int sock, const struct control_stats *cs)
	__attribute__((warn_unused_result));

/*
 * Content checks, by direction. From a device the monitor accepts only
 * Ready, Event (a known enum device_event), Log (level 0..3, text at most
 * CONTROL_MAX_LOG bytes, printable), Stats and Violation (nr at most
 * CONTROL_MAX_SYSCALL_NR; arch is the device's word), none with fds. From the
 * monitor a device accepts Setup (consistent spec: class name of
 * [a-z0-9_-]{1,31}, at most DEVICE_MAX_REGIONS regions each of size > 0
 * not wrapping, bus 0/1, at most DEVICE_MAX_IRQS irqs (common/device_abi.h);
 * 1..4 memory ranges, non-overlapping, not wrapping, inside mem_total; 1..RING_MAX_VCPUS vCPUs; exactly CONTROL_FD_FIXED +
 * n_irqs + n_queue_fds + n_backend_fds fds, at most CONTROL_MAX_FDS), StatsRequest and
 * Shutdown (no fds). Return 0 or -EBADMSG; `why` (if not NULL) receives a
 * short static reason.
 *
 * In detail: "printable" is ASCII 0x20..0x7e (Log text also allows tab), so
 * no terminal escape, no C1 control and no UTF-8 reaches a log. Ready.info,
 * if present, is printable and at most CONTROL_MAX_LOG bytes. "Not
 * wrapping" means start + size fits in 64 bits, so users may compute the
 * end; a PIO region also ends at or below 0x10000. Setup further needs
 * n_backend_fds <= DEVICE_MAX_FDS, mem_total >= fd_offset + size of
 * every range, ring_size >= ring_shm_size(nvcpus), spin_ns <=
 * CONTROL_MAX_SPIN_NS, a printable vm_name of at most CONTROL_MAX_NAME
 * bytes and, if present, sandbox <= CONTROL_MAX_SANDBOX. What these checks cannot see - that the memfds really are
 * mem_total and ring_size bytes long - the device checks with fstat.
 */
int control_check_from_device(const ControlMsg *m, unsigned nfds, const char **why)
	__attribute__((warn_unused_result));
int control_check_from_monitor(const ControlMsg *m, unsigned nfds, const char **why)
	__attribute__((warn_unused_result));

/* A device spec's wire form, and the storage it points into. */
struct control_wire_spec {
	DeviceSpec spec;
	Region regions[DEVICE_MAX_REGIONS];
	Region *region_ptrs[DEVICE_MAX_REGIONS];
	uint32_t irqs[DEVICE_MAX_IRQS];
	char *params[DEVICE_MAX_PARAMS];
};

/*
 * Fill w with the wire form of s. w points into itself and borrows s's
 * strings: both must outlive its use (control_send packs it).
 */
void control_spec_to_wire(const struct device_spec *s, struct control_wire_spec *w);

/*
 * s from a wire spec that control_check_from_monitor accepted (counts
 * within the DEVICE_MAX_* limits); s borrows w's strings.
 */
void control_spec_from_wire(const DeviceSpec *w, struct device_spec *s);

#endif
