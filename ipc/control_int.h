/*
 * What the control channel's two files share (not a public contract: that
 * is control.h). control.c sends and receives; control_check.c holds the
 * per-direction content checks.
 */
#ifndef VMM_IPC_CONTROL_INT_H
#define VMM_IPC_CONTROL_INT_H

#include <stdbool.h>

#include "control.h"
#include "device_abi.h"

_Static_assert(DEV_EVENT_RESET == 1 && DEV_EVENT_POWEROFF == 2 && DEV_EVENT_NEEDS_RESET == 3,
	       "Event.type range below follows enum device_event");
#define EVENT_MIN DEV_EVENT_RESET
#define EVENT_MAX DEV_EVENT_NEEDS_RESET

/* c is printable ASCII (0x20..0x7e), or a tab if tab. */
bool control_printable(unsigned char c, bool tab);

/* m is not NULL and has a known body case with its pointer set. */
bool control_has_body(const ControlMsg *m);

#endif
