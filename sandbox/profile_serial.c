/*
 * serial (devices/serial.c): read(2) on fds[0] (console input) and write(2)
 * on fds[1] (console output), both in the base. Its output may be a regular
 * file (the monitor's stdout redirected), so RLIMIT_FSIZE is left alone.
 */
#include "sandbox.h"

const struct sandbox_profile sandbox_profile_serial = {
	.klass = "serial",
	.rules = NULL,
	.nrules = 0,
	.writes_files = true,
	.mem_headroom_mib = 8,
};
