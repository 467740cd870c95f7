/*
 * vmm-devproc --control-fd N --name ID [--vm NAME]
 * vmm-devproc --print-profile CLASS
 *
 * Started by vmm-monitor (fork+exec), one per device instance. Everything
 * else (device spec, guest RAM, rings, irqfds, backend fds) arrives in the
 * Setup message on the control socket, which also says how the process
 * confines itself (devproc_confine) before it answers READY.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "devproc.h"
#include "log.h"
#include "sandbox.h"
#include "util.h"

#define SETUP_TIMEOUT_MS 5000

static void usage(FILE *f)
{
	fprintf(f, "usage: vmm-devproc --control-fd N --name ID [--vm NAME]\n"
		   "       vmm-devproc --print-profile CLASS\n"
		   "Hosts one vmm device; started by vmm-monitor, not by hand.\n"
		   "--print-profile shows the sandbox profile of a device class.\n");
}

static int parse_args(int argc, char **argv, struct devproc *dp)
{
	static const struct option opts[] = {
		{ "control-fd", required_argument, NULL, 'c' },
		{ "name", required_argument, NULL, 'n' },
		{ "vm", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "print-profile", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t fd = 0;
	int c;

	dp->sock = -1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'c' && parse_uint(optarg, 3, 1023, &fd) == 0)
			dp->sock = (int)fd;
		else if (c == 'n')
			dp->name = optarg;
		else if (c == 'v')
			continue;	/* only there for ps(1) */
		else if (c == 'p')
			dp->print_profile = optarg;
		else
			return -EINVAL;
	}
	if (dp->print_profile)
		return optind == argc ? 0 : -EINVAL;
	return dp->sock >= 0 && dp->name && optind == argc ? 0 : -EINVAL;
}

/* Die with the monitor, and keep nothing from it but the control socket. */
static int process_init(struct devproc *dp)
{
	char title[16];

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return -errno;
	if (getppid() == 1)
		return -ESRCH;	/* the monitor died before we got here */
	snprintf(title, sizeof(title), "dev-%s", dp->name);
	prctl(PR_SET_NAME, title);
	signal(SIGPIPE, SIG_IGN);
	if (dp->sock != 3 && dup2(dp->sock, 3) < 0)
		return -errno;
	dp->sock = 3;
	if (close_range(4, ~0u, 0) < 0)
		return -errno;
	return 0;
}

static int print_profile(const char *klass)
{
	const struct sandbox_profile *p = sandbox_profile_find(klass);
	unsigned n;

	if (!p) {
		const struct sandbox_profile *const *all = sandbox_profiles(&n);

		fprintf(stderr, "vmm-devproc: no sandbox profile for class %s; classes:", klass);
		for (unsigned i = 0; i < n; i++)
			fprintf(stderr, " %s", all[i]->klass);
		fprintf(stderr, "\n");
		return 2;
	}
	return sandbox_profile_print(p, stdout) ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct devproc dp = { .doorbell_fd = -1, .epoll_fd = -1, .intx_line = -1,
			      .intx_resample_fd = -1 };
	int err;

	log_set_program("vmm-devproc");
#ifdef VMM_TEST_HOOKS
	dp.test_memfd = -1;
#endif
	if (parse_args(argc, argv, &dp)) {
		usage(stderr);
		return 2;
	}
	if (dp.print_profile)
		return print_profile(dp.print_profile);
	err = process_init(&dp);
	if (err) {
		vmm_log(LOG_ERR, dp.name, "cannot start: %s", strerror(-err));
		return 1;
	}
	err = devproc_setup(&dp, SETUP_TIMEOUT_MS);
	if (!err)
		err = devproc_confine(&dp);
	if (!err)
		err = control_send_simple(dp.sock, CONTROL_MSG__BODY_READY);
#ifdef VMM_TEST_HOOKS
	if (!err)
		devproc_test_attempt(&dp);
#endif
	if (!err)
		err = devproc_run(&dp);
	devproc_teardown(&dp);
	return err ? 1 : 0;
}
