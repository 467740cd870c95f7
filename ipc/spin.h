/*
 * Spin budgets that adapt: how long one side of a trap ring (a vCPU waiting
 * for its answer, a device waiting for the next request) spins before it
 * sleeps. A spin is worth its CPU only when what it waits for comes soon
 * and nobody else wanted that CPU. So the budget
 *
 *   - learns the gap: after a sleep of d ns that ended in work, a spin of
 *     d (and a quarter more) would have caught it: the budget grows to
 *     that, never past the cap (--spin-us, --device-spin-us);
 *   - halves when a spin ran out without work (the spin was wasted);
 *   - drops to 0 for SPIN_CALM_NS when the spinner was preempted while
 *     spinning (two clock readings of the loop more than SPIN_GAP_NS
 *     apart): the host has more runnable work than CPUs, and spinning takes
 *     a CPU from it - the other side of the ring, maybe.
 *
 * An idle side sleeps without timeout: the budget only decides how long it
 * spins first. One struct per spinner, used by one thread.
 */
#ifndef VMM_IPC_SPIN_H
#define VMM_IPC_SPIN_H

#include <stdbool.h>
#include <stdint.h>

#define SPIN_GAP_NS  500000ull	/* a loop iteration this long: we were preempted */
#define SPIN_CALM_NS 100000000ull	/* no spinning for this long after that */
/*
 * A spin loop reads the clock once every this many turns: where the clock
 * source is not the TSC (an emulated machine's HPET), each read is a
 * syscall and a device access.
 */
#define SPIN_CLOCK_EVERY 32u

struct spin_gov {
	uint64_t budget_ns;		/* spin this long now (before the cap) */
	uint64_t calm_until;		/* now_ns() before which it does not spin */
	uint64_t paid, wasted, preempted;	/* spins that found work, ran out, were cut */
};

/* Start with the whole cap (a fresh spinner has learnt nothing yet). */
void spin_gov_init(struct spin_gov *g);

/* How long to spin now, at most cap_ns. */
uint64_t spin_gov_budget(const struct spin_gov *g, uint64_t cap_ns, uint64_t now);

/* The spin found work: the budget stays. */
void spin_gov_paid(struct spin_gov *g);

/* The spin ran out without work: halve the budget (of at most cap_ns). */
void spin_gov_wasted(struct spin_gov *g, uint64_t cap_ns);

/* The loop saw a gap of SPIN_GAP_NS or more: stop spinning for a while. */
void spin_gov_preempted(struct spin_gov *g, uint64_t now);

/* Woke from a sleep of slept_ns that ended in work: learn the gap. */
void spin_gov_slept(struct spin_gov *g, uint64_t slept_ns, uint64_t cap_ns, uint64_t now);

/* Whether two consecutive clock readings of a spin loop show a preemption. */
static inline bool spin_gap(uint64_t prev, uint64_t now)
{
	return now - prev >= SPIN_GAP_NS;
}

/* One turn of a spin loop: tell the CPU (x86 PAUSE, arm64 YIELD) we are waiting. */
static inline void spin_relax(void)
{
#if defined(__x86_64__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

#endif
