/*
 * The ACPI tables x86_boot_setup builds, read by ACPICA's own tools
 * (Debian acpica-tools) rather than by our parser: every table is written
 * to a temporary directory and
 *
 *  - disassembled with `iasl -d`: exit 0, no "****" (iasl's mark for a
 *    bad checksum or a table cut short) and no error or warning;
 *  - recompiled from that disassembly with `iasl`: 0 errors, 0 warnings,
 *    and the same bytes after the header (so iasl read every field the
 *    way we meant it, and our AML is encoded the way iasl encodes it);
 *  - for the DSDT, the disassembly must show \_S5_ at the root, the host
 *    bridge \_SB.PCI0 with its _HID, every _CRS window and the whole _PRT
 *    (slots 1..31 x INTA..INTD -> GSI 16 + (slot + pin) % 8), and after
 *    it the legacy devices \_SB.COM1, RTC, KBD and MOU with their PnP ids,
 *    ports and ISA IRQs;
 *  - the DSDT, FADT and MADT are loaded into `acpiexec` (the ACPICA
 *    interpreter Linux runs), which evaluates \_S5_ and \_SB.PCI0._PRT,
 *    decodes \_SB.PCI0._CRS and the legacy devices' _CRS the way Linux's
 *    acpi_walk_resources (and so pnpacpi) does, and converts the _PRT with
 *    AcpiGetIrqRoutingTable, as Linux's acpi_pci_irq_find_prt_entry does.
 *
 * Without iasl the whole program SKIPs; without acpiexec its checks SKIP.
 * The RSDP is not checked here: it has no table header, and iasl -d
 * rejects it ("does not contain a valid ACPI table"); test_tables checks it.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "x86_test.h"

#define TOOL_DEADLINE_S 60	/* per tool run; SIGALRM kills it past that */

/* An ok test point with a TAP SKIP directive. */
#define CHECK_SKIP(...) do {						\
		printf("ok %d # SKIP ", ++check_n);			\
		printf(__VA_ARGS__);					\
		printf("\n");						\
	} while (0)

/* True if `name` is an executable file in a directory of $PATH. */
static int tool_found(const char *name)
{
	const char *path = getenv("PATH");
	char dir[4096], file[4200];

	while (path && *path) {
		size_t n = strcspn(path, ":");

		snprintf(dir, sizeof(dir), "%.*s", (int)n, path);
		snprintf(file, sizeof(file), "%s/%s", n ? dir : ".", name);
		if (access(file, X_OK) == 0)
			return 1;
		path += n + (path[n] == ':');
	}
	return 0;
}

/*
 * Run argv in dir with stdout and stderr to dir/log; returns the exit
 * status, or -1 if it could not run, died of a signal or overran the
 * deadline.
 */
static int run_in(const char *dir, const char *log, char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd;

		if (chdir(dir) != 0)
			_exit(126);
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		alarm(TOOL_DEADLINE_S);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* The whole of dir/name as a NUL-terminated string (NULL if unreadable). */
static char *slurp(const char *dir, const char *name, size_t *len)
{
	char path[4200];
	FILE *f;
	char *buf = NULL;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) != NULL) {
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
			if (len)
				*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

static int spill(const char *dir, const char *name, const void *p, size_t len)
{
	char path[4200];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f)
		return -1;
	ok = fwrite(p, 1, len, f) == len;
	return (fclose(f) == 0 && ok) ? 0 : -1;
}

/*
 * ASL with comments dropped and every run of white space made one space,
 * so that checks can name a whole ResourceTemplate entry on one line.
 */
static char *asl_flatten(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;

	if (!out)
		return NULL;
	while (*s) {
		if (s[0] == '/' && s[1] == '/') {
			s += strcspn(s, "\n");
		} else if (s[0] == '/' && s[1] == '*') {
			const char *e = strstr(s + 2, "*/");

			s = e ? e + 2 : s + strlen(s);
		} else if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') {
			if (o > out && o[-1] != ' ')
				*o++ = ' ';
			s++;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return out;
}

static int has(const char *text, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int has(const char *text, const char *fmt, ...)
{
	char want[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(want, sizeof(want), fmt, ap);
	va_end(ap);
	return text && strstr(text, want) != NULL;
}

/* The routing rule, written out here: bus 0 slot s pin p -> GSI 16 + (s + p) % 8. */
#define PRT_SLOTS 31
#define PRT_ENTRIES (PRT_SLOTS * 4)
static unsigned prt_gsi(unsigned slot, unsigned pin)
{
	return 16 + (slot + pin) % 8;
}

/*
 * The whole _PRT as flattened iasl ASL, through the end of PCI0 and the
 * start of the next device: pins 0 and 1 disassemble as Zero and One, the
 * rest as bytes.
 */
static char *prt_asl(void)
{
	static const char *const pins[4] = { "Zero", "One", "0x02", "0x03" };
	size_t cap = 64 + PRT_ENTRIES * 64, n;
	char *s = malloc(cap);

	if (!s)
		return NULL;
	n = (size_t)snprintf(s, cap, "Name (_PRT, Package (0x%02X) {", PRT_ENTRIES);
	for (unsigned slot = 1; slot <= PRT_SLOTS; slot++)
		for (unsigned pin = 0; pin < 4; pin++)
			n += (size_t)snprintf(s + n, cap - n,
					      " Package (0x04) { 0x%04XFFFF, %s, Zero, 0x%02X }%s",
					      slot, pins[pin], prt_gsi(slot, pin),
					      slot == PRT_SLOTS && pin == 3 ? "" : ",");
	snprintf(s + n, cap - n, " }) } Device (COM1) {");
	return s;
}

/*
 * The PC's legacy devices, the last four in \_SB (so the text ends with
 * the closing braces of \_SB and of the DefinitionBlock): the ports and
 * ISA IRQs the monitor gives them (tests/unit/x86/test_tables checks
 * boot.h's constants against these values), each IRQ IRQNoFlags (edge,
 * active-high), with the EisaIds Linux's 8250_pnp, rtc_cmos and i8042
 * match. Only COM1 has a _UID (1: the first serial port).
 */
/* Each element is one ASL statement split over several literals. */
#ifdef __clang__
#pragma clang diagnostic ignored "-Wstring-concatenation"
#endif
static const char *const legacy_asl[] = {
	"Device (COM1) { Name (_HID, EisaId (\"PNP0501\") ) Name (_UID, One)"
	" Name (_CRS, ResourceTemplate () { IO (Decode16, 0x03F8, 0x03F8, 0x01, 0x08, )"
	" IRQNoFlags () {4} }) }",
	"Device (RTC) { Name (_HID, EisaId (\"PNP0B00\") )"
	" Name (_CRS, ResourceTemplate () { IO (Decode16, 0x0070, 0x0070, 0x01, 0x02, )"
	" IRQNoFlags () {8} }) }",
	"Device (KBD) { Name (_HID, EisaId (\"PNP0303\") )"
	" Name (_CRS, ResourceTemplate () { IO (Decode16, 0x0060, 0x0060, 0x01, 0x01, )"
	" IO (Decode16, 0x0064, 0x0064, 0x01, 0x01, ) IRQNoFlags () {1} }) }",
	"Device (MOU) { Name (_HID, EisaId (\"PNP0F13\") )"
	" Name (_CRS, ResourceTemplate () { IRQNoFlags () {12} }) } } }",
};

static void check_dsdt_legacy_asl(const char *f)
{
	static const char *const what[] = {
		"COM1: PNP0501, _UID 1, IO 0x3F8 length 8, IRQ 4",
		"RTC: PNP0B00, IO 0x70 length 2, IRQ 8",
		"KBD: PNP0303, IO 0x60 and 0x64 (one port each), IRQ 1",
		"MOU: PNP0F13, IRQ 12, last in \\_SB",
	};
	const char *prev = f;
	size_t n = f ? strlen(f) : 0, last = strlen(legacy_asl[3]);

	for (size_t i = 0; i < sizeof(legacy_asl) / sizeof(legacy_asl[0]); i++) {
		const char *p = f ? strstr(f, legacy_asl[i]) : NULL;

		CHECK(p && p >= prev, "DSDT %s (in that order)", what[i]);
		prev = p ? p : prev;
	}
	/* asl_flatten leaves one space for the file's last newlines. */
	CHECK(n > last && strcmp(f + n - 1, " ") == 0 &&
	      strncmp(f + n - 1 - last, legacy_asl[3], last) == 0,
	      "DSDT ends with MOU, then the end of \\_SB");
	CHECK(!has(f, "_STA") && !has(f, "_SRS") && !has(f, "_PRS"),
	      "legacy devices: no _STA (present), no _SRS/_PRS (fixed resources)");
}

/* The DSDT as iasl disassembled it: \_S5_ at the root, then \_SB.PCI0. */
static void check_dsdt_asl(const char *dsl)
{
	char *f = dsl ? asl_flatten(dsl) : NULL, *prt;

	CHECK(has(f, "{ Name (_S5, Package (0x04) { 0x%02X, 0x%02X, Zero, Zero }) Scope (_SB) {"
		  " Device (PCI0) {", X86_ACPI_S5_SLP_TYP, X86_ACPI_S5_SLP_TYP),
	      "DSDT: Name (_S5_, Package (4) {%d, %d, 0, 0}) first at the root, then "
	      "Scope (\\_SB) { Device (PCI0)", X86_ACPI_S5_SLP_TYP, X86_ACPI_S5_SLP_TYP);
	CHECK(has(f, "Device (PCI0) { Name (_HID, EisaId (\"PNP0A03\")"),
	      "PCI0 _HID EisaId (\"PNP0A03\")");
	CHECK(has(f, "Name (_UID, Zero) Name (_SEG, Zero) Name (_BBN, Zero)"),
	      "PCI0 _UID 0, _SEG 0, _BBN 0");
	CHECK(has(f, "WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,"
		  " 0x0000, 0x0000, 0x0000, 0x0000, 0x0001,"), "_CRS: bus numbers 0..0");
	CHECK(has(f, "IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08, )"),
	      "_CRS: IO 0xCF8, length 8 (config mechanism #1)");
	CHECK(has(f, "WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,"
		  " 0x0000, 0x0000, 0x0CF7, 0x0000, 0x0CF8,"), "_CRS: IO window 0x0000-0x0CF7");
	CHECK(has(f, "WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,"
		  " 0x0000, 0x0D00, 0xFFFF, 0x0000, 0xF300,"), "_CRS: IO window 0x0D00-0xFFFF");
	CHECK(has(f, "DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable,"
		  " ReadWrite, 0x00000000, 0x%08llX, 0x%08llX, 0x00000000, 0x%08llX,",
		  X86_PCI_MMIO_START, X86_PCI_MMIO_END - 1, X86_PCI_MMIO_END - X86_PCI_MMIO_START),
	      "_CRS: memory window 0x%llx-0x%llx, non-cacheable, read-write",
	      X86_PCI_MMIO_START, X86_PCI_MMIO_END - 1);
	CHECK(!has(f, "_ADR"), "PCI0: no _ADR next to its _HID");
	CHECK(has(f, "Name (_PRT, Package (0x7C) { Package (0x04) { 0x0001FFFF, Zero, Zero, 0x11 },"
		  " Package (0x04) { 0x0001FFFF, One, Zero, 0x12 },"),
	      "PCI0._PRT: 124 entries, slot 1 INTA -> GSI 17, INTB -> 18 (source Zero: GSI form)");
	prt = prt_asl();
	CHECK(prt && f && strstr(f, prt),	/* not has(): prt is longer than its buffer */
	      "PCI0._PRT: every slot 1..31 x INTA..INTD -> GSI 16 + (slot + pin) %% 8, "
	      "last in PCI0, then Device (COM1)");
	free(prt);
	check_dsdt_legacy_asl(f);
	free(f);
}

/*
 * Disassemble dir/<base>.dat, recompile the result and compare. Returns
 * the disassembly (caller frees), or NULL if there was none.
 */
static char *check_iasl(const char *dir, const char *base, const uint8_t *t, uint32_t len)
{
	char dat[16], dsl[16], log[16], rt[16], rtaml[16], rtlog[16];
	char *out, *dlog, *clog, *aml;
	size_t aml_len = 0;
	int rc;

	snprintf(dat, sizeof(dat), "%s.dat", base);
	snprintf(dsl, sizeof(dsl), "%s.dsl", base);
	snprintf(log, sizeof(log), "%s.log", base);
	snprintf(rt, sizeof(rt), "rt-%s", base);
	snprintf(rtaml, sizeof(rtaml), "rt-%s.aml", base);
	snprintf(rtlog, sizeof(rtlog), "rt-%s.log", base);
	CHECK(spill(dir, dat, t, len) == 0, "%s: write %u bytes", base, len);
	rc = run_in(dir, log, (char *const[]){ "iasl", "-d", dat, NULL });
	out = slurp(dir, dsl, NULL);
	dlog = slurp(dir, log, NULL);
	CHECK(rc == 0 && out, "%s: iasl -d exits 0 (%d) and writes %s", base, rc, dsl);
	CHECK(dlog && !has(dlog, "Error") && !has(dlog, "Warning") && out && !has(out, "****"),
	      "%s: iasl -d reports no error, warning, bad checksum or short table", base);
	rc = run_in(dir, rtlog, (char *const[]){ "iasl", "-p", rt, dsl, NULL });
	clog = slurp(dir, rtlog, NULL);
	CHECK(rc == 0 && has(clog, "0 Errors, 0 Warnings, 0 Remarks"),
	      "%s: iasl recompiles the disassembly: exit %d, 0 errors, warnings, remarks", base, rc);
	aml = slurp(dir, rtaml, &aml_len);
	CHECK(aml && aml_len == len && memcmp(aml + 36, t + 36, len - 36) == 0,
	      "%s: recompiled body is byte-identical (%zu vs %u bytes)", base, aml_len, len);
	free(dlog);
	free(clog);
	free(aml);
	return out;
}

/*
 * \_SB.PCI0._PRT as AcpiGetIrqRoutingTable converted it ("resources"):
 * every entry, in order, with no link device and the GSI as source index.
 */
static void check_acpiexec_prt(const char *f)
{
	unsigned bad = 0, i = 0;

	CHECK(has(f, "Evaluation of \\_SB.PCI0._PRT returned object") &&
	      has(f, "[Package] Contains %u Elements: [Package] Contains 4 Elements:"
		  " [Integer] = 000000000001FFFF [Integer] = 0000000000000000"
		  " [Integer] = 0000000000000000 [Integer] = 0000000000000011", PRT_ENTRIES) &&
	      has(f, "[Integer] = 00000000001FFFFF [Integer] = 0000000000000003"
		  " [Integer] = 0000000000000000 [Integer] = 0000000000000012"),
	      "acpiexec: \\_SB.PCI0._PRT = %u packages, {0x1FFFF, 0, 0, 17} first, "
	      "{0x1FFFFF, 3, 0, 18} present", PRT_ENTRIES);
	for (unsigned slot = 1; slot <= PRT_SLOTS; slot++)
		for (unsigned pin = 0; pin < 4; pin++, i++)
			bad += !has(f, "[%02X] PCI IRQ Routing Table Package Address : %016X"
				    " Pin : %08X Source : [NULL NAMESTRING] Source Index : %08X ",
				    i, slot << 16 | 0xffff, pin, prt_gsi(slot, pin));
	CHECK(bad == 0 && !has(f, "[%02X] PCI IRQ Routing Table Package", PRT_ENTRIES),
	      "acpiexec: AcpiGetIrqRoutingTable gives all %u _PRT entries in order, "
	      "GSI form (%u wrong or missing)", PRT_ENTRIES, bad);
}

/*
 * What `resources \_SB.<dev>` printed for dev's _CRS (flattened), from its
 * first descriptor through its EndTag; NULL if there is none.
 */
static char *acpiexec_crs(const char *f, const char *dev)
{
	char head[64];
	const char *p, *end;

	snprintf(head, sizeof(head), "Device: \\_SB.%s Evaluating _CRS ", dev);
	p = f ? strstr(f, head) : NULL;
	p = p ? strstr(p, "[00] ") : NULL;
	end = p ? strstr(p, "EndTag Resource") : NULL;
	return end ? strndup(p, (size_t)(end - p) + strlen("EndTag Resource")) : NULL;
}

#define EXEC_IO(n, port, len)						\
	"[" n "] I/O Resource Address Decoding : Decode16 Address Minimum : " port \
	" Address Maximum : " port " Alignment : 01 Address Length : " len " "
#define EXEC_IRQ(n, irq)						\
	"[" n "] IRQ Resource Descriptor Length : 02 Triggering : Edge Polarity :" \
	" ActiveHigh Sharing : Exclusive Interrupt Count : 01 Interrupt List : " irq " "

/*
 * The legacy devices' _CRS as ACPICA converts them for Linux's pnpacpi:
 * exactly these descriptors, each IRQ edge-triggered, active-high and
 * exclusive (what IRQNoFlags means), as the MADT's ISA defaults say.
 */
static void check_acpiexec_legacy(const char *f)
{
	static const struct { const char *dev, *want, *what; } devs[] = {
		{ "COM1", EXEC_IO("00", "03F8", "08") EXEC_IRQ("01", "4") "[02] EndTag Resource",
		  "IO 0x3F8 length 8, IRQ 4" },
		{ "RTC", EXEC_IO("00", "0070", "02") EXEC_IRQ("01", "8") "[02] EndTag Resource",
		  "IO 0x70 length 2, IRQ 8" },
		{ "KBD", EXEC_IO("00", "0060", "01") EXEC_IO("01", "0064", "01")
			 EXEC_IRQ("02", "1") "[03] EndTag Resource",
		  "IO 0x60 and 0x64 length 1, IRQ 1" },
		{ "MOU", EXEC_IRQ("00", "C") "[01] EndTag Resource", "IRQ 12" },
	};
	const char *uid;

	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
		char *got = acpiexec_crs(f, devs[i].dev);

		CHECK(got && strcmp(got, devs[i].want) == 0,
		      "acpiexec: \\_SB.%s._CRS = %s, edge/high/exclusive%s%s", devs[i].dev,
		      devs[i].what, got ? "" : " (not found)",
		      got && strcmp(got, devs[i].want) ? " (differs)" : "");
		if (got && strcmp(got, devs[i].want))
			printf("# got:  %s\n# want: %s\n", got, devs[i].want);
		free(got);
	}
	uid = f ? strstr(f, "Evaluation of \\_SB.COM1._UID returned object") : NULL;
	uid = uid ? strstr(uid, " [Integer] = ") : NULL;	/* after the object's address */
	CHECK(uid && strncmp(uid, " [Integer] = 0000000000000001 ", 30) == 0,
	      "acpiexec: \\_SB.COM1._UID = 1");
}

/*
 * \_S5_, \_SB.PCI0._CRS and _PRT, and the legacy devices' _CRS as the
 * ACPICA interpreter evaluates them.
 */
static void check_acpiexec(const char *dir)
{
	char *out, *f;
	int rc;

	if (!tool_found("acpiexec")) {
		CHECK_SKIP("acpiexec not found (acpica-tools)");
		return;
	}
	rc = run_in(dir, "exec.log", (char *const[]){ "acpiexec", "-b",
		"evaluate \\_S5_; resources \\_SB.PCI0; evaluate \\_SB.PCI0._PRT; "
		"resources \\_SB.COM1; resources \\_SB.RTC; resources \\_SB.KBD; "
		"resources \\_SB.MOU; evaluate \\_SB.COM1._UID",
		"dsdt.dat", "facp.dat", "apic.dat", NULL });
	out = slurp(dir, "exec.log", NULL);
	f = asl_flatten(out ? out : "");
	CHECK(rc == 0 && has(f, "1 ACPI AML tables successfully acquired and loaded"),
	      "acpiexec loads the DSDT (exit %d)", rc);
	CHECK(!has(f, "ACPI Error") && !has(f, "ACPI Exception") && !has(f, "AE_AML_"),
	      "acpiexec: no AML error or exception");
	CHECK(has(f, "Evaluation of \\_S5_ returned object") &&
	      has(f, "[Package] Contains 4 Elements: [Integer] = %016X [Integer] = %016X"
		  " [Integer] = 0000000000000000 [Integer] = 0000000000000000",
		  X86_ACPI_S5_SLP_TYP, X86_ACPI_S5_SLP_TYP), "acpiexec: \\_S5_ = {5, 5, 0, 0}");
	CHECK(has(f, "Resource Type : Bus Number Range Consumer/Producer : ResourceProducer"
		  " Address Decode : PosDecode Min Relocatability : MinFixed Max Relocatability :"
		  " MaxFixed Granularity : 0000 Address Minimum : 0000 Address Maximum : 0000"),
	      "acpiexec: _CRS bus range 0..0");
	CHECK(has(f, "Resource Type : Memory Range Write Protect : ReadWrite Caching : NonCacheable") &&
	      has(f, "Address Minimum : %08llX Address Maximum : %08llX",
		  X86_PCI_MMIO_START, X86_PCI_MMIO_END - 1),
	      "acpiexec: _CRS memory window 0x%llx-0x%llx", X86_PCI_MMIO_START,
	      X86_PCI_MMIO_END - 1);
	CHECK(has(f, "[05] EndTag Resource"), "acpiexec: _CRS has 5 descriptors and an EndTag");
	check_acpiexec_prt(f);
	check_acpiexec_legacy(f);
	free(f);
	free(out);
}

static void rm_rf(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(d), e->d_name, 0);
	if (d)
		closedir(d);
	rmdir(dir);
}

/* The whole table at addr, its length taken from its header. */
static const uint8_t *table(const struct gmem *gm, uint64_t addr)
{
	return gpa(gm, addr, rd32(gpa(gm, addr, 8) + 4));
}

/* Every table reachable from the RSDP, each through iasl. */
static void test_tables(const struct gmem *gm, unsigned ncpus, const char *dir)
{
	const uint8_t *r = gpa(gm, X86_ACPI_ADDR, 36), *x, *fadt = NULL;
	char *dsl;

	printf("# %u vCPUs, tables in %s\n", ncpus, dir);
	x = table(gm, rd64(r + 24));
	free(check_iasl(dir, "xsdt", x, rd32(x + 4)));
	free(check_iasl(dir, "rsdt", table(gm, rd32(r + 16)), rd32(table(gm, rd32(r + 16)) + 4)));
	for (unsigned i = 0; i < (rd32(x + 4) - 36) / 8; i++) {
		const uint8_t *t = table(gm, rd64(x + 36 + 8 * i));
		char base[5] = { 0 };

		for (unsigned c = 0; c < 4; c++)
			base[c] = (char)(t[c] | 0x20);	/* FACP -> facp, APIC -> apic */
		free(check_iasl(dir, base, t, rd32(t + 4)));
		if (memcmp(t, "FACP", 4) == 0)
			fadt = t;
	}
	CHECK(fadt != NULL, "XSDT lists a FADT");
	if (!fadt)
		return;
	free(check_iasl(dir, "facs", table(gm, rd32(fadt + 36)), 64));
	dsl = check_iasl(dir, "dsdt", table(gm, rd64(fadt + 140)),
			 rd32(table(gm, rd64(fadt + 140)) + 4));
	check_dsdt_asl(dsl);
	free(dsl);
	check_acpiexec(dir);
}

int main(void)
{
	static const unsigned counts[] = { 1, 64 };
	const char *tmp = getenv("TMPDIR");
	struct gmem gm;

	log_set_level(LOG_ERR);
	if (!tool_found("iasl"))
		CHECK_SKIP_ALL("iasl not found: install acpica-tools (scripts/setup.sh)");
	if (test_gmem_new(&gm, 64 * MiB) != 0)
		CHECK_SKIP_ALL("cannot allocate 64 MiB");
	for (unsigned i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		struct telf t;
		struct x86_boot_config cfg = { .kernel = t.bytes, .kernel_len = sizeof(t.bytes),
					       .cmdline = "", .ncpus = counts[i] };
		struct x86_boot_info bi;
		char dir[4096];
		int failed = check_failed;

		telf_build(&t);
		CHECK_EQ(x86_boot_setup(&gm, &cfg, &bi), 0, "x86_boot_setup");
		snprintf(dir, sizeof(dir), "%s/vmm-acpi-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(dir)) {
			CHECK(0, "mkdtemp %s", dir);
			continue;
		}
		test_tables(&gm, counts[i], dir);
		if (check_failed == failed)
			rm_rf(dir);
		else
			printf("# kept %s for a look\n", dir);
	}
	test_gmem_free(&gm);
	return check_done();
}
