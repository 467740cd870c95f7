#include "log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "util.h"

static _Atomic int log_level = LOG_INFO;
static const char *log_program = "vmm";

void log_set_program(const char *name)
{
	log_program = name;
}

void log_set_level(enum log_level lvl)
{
	atomic_store(&log_level, lvl);
}

void vmm_vlog(enum log_level lvl, const char *prefix, const char *fmt, va_list ap)
{
	char buf[1024];
	int n;

	if ((int)lvl > atomic_load(&log_level))
		return;
	n = prefix ? snprintf(buf, sizeof(buf), "%s[%s]: ", log_program, prefix)
		   : snprintf(buf, sizeof(buf), "%s: ", log_program);
	if (n < 0)
		return;
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	if (n >= (int)sizeof(buf))
		n = sizeof(buf) - 1;
	buf[n++] = '\n';
	/* One write so that lines from several threads do not interleave. */
	if (write(STDERR_FILENO, buf, (size_t)n) < 0)
		return;
}

void vmm_log(enum log_level lvl, const char *prefix, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmm_vlog(lvl, prefix, fmt, ap);
	va_end(ap);
}

static pthread_mutex_t budget_lock = PTHREAD_MUTEX_INITIALIZER;	/* every budget: rare */

unsigned log_budget_flush(struct log_budget *b)
{
	unsigned n;

	pthread_mutex_lock(&budget_lock);
	n = b->dropped;
	b->dropped = 0;
	pthread_mutex_unlock(&budget_lock);
	return n;
}

bool log_budget_take(struct log_budget *b, unsigned per_sec, unsigned *dropped)
{
	uint64_t now = now_ns();
	bool ok;

	pthread_mutex_lock(&budget_lock);
	*dropped = 0;
	if (now - b->window_ns >= 1000000000ull) {
		*dropped = b->dropped;
		b->window_ns = now;
		b->used = b->dropped = 0;
	}
	ok = b->used < per_sec;
	if (ok)
		b->used++;
	else
		b->dropped++;
	pthread_mutex_unlock(&budget_lock);
	return ok;
}
