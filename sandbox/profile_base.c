/*
 * The base every device-class profile extends: what vmm-devproc's event
 * loop (devproc/loop.c), its device host (devproc/host.c) and the control
 * channel (ipc/control.c) need once the device is created. Nothing here
 * opens, creates or duplicates a file descriptor, maps executable memory or
 * starts a process.
 */
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>

#include "sandbox.h"

/* The control socket is always fd 3 (devproc/main.c moves it there). */
#define CONTROL_FD 3

const struct sandbox_rule sandbox_base_rules[] = {
	SB_ANY("read", "drain the doorbell eventfd; read a backend fd the device polls"),
	SB_ANY("write", "pulse an irqfd; a backend's output; stderr once the control socket is gone"),
	SB_IF("recvmsg", "control messages from the monitor (StatsRequest, Shutdown)", 2,
	      SB_EQ(0, CONTROL_FD, "fd == 3 (control socket)"),
	      SB_EQ(2, MSG_CMSG_CLOEXEC, "flags == MSG_CMSG_CLOEXEC")),
	SB_IF("sendmsg", "control messages to the monitor (Ready, Event, Log, Stats, Violation)", 2,
	      SB_EQ(0, CONTROL_FD, "fd == 3 (control socket)"),
	      SB_EQ(2, MSG_NOSIGNAL, "flags == MSG_NOSIGNAL")),
	SB_IF(SB_SYS_POLL, "control_recv tells end-of-file from an empty packet", 1,
	      SB_EQ(2, 0, "timeout == 0")),
	SB_ANY(SB_SYS_EPOLL_WAIT, "the loop's one sleep: doorbell, control socket, backend fds"),
	SB_ANY("epoll_ctl", "add and remove backend fds as the device's poll_mask changes"),
	SB_IF("futex", "wake a vCPU sleeping on its completion word (shared memory)", 1,
	      SB_EQ(1, FUTEX_WAKE, "op == FUTEX_WAKE")),
	SB_IF("clock_gettime", "spin budgets; only if the vDSO falls back to the syscall", 1,
	      SB_EQ(0, CLOCK_MONOTONIC, "clock == CLOCK_MONOTONIC")),
	SB_IF("mmap", "malloc (protobuf-c unpacks control messages on the heap)", 2,
	      SB_MASKED(2, PROT_EXEC, 0, "prot without PROT_EXEC"),
	      SB_MASKED(3, MAP_ANONYMOUS, MAP_ANONYMOUS, "flags with MAP_ANONYMOUS (no file)")),
	SB_ANY("munmap", "free; unmapping guest RAM and the rings at shutdown"),
	SB_ANY("brk", "malloc's main heap"),
	SB_ANY("close", "fds that came with a control message the device refuses"),
	SB_ANY("rt_sigreturn", "return from the SIGSYS handler (--sandbox log)"),
	SB_ANY("exit_group", "leave: Shutdown, a broken channel, or after a violation report"),
};

const unsigned sandbox_base_nrules = sizeof(sandbox_base_rules) / sizeof(sandbox_base_rules[0]);
