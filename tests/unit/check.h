/*
 * Minimal TAP for unit tests: CHECK(cond, fmt, ...) records one test point;
 * check_done() prints the plan and returns the exit status (0 if all held).
 * Meson runs these with protocol: 'tap'.
 */
#ifndef VMM_TESTS_CHECK_H
#define VMM_TESTS_CHECK_H

#include <stdio.h>

static int check_n, check_failed;

#define CHECK(cond, ...) do {						\
		check_n++;						\
		if (cond) {						\
			printf("ok %d - ", check_n);			\
		} else {						\
			check_failed++;					\
			printf("not ok %d - %s:%d: ", check_n, __FILE__, __LINE__); \
		}							\
		printf(__VA_ARGS__);					\
		printf("\n");						\
	} while (0)

#define CHECK_EQ(a, b, what) do {					\
		unsigned long long a_ = (unsigned long long)(a);	\
		unsigned long long b_ = (unsigned long long)(b);	\
		CHECK(a_ == b_, "%s: got 0x%llx, want 0x%llx", what, a_, b_); \
	} while (0)

/* Skip the whole test program with a reason (TAP "1..0 # SKIP"). */
#define CHECK_SKIP_ALL(...) do {					\
		printf("1..0 # SKIP ");					\
		printf(__VA_ARGS__);					\
		printf("\n");						\
		return 0;						\
	} while (0)

static inline int check_done(void)
{
	printf("1..%d\n", check_n);
	return check_failed ? 1 : 0;
}

#endif
