/*
 * reset: asks the i8042 to pulse the reset line (0xFE to port 0x64). The
 * monitor must end the VM with status 0. No command line keys.
 *
 * Prints "reset: requesting" first. If the VM is still running afterwards it
 * prints a FAIL line and powers off, so the test sees the FAIL even though
 * the status would be 0.
 */
#include "rt.h"

int main(const void *zero_page);
int main(const void *zero_page)
{
	bp_init(zero_page);
	t_begin("reset");
	printf("reset: requesting\n");
	i8042_reset();
	t_fail("still running after 0xFE to port 0x64");
	return 0;
}
