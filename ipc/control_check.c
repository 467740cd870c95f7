/*
 * The control channel's content checks, one per direction (contracts in
 * control.h): what the monitor accepts from a device process and what a
 * device process accepts from the monitor. Each *_problem returns NULL when
 * fine, else a short static reason.
 */
#include "control_int.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "log.h"
#include "ring.h"
#include "state.h"

#define PIO_SPACE 0x10000ull

/* s has min..max bytes, all printable (tab too if tab). */
static bool text_ok(const char *s, size_t min, size_t max, bool tab)
{
	size_t n;

	if (!s)
		return false;
	n = strnlen(s, max + 1);
	if (n < min || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!control_printable((unsigned char)s[i], tab))
			return false;
	return true;
}

static bool class_ok(const char *s)
{
	size_t n;

	if (!s)
		return false;
	n = strnlen(s, CONTROL_MAX_CLASS + 1);
	if (n < 1 || n > CONTROL_MAX_CLASS)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

/* [start, start + size) is non-empty and its end fits in 64 bits. */
static bool range_ok(uint64_t start, uint64_t size)
{
	return size > 0 && size <= UINT64_MAX - start;
}

static const char *region_problem(const Region *r)
{
	if (!r)
		return "region missing";
	if (r->bus != TRAP_PIO && r->bus != TRAP_MMIO)
		return "region bus unknown";
	if (!range_ok(r->addr, r->size))
		return "region empty or wrapping";
	if (r->bus == TRAP_PIO && (r->addr >= PIO_SPACE || r->size > PIO_SPACE - r->addr))
		return "PIO region beyond port 0xffff";
	return NULL;
}

static const char *spec_problem(const DeviceSpec *spec)
{
	const char *bad;

	if (!spec)
		return "no spec";
	if (!class_ok(spec->klass))
		return "bad class name";
	if (spec->n_regions > DEVICE_MAX_REGIONS || (spec->n_regions && !spec->regions))
		return "too many regions";
	for (size_t i = 0; i < spec->n_regions; i++)
		if ((bad = region_problem(spec->regions[i])))
			return bad;
	if (spec->n_irqs > DEVICE_MAX_IRQS || (spec->n_irqs && !spec->irqs))
		return "too many irqs";
	if (spec->n_params > DEVICE_MAX_PARAMS || (spec->n_params && !spec->params))
		return "too many params";
	for (size_t i = 0; i < spec->n_params; i++)
		if (!spec->params[i])
			return "param missing";
	return NULL;
}

static bool ranges_overlap(const MemRange *a, const MemRange *b)
{
	/* range_ok held for both, so the ends do not wrap. */
	return a->gpa < b->gpa + b->size && b->gpa < a->gpa + a->size;
}

static const char *mem_problem(const Setup *s)
{
	if (s->n_mem < 1 || s->n_mem > CONTROL_MAX_MEM || !s->mem)
		return "memory range count not 1..4";
	for (size_t i = 0; i < s->n_mem; i++) {
		const MemRange *r = s->mem[i];

		if (!r)
			return "memory range missing";
		if (!range_ok(r->gpa, r->size))
			return "memory range empty or wrapping";
		if (r->fd_offset > s->mem_total || r->size > s->mem_total - r->fd_offset)
			return "memory range beyond mem_total";
		for (size_t j = 0; j < i; j++)
			if (ranges_overlap(r, s->mem[j]))
				return "memory ranges overlap";
	}
	return NULL;
}

static const char *setup_problem(const Setup *s, unsigned nfds)
{
	const char *bad;

	if ((bad = spec_problem(s->spec)) || (bad = mem_problem(s)))
		return bad;
	if (s->nvcpus < 1 || s->nvcpus > RING_MAX_VCPUS)
		return "vCPU count out of range";
	if (s->ring_size < ring_shm_size(s->nvcpus))
		return "ring memory too small";
	if (s->state_size < state_region_size())
		return "state region too small";
	if (s->spin_ns > CONTROL_MAX_SPIN_NS)
		return "spin time over 10 s";
	if (!text_ok(s->vm_name, 0, CONTROL_MAX_NAME, false))
		return "bad VM name";
	if (s->n_backend_fds > DEVICE_MAX_FDS)
		return "too many backend fds";
	if (s->n_queue_fds > DEVICE_MAX_QUEUES)
		return "too many queue fds";
	if (s->has_sandbox && s->sandbox > CONTROL_MAX_SANDBOX)
		return "unknown sandbox mode";
	if (s->intx_line < -1 || s->intx_line >= (int32_t)s->spec->n_irqs)
		return "INTx line out of range";
	/* Every term is bounded above, so the sum cannot overflow. */
	if (nfds != CONTROL_FD_FIXED + s->spec->n_irqs + s->n_queue_fds + (s->intx_line >= 0) +
		    s->n_backend_fds)
		return "fd count does not match the setup";
	return NULL;
}

static const char *device_msg_problem(const ControlMsg *m, unsigned nfds)
{
	if (!control_has_body(m))
		return "no message body";
	if (nfds)
		return "fds attached to a device message";
	switch (m->body_case) {
	case CONTROL_MSG__BODY_READY:
		if (m->ready->info && !text_ok(m->ready->info, 0, CONTROL_MAX_LOG, false))
			return "bad ready info";
		return NULL;
	case CONTROL_MSG__BODY_EVENT:
		if (m->event->type < EVENT_MIN || m->event->type > EVENT_MAX)
			return "unknown event type";
		return NULL;
	case CONTROL_MSG__BODY_LOG:
		if (m->log->level > LOG_DEBUG)
			return "unknown log level";
		if (!text_ok(m->log->text, 0, CONTROL_MAX_LOG, true))
			return "log text too long or not printable";
		return NULL;
	case CONTROL_MSG__BODY_STATS:
		return NULL;
	case CONTROL_MSG__BODY_VIOLATION:
		if (m->violation->nr > CONTROL_MAX_SYSCALL_NR)
			return "violation: syscall number out of range";
		return NULL;
	default:
		return "not a message a device sends";
	}
}

static const char *monitor_msg_problem(const ControlMsg *m, unsigned nfds)
{
	if (!control_has_body(m))
		return "no message body";
	switch (m->body_case) {
	case CONTROL_MSG__BODY_SETUP:
		return setup_problem(m->setup, nfds);
	case CONTROL_MSG__BODY_STATS_REQUEST:
	case CONTROL_MSG__BODY_SHUTDOWN:
		return nfds ? "fds attached to a message without fds" : NULL;
	case CONTROL_MSG__BODY_INPUT:
		if (nfds)
			return "fds attached to a message without fds";
		return m->input->what < 1 || m->input->what > DEV_INPUT_MAX ? "unknown input" : NULL;
	default:
		return "not a message the monitor sends";
	}
}

static int verdict(const char *bad, const char **why)
{
	if (why)
		*why = bad ? bad : "ok";
	return bad ? -EBADMSG : 0;
}

int control_check_from_device(const ControlMsg *m, unsigned nfds, const char **why)
{
	return verdict(device_msg_problem(m, nfds), why);
}

int control_check_from_monitor(const ControlMsg *m, unsigned nfds, const char **why)
{
	return verdict(monitor_msg_problem(m, nfds), why);
}
