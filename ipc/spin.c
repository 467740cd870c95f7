/* Spin budgets that adapt. Contracts: spin.h. */
#include "spin.h"

void spin_gov_init(struct spin_gov *g)
{
	*g = (struct spin_gov){ .budget_ns = UINT64_MAX };
}

uint64_t spin_gov_budget(const struct spin_gov *g, uint64_t cap_ns, uint64_t now)
{
	if (now < g->calm_until)
		return 0;
	return g->budget_ns < cap_ns ? g->budget_ns : cap_ns;
}

void spin_gov_paid(struct spin_gov *g)
{
	g->paid++;
}

void spin_gov_wasted(struct spin_gov *g, uint64_t cap_ns)
{
	g->wasted++;
	g->budget_ns = (g->budget_ns < cap_ns ? g->budget_ns : cap_ns) / 2;
}

void spin_gov_preempted(struct spin_gov *g, uint64_t now)
{
	g->preempted++;
	g->budget_ns = 0;
	g->calm_until = now + SPIN_CALM_NS;
}

void spin_gov_slept(struct spin_gov *g, uint64_t slept_ns, uint64_t cap_ns, uint64_t now)
{
	uint64_t want = slept_ns + slept_ns / 4;

	if (now < g->calm_until || slept_ns >= cap_ns)
		return;		/* no spin within the cap would have caught it */
	if (g->budget_ns > cap_ns)
		g->budget_ns = cap_ns;
	if (want > g->budget_ns)
		g->budget_ns = want < cap_ns ? want : cap_ns;
}
