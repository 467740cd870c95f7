/*
 * acpi_pm (devices/acpi_pm.c): registers only; S5 is an Event on the
 * control socket (sendmsg, in the base).
 */
#include "sandbox.h"

const struct sandbox_profile sandbox_profile_acpi_pm = {
	.klass = "acpi_pm",
	.mem_headroom_mib = 8,
};
