/* The device_host a device sees inside vmm-devproc. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "devproc.h"
#include "log.h"
#include "util.h"

#define LOG_LINES_PER_SEC 50

static struct devproc *host_dp(struct device_host *h)
{
	return h->opaque;
}

static void *dp_mem_ptr(struct device_host *h, uint64_t gpa, uint64_t len)
{
	return gmem_ptr(&host_dp(h)->mem, gpa, len);
}

/*
 * Lines are irqfds: a write pulses the GSI, which is an edge for the
 * edge-triggered ISA pins and MSI vectors; deasserting needs no action.
 * The INTx line is level-triggered: its irqfd asserts the GSI until the
 * guest's EOI, then KVM signals the resample fd and devproc_intx_resample
 * asserts it again if the device still holds the line.
 */
static int dp_irq_set(struct device_host *h, unsigned line, int level)
{
	struct devproc *dp = host_dp(h);
	uint64_t one = 1;

	if (line >= dp->nirqs)
		return -EINVAL;
	if ((int)line == dp->intx_line)
		dp->intx_level = level;
	if (!level)
		return 0;
	if (write(dp->irq_fds[line], &one, sizeof(one)) < 0)
		return -errno;
	return 0;
}

void devproc_intx_resample(struct devproc *dp)
{
	uint64_t v, one = 1;

	if (read(dp->intx_resample_fd, &v, sizeof(v)) < 0 || !dp->intx_level)
		return;
	if (write(dp->irq_fds[dp->intx_line], &one, sizeof(one)) < 0)
		vmm_log(LOG_WARN, dp->name, "INTx: cannot assert: %s", strerror(errno));
}

static int dp_event(struct device_host *h, enum device_event ev)
{
	struct devproc *dp = host_dp(h);

	if (ev == DEV_EVENT_RESET || ev == DEV_EVENT_POWEROFF)
		dp->stop_posted = true;	/* the trap's completion says so too */
	return control_send_event(dp->sock, (uint32_t)ev);
}

static void dp_send_log(struct devproc *dp, int lvl, const char *msg)
{
	if (control_send_log(dp->sock, lvl, msg) < 0)
		vmm_log(LOG_ERR, dp->name, "%s", msg);	/* the channel is gone: stderr */
}

/* Log lines go to the monitor, at most LOG_LINES_PER_SEC a second. */
static void dp_log(struct device_host *h, int lvl, const char *id, const char *msg)
{
	struct devproc *dp = host_dp(h);
	unsigned dropped;
	bool ok = log_budget_take(&dp->log_budget, LOG_LINES_PER_SEC, &dropped);

	(void)id;
	if (dropped) {
		char note[64];

		snprintf(note, sizeof(note), "%u log lines dropped (rate limit)", dropped);
		dp_send_log(dp, LOG_WARN, note);
	}
	if (ok)
		dp_send_log(dp, lvl, msg);
}

void devproc_host_init(struct devproc *dp)
{
	dp->host = (struct device_host){ .mem_ptr = dp_mem_ptr, .irq_set = dp_irq_set,
					 .event = dp_event, .log = dp_log, .opaque = dp };
	dp->dev.host = &dp->host;
}
