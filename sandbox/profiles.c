/* What audits and the monitor ask of the profile table (profile_table.c.in). */
#include <errno.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox.h"
#include "sandbox_int.h"

const struct sandbox_profile *const *sandbox_profiles(unsigned *n)
{
	*n = sb_profile_count;
	return sb_profile_table;
}

const struct sandbox_profile *sandbox_profile_find(const char *klass)
{
	for (unsigned i = 0; i < sb_profile_count; i++)
		if (strcmp(sb_profile_table[i]->klass, klass) == 0)
			return sb_profile_table[i];
	return NULL;
}

const char *sandbox_mode_name(enum sandbox_mode m)
{
	switch (m) {
	case SANDBOX_OFF: return "off";
	case SANDBOX_LOG: return "log";
	case SANDBOX_STRICT: return "strict";
	}
	return "?";
}

unsigned sb_profile_nrules(const struct sandbox_profile *p)
{
	return (p->no_base ? 0 : sandbox_base_nrules) + p->nrules;
}

const struct sandbox_rule *sb_profile_rule(const struct sandbox_profile *p, unsigned i)
{
	unsigned nbase = p->no_base ? 0 : sandbox_base_nrules;

	return i < nbase ? &sandbox_base_rules[i] : &p->rules[i - nbase];
}

unsigned sb_profile_max(const struct sandbox_profile *p)
{
	return p->max_syscalls ? p->max_syscalls : SANDBOX_MAX_SYSCALLS;
}

/* Has a rule before rule i (base first, then the class) named the same syscall? */
static bool seen_before(const struct sandbox_profile *p, unsigned i)
{
	const char *name = sb_profile_rule(p, i)->syscall;

	for (unsigned j = 0; j < i; j++)
		if (strcmp(name, sb_profile_rule(p, j)->syscall) == 0)
			return true;
	return false;
}

unsigned sandbox_profile_count(const struct sandbox_profile *p)
{
	unsigned n = 0;

	for (unsigned i = 0; i < sb_profile_nrules(p); i++)
		n += !seen_before(p, i);
	return n;
}

static int print_rule(const struct sandbox_rule *r, const char *from, FILE *f)
{
	char cond[256] = "";
	size_t len = 0;

	if (seccomp_syscall_resolve_name(r->syscall) == __NR_SCMP_ERROR)
		return -ENOENT;
	for (unsigned a = 0; a < r->nargs && len < sizeof(cond); a++)
		len += (size_t)snprintf(cond + len, sizeof(cond) - len, "%s%s",
					a ? " && " : "", r->args[a].text);
	fprintf(f, "  %-14s %-10s %-52s # %s\n", r->syscall, from,
		r->nargs ? cond : "any arguments", r->why);
	return 0;
}

int sandbox_profile_print(const struct sandbox_profile *p, FILE *f)
{
	int err = 0;

	fprintf(f, "profile %s: %u syscalls (at most %u)%s\n", p->klass,
		sandbox_profile_count(p), sb_profile_max(p), p->no_base ? "" : ", base rules first");
	for (unsigned i = 0; i < sandbox_base_nrules && !err && !p->no_base; i++)
		err = print_rule(&sandbox_base_rules[i], "base", f);
	for (unsigned i = 0; i < p->nrules && !err; i++)
		err = print_rule(&p->rules[i], p->klass, f);
	if (err)
		return err;
	fprintf(f, "anything else: strict: SIGSYS trap, reported %s, exit %d;"
		   " log: reported once per syscall and run;\n"
		   "  non-native arch or x32: killed (SECCOMP_RET_KILL_PROCESS)\n"
		   "  strict, killed outright (they could disarm the report) but for what a\n"
		   "  rule above allows:",
		p->no_base ? "on stderr" : "to the monitor", SANDBOX_EXIT_VIOLATION);
	for (unsigned i = 0; i < sb_kill_count; i++)
		fprintf(f, " %s", sb_kill_list[i]);
	if (p->no_base) {	/* a monitor thread: no rlimits of its own */
		fputc('\n', f);
		return 0;
	}
	fprintf(f, "\nrlimits: NOFILE = highest kept fd + 1");
	if (p->fds_received)
		fprintf(f, " + %u (fds it is handed while it runs)", p->fds_received);
	fprintf(f, ", NPROC 1 + the device's threads "
		"(0 without), CORE 0, FSIZE %s\n",
		p->writes_files ? "inherited (writes to files)" : "0");
	return 0;
}

const char *sandbox_syscall_name(int nr, char *buf, size_t len)
{
	char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

	if (name)
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "syscall_%d", nr);
	free(name);
	return buf;
}
