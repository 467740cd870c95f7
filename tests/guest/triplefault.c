/*
 * triplefault: loads an empty IDT (limit 0) and executes ud2. #UD cannot be
 * delivered (vector outside the IDT) -> #GP -> #DF -> triple fault. The
 * monitor must exit with status 1 and say which vCPU, why and where (RIP).
 * Under PVM this may surface as KVM_EXIT_SHUTDOWN or INTERNAL_ERROR; both
 * are failures. No command line keys.
 *
 * If execution continues it prints a FAIL line and powers off (status 0,
 * which the test rejects too).
 */
#include "rt.h"

struct __attribute__((packed)) idtr {
	uint16_t limit;
	uint64_t base;
};

/* The faulting instruction's address, printed so a human can match RIP. */
extern const char triplefault_ud2[];

int main(const void *zero_page);
int main(const void *zero_page)
{
	static const struct idtr empty = { 0, 0 };

	bp_init(zero_page);
	t_begin("triplefault");
	printf("triplefault: empty IDT, ud2 at %p\n", (const void *)triplefault_ud2);
	__asm__ volatile("lidt %0\n\t"
			 ".globl triplefault_ud2\n"
			 "triplefault_ud2:\n\t"
			 "ud2"
			 : : "m"(empty) : "memory");
	t_fail("still running after ud2 with an empty IDT");
	return 0;
}
