/*
 * The zero page (struct boot_params) and the command line it points to.
 */
#include "rt.h"

static uint64_t zp;

void bp_init(const void *zero_page)
{
	zp = (uintptr_t)zero_page;
}

uint64_t bp_addr(void)
{
	return zp;
}

uint64_t bp_cmdline_addr(void)
{
	return mem32(zp + BP_HDR_CMD_LINE_PTR) |
	       (uint64_t)mem32(zp + BP_EXT_CMD_LINE_PTR) << 32;
}

const char *bp_cmdline(void)
{
	uint64_t pa = bp_cmdline_addr();

	return pa ? (const char *)(uintptr_t)pa : "";
}

uint64_t bp_ramdisk_addr(void)
{
	return mem32(zp + BP_HDR_RAMDISK_IMAGE) |
	       (uint64_t)mem32(zp + BP_EXT_RAMDISK_IMAGE) << 32;
}

uint64_t bp_ramdisk_size(void)
{
	return mem32(zp + BP_HDR_RAMDISK_SIZE) |
	       (uint64_t)mem32(zp + BP_EXT_RAMDISK_SIZE) << 32;
}

uint64_t bp_rsdp_addr(void)
{
	return mem64(zp + BP_ACPI_RSDP_ADDR);
}

uint16_t bp_boot_protocol(void)
{
	if (mem32(zp + BP_HDR_HEADER) != HDRS_MAGIC)
		return 0;
	return mem16(zp + BP_HDR_VERSION);
}

unsigned bp_e820_count(void)
{
	unsigned n = mem8(zp + BP_E820_ENTRIES);

	return n > BP_E820_MAX ? BP_E820_MAX : n;
}

struct e820 bp_e820(unsigned i)
{
	uint64_t e = zp + BP_E820_TABLE + 20 * (uint64_t)i;
	struct e820 r = {
		.addr = mem32(e) | (uint64_t)mem32(e + 4) << 32,
		.size = mem32(e + 8) | (uint64_t)mem32(e + 12) << 32,
		.type = mem32(e + 16),
	};

	return r;
}

uint64_t bp_e820_usable(void)
{
	uint64_t sum = 0;
	unsigned i, n = bp_e820_count();

	for (i = 0; i < n; i++) {
		struct e820 e = bp_e820(i);

		if (e.type == E820_RAM)
			sum += e.size;
	}
	return sum;
}

bool bp_e820_covers(uint64_t addr, uint64_t len)
{
	unsigned i, n = bp_e820_count();

	for (i = 0; i < n; i++) {
		struct e820 e = bp_e820(i);

		if (e.type == E820_RAM && addr >= e.addr &&
		    addr + len >= addr && addr + len <= e.addr + e.size)
			return true;
	}
	return false;
}

/* ---- command line ------------------------------------------------------ */

/* Start of "key" as a whole word, followed by '=', a space or the end. */
static const char *cmdline_find(const char *s, const char *key)
{
	size_t kl = strlen(key);

	while (*s) {
		while (*s == ' ')
			s++;
		if (!strncmp(s, key, kl) &&
		    (s[kl] == '=' || s[kl] == ' ' || s[kl] == '\0'))
			return s + kl;
		while (*s && *s != ' ')
			s++;
	}
	return NULL;
}

bool cmdline_get(const char *key, char *buf, size_t size)
{
	const char *v = cmdline_find(bp_cmdline(), key);
	size_t n = 0;

	if (!v)
		return false;
	if (*v == '=')
		v++;
	while (v[n] && v[n] != ' ' && n + 1 < size) {
		buf[n] = v[n];
		n++;
	}
	if (size)
		buf[n] = '\0';
	return true;
}

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Digits in base; stops at the first non-digit, which *end points to. */
static bool parse_digits(const char *s, unsigned base, uint64_t *out,
			 const char **end)
{
	uint64_t v = 0;
	int d;

	if (digit_value(*s) < 0 || digit_value(*s) >= (int)base)
		return false;
	while ((d = digit_value(*s)) >= 0 && d < (int)base) {
		if (v > (UINT64_MAX - (uint64_t)d) / base)
			return false;
		v = v * base + (uint64_t)d;
		s++;
	}
	*out = v;
	*end = s;
	return true;
}

bool parse_u64(const char *s, uint64_t *out)
{
	unsigned base = 10, shift = 0;
	const char *end;
	uint64_t v;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		base = 16, s += 2;
	if (!parse_digits(s, base, &v, &end))
		return false;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return false;
	*out = v << shift;
	return true;
}

bool parse_hex(const char *s, uint64_t *out)
{
	const char *end;
	uint64_t v;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	if (!parse_digits(s, 16, &v, &end) || *end)
		return false;
	*out = v;
	return true;
}

bool cmdline_get_u64(const char *key, uint64_t *out)
{
	char buf[40];

	return cmdline_get(key, buf, sizeof(buf)) && parse_u64(buf, out);
}

bool cmdline_list_has(const char *key, const char *item)
{
	char list[128];
	size_t n = strlen(item);

	if (!cmdline_get(key, list, sizeof(list)))
		return true;
	for (const char *p = list; *p; p++)
		if ((p == list || p[-1] == ',') && !strncmp(p, item, n) &&
		    (p[n] == ',' || p[n] == 0))
			return true;
	return false;
}
