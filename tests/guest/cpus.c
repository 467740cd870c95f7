/*
 * cpus: the CPU count as firmware tables tell it, run on the boot CPU.
 *
 * Command line keys:
 *   expect_cpus=N  (required) the --cpus the monitor was given
 *
 * Checks: ACPI RSDP (both checksums), RSDT/XSDT, FADT, MADT and DSDT
 * checksums; enabled LAPICs in the MADT == N, its first one has APIC id 0,
 * LAPIC address 0xfee00000, an IOAPIC at 0xfec00000 with GSI base 0; MP
 * floating pointer and configuration table checksums, enabled processor
 * entries == N, exactly one BSP entry, with APIC id 0; this CPU's LAPIC ID
 * register and CPUID initial APIC id are 0.
 */
#include "rt.h"

static void check_table_sum(const char *sig)
{
	uint64_t t = acpi_find_table(sig);
	uint32_t len;

	if (!t_expect(t != 0, "ACPI %s present", sig))
		return;
	len = mem32(t + 4);
	t_expect(len >= 36 && len < (1u << 20) && !acpi_sum(t, len),
		 "ACPI %s at 0x%lx, %u bytes, checksum ok", sig, t, len);
}

static void check_acpi(void)
{
	uint64_t rsdp = acpi_find_rsdp(), root;
	uint8_t rev;

	if (!t_expect(rsdp != 0, "RSDP found (boot_params 0x%lx)",
		      bp_rsdp_addr()))
		return;
	rev = mem8(rsdp + 15);
	t_expect(!acpi_sum(rsdp, 20), "RSDP at 0x%lx checksum, revision %u",
		 rsdp, rev);
	if (rev >= 2)
		t_expect(mem32(rsdp + 20) >= 36 && mem32(rsdp + 20) < 4096 &&
			 !acpi_sum(rsdp, mem32(rsdp + 20)),
			 "RSDP extended checksum over %u bytes", mem32(rsdp + 20));
	root = rev >= 2 && mem64(rsdp + 24) ? mem64(rsdp + 24) : mem32(rsdp + 16);
	t_expect(root && root < (1UL << 32) && mem32(root + 4) >= 36 &&
		 mem32(root + 4) < 4096 && !acpi_sum(root, mem32(root + 4)),
		 "%s at 0x%lx checksum", rev >= 2 ? "XSDT" : "RSDT", root);
	check_table_sum("FACP");
	check_table_sum("APIC");
	check_table_sum("DSDT");
}

static void check_madt(uint64_t want)
{
	struct madt_info mi;

	if (!t_expect(acpi_madt(&mi), "MADT walked"))
		return;
	t_expect(mi.lapics == want, "MADT: %u enabled LAPICs (%u disabled), expected %lu",
		 mi.lapics, mi.lapics_disabled, want);
	t_expect(mi.first_lapic_id == 0, "MADT: first LAPIC id %u",
		 mi.first_lapic_id);
	t_expect(mi.lapic_addr == LAPIC_BASE, "MADT: LAPIC address 0x%x",
		 mi.lapic_addr);
	t_expect(mi.ioapics >= 1 && mi.ioapic_addr == IOAPIC_BASE &&
		 mi.ioapic_gsi_base == 0,
		 "MADT: %u IOAPIC(s), first at 0x%x, GSI base %u", mi.ioapics,
		 mi.ioapic_addr, mi.ioapic_gsi_base);
}

static void check_mp(uint64_t want)
{
	struct mp_info mi;

	if (!t_expect(mp_walk(&mi), "MP floating pointer found"))
		return;
	t_expect(mi.fps_sum_ok, "MP floating pointer at 0x%lx checksum", mi.fps);
	if (!t_expect(mi.table != 0, "MP configuration table present"))
		return;
	t_expect(mi.table_sum_ok, "MP table at 0x%lx checksum", mi.table);
	t_expect(mi.cpus == want,
		 "MP: %u enabled processors (%u disabled), expected %lu",
		 mi.cpus, mi.cpus_disabled, want);
	t_expect(mi.bsp_count == 1 && mi.bsp_lapic_id == 0,
		 "MP: %u BSP entries, APIC id %u", mi.bsp_count, mi.bsp_lapic_id);
	t_expect(mi.lapic_addr == LAPIC_BASE, "MP: LAPIC address 0x%x",
		 mi.lapic_addr);
	t_expect(mi.ioapics >= 1, "MP: %u IOAPIC entries", mi.ioapics);
}

int main(const void *zero_page);
int main(const void *zero_page)
{
	uint64_t want;
	uint32_t r[4];

	bp_init(zero_page);
	t_begin("cpus");
	if (!t_expect(cmdline_get_u64("expect_cpus", &want),
		      "expect_cpus= on the command line"))
		return 0;
	check_acpi();
	check_madt(want);
	check_mp(want);
	t_expect(lapic_id() == 0, "BSP LAPIC ID register %u", lapic_id());
	cpu_cpuid(1, 0, r);
	t_expect((r[1] >> 24) == 0, "CPUID.1 initial APIC id %u", r[1] >> 24);
	return 0;
}
