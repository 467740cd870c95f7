/* Inside sandbox/: what sandbox.c's steps share with isolate.c and seccomp.c. */
#ifndef VMM_SANDBOX_INT_H
#define VMM_SANDBOX_INT_H

#include <linux/filter.h>
#include <seccomp.h>

#include "sandbox.h"

struct sb_filter {
	scmp_filter_ctx ctx;		/* strict: loaded by libseccomp */
	struct sock_filter *prog;	/* log: the same program behind a prefix */
	unsigned short len;
};

/*
 * Say why a step failed in res->detail (": strerror" appended when err is
 * set) and return err, or -EPERM when err is 0.
 */
int sb_fail(struct sandbox_result *res, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The isolating steps (isolate.c), in sandbox_enter's order. */
int step_namespaces(const struct sandbox_config *cfg, struct sandbox_result *res);
int step_pivot_root(const struct sandbox_config *cfg, struct sandbox_result *res);
int step_landlock(const struct sandbox_config *cfg, struct sandbox_result *res);

/*
 * Every class's profile, in the order of device_classes (devices/meson.build),
 * which makes this table (profile_table.c).
 */
extern const struct sandbox_profile *const sb_profile_table[];
extern const unsigned sb_profile_count;

/* A profile's rules, base first unless no_base: how many, rule i, and its bound. */
unsigned sb_profile_nrules(const struct sandbox_profile *p);
const struct sandbox_rule *sb_profile_rule(const struct sandbox_profile *p, unsigned i);
unsigned sb_profile_max(const struct sandbox_profile *p);

/* Syscalls that strict mode kills outright, without the trap handler. */
extern const char *const sb_kill_list[];
extern const unsigned sb_kill_count;

/* Build the class's filter for cfg->mode (no syscall is made but memfd for log). */
int sb_filter_build(const struct sandbox_config *cfg, struct sb_filter *f,
		    struct sandbox_result *res) __attribute__((warn_unused_result));

/* Install the SIGSYS handler, then the filter: the last step. */
int sb_filter_load(const struct sandbox_config *cfg, struct sb_filter *f,
		   struct sandbox_result *res) __attribute__((warn_unused_result));

void sb_filter_free(struct sb_filter *f);

#endif
