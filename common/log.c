#include "log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

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
