/*
 * cmdline: the kernel command line, printed verbatim between markers so the
 * integration test can compare it byte for byte:
 *     CMDLINE<<<the command line>>>CMDLINE
 *
 * Command line keys:
 *   expect_cmdline_len=N  (optional) strlen of the whole command line
 *
 * Also: cmd_line_ptr (with ext_cmd_line_ptr) set and below 4 GiB, the
 * string NUL-terminated within the 64 KiB the monitor reserves for it
 * (X86_CMDLINE_MAX) and in RAM; booted as a bzImage, no longer than the
 * header's cmdline_size.
 */
#include "rt.h"

#define CMDLINE_MAX 0x10000u

static uint64_t bounded_len(const char *s, uint64_t max)
{
	uint64_t n = 0;

	while (n < max && s[n])
		n++;
	return n;
}

int main(const void *zero_page);
int main(const void *zero_page)
{
	uint64_t pa, len, want;
	uint32_t hdr_max;

	bp_init(zero_page);
	t_begin("cmdline");
	pa = bp_cmdline_addr();
	if (!t_expect(pa != 0 && pa < (1UL << 32), "cmd_line_ptr 0x%lx", pa))
		return 0;
	len = bounded_len(bp_cmdline(), CMDLINE_MAX);
	if (!t_expect(len < CMDLINE_MAX, "NUL within %u bytes", CMDLINE_MAX))
		return 0;
	printf("CMDLINE<<<%s>>>CMDLINE\n", bp_cmdline());
	t_info("length %lu at 0x%lx", len, pa);
	t_expect(bp_e820_covers(pa, len + 1), "command line in usable RAM");
	if (bp_boot_protocol() >= 0x0206) {
		hdr_max = mem32(bp_addr() + BP_HDR_CMDLINE_SIZE);
		t_expect(len <= hdr_max, "length %lu within cmdline_size %u",
			 len, hdr_max);
	}
	if (cmdline_get_u64("expect_cmdline_len", &want))
		t_expect(len == want, "length %lu, expected %lu", len, want);
	return 0;
}
