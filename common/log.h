/*
 * One logging family for every process: "PROGRAM: message", or
 * "PROGRAM[prefix]: message" for a line about one device (prefix: its id).
 * The command-line errors every main prints itself start with the same
 * "PROGRAM: ".
 */
#ifndef VMM_COMMON_LOG_H
#define VMM_COMMON_LOG_H

#include <stdarg.h>

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

#define log_err(...)   vmm_log(LOG_ERR, NULL, __VA_ARGS__)
#define log_warn(...)  vmm_log(LOG_WARN, NULL, __VA_ARGS__)
#define log_info(...)  vmm_log(LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(...) vmm_log(LOG_DEBUG, NULL, __VA_ARGS__)

#endif
