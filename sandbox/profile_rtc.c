/*
 * rtc (devices/rtc.c): reads the host's wall clock. gmtime_r/timegm need
 * no syscall once the time zone is loaded, which sandbox_enter does first.
 */
#include <time.h>

#include "sandbox.h"

static const struct sandbox_rule rtc_rules[] = {
	SB_IF("clock_gettime", "CMOS time from the host clock; only if the vDSO falls back", 1,
	      SB_EQ(0, CLOCK_REALTIME, "clock == CLOCK_REALTIME")),
};

const struct sandbox_profile sandbox_profile_rtc = {
	.klass = "rtc",
	.rules = rtc_rules,
	.nrules = sizeof(rtc_rules) / sizeof(rtc_rules[0]),
	.mem_headroom_mib = 8,
};
