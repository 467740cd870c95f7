/* Inside sandbox/: the seccomp half (seccomp.c) as sandbox.c drives it. */
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
