/*
 * One logging family for every process: "PROGRAM: message", or
 * "PROGRAM[prefix]: message" for a line about one device (prefix: its id).
 * The command-line errors every main prints itself start with the same
 * "PROGRAM: ".
 */
#ifndef VMM_COMMON_LOG_H
#define VMM_COMMON_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/*
 * Write one line to stderr as "PROGRAM[prefix]: message\n", or without
 * "[prefix]" when prefix is NULL.
 * Lines above the current level (log_set_level) are dropped. Never fails
 * visibly: a short write to stderr is ignored. Thread-safe (one write(2)).
 */
void vmm_log(enum log_level lvl, const char *prefix, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void vmm_vlog(enum log_level lvl, const char *prefix, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* Set the most verbose level that is printed (default LOG_INFO). */
void log_set_level(enum log_level lvl);

/* Set PROGRAM ("vmm-monitor"; default "vmm"). Call once, before any thread starts. */
void log_set_program(const char *name);

/*
 * A budget of log lines per second for one source the user does not
 * control (a device, a guest's register writes). Zero-initialised; safe
 * from any thread.
 */
struct log_budget {
	uint64_t window_ns;	/* start of the current second */
	unsigned used;		/* lines taken in it */
	unsigned dropped;	/* lines refused in it */
};

/*
 * Whether one more line may be written now: at most per_sec a second.
 * *dropped gets how many lines the previous second refused when this call
 * begins a new second (say so first), else 0.
 */
bool log_budget_take(struct log_budget *b, unsigned per_sec, unsigned *dropped);

/* The lines refused in the current second, not yet said; the count restarts. */
unsigned log_budget_flush(struct log_budget *b);

#define log_err(...)   vmm_log(LOG_ERR, NULL, __VA_ARGS__)
#define log_warn(...)  vmm_log(LOG_WARN, NULL, __VA_ARGS__)
#define log_info(...)  vmm_log(LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(...) vmm_log(LOG_DEBUG, NULL, __VA_ARGS__)

#endif
