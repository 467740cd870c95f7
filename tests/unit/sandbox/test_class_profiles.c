/*
 * Every device class has its profile and every profile a class: the two
 * tables come from the same list (device_classes in devices/meson.build),
 * so each index names the same class, and a profile is reachable by the
 * class's name.
 */
#include <string.h>

#include "check.h"
#include "device.h"
#include "sandbox.h"

int main(void)
{
	unsigned n = 0;
	const struct sandbox_profile *const *p = sandbox_profiles(&n);

	CHECK_EQ(n, device_class_count, "as many profiles as device classes");
	for (unsigned i = 0; i < n && i < device_class_count; i++) {
		const char *name = device_classes[i]->name;

		CHECK(strcmp(p[i]->klass, name) == 0, "class %u: %s, profile for %s", i, name,
		      p[i]->klass);
		CHECK(sandbox_profile_find(name) == p[i], "%s: found by name", name);
		CHECK(device_class_find(name) == device_classes[i], "%s: class found by name",
		      name);
	}
	CHECK(device_class_find("no-such-class") == NULL, "an unknown class is not found");
	return check_done();
}
