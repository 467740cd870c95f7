/*
 * arch/arm64: the device tree arm64_fdt_build writes, read back two ways -
 * by libfdt (fdt_check_header, nodes and properties by path) and by the
 * device-tree compiler (`dtc -I dtb -O dts`, Debian's device-tree-compiler),
 * whose source form must show every node and property the machine
 * promises, with memory and CPU counts following the configuration - and
 * the Image and initrd placement of arm64_boot_load on a RAM buffer.
 */
#include <errno.h>
#include <libfdt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arm64.h"
#include "check.h"

static uint8_t fdt[ARM64_FDT_MAX];

static struct arm64_fdt_config config(unsigned ncpus, uint64_t ram)
{
	struct arm64_fdt_config c = {
		.ram_start = ARM64_RAM_START, .ram_size = ram, .ncpus = ncpus,
		.cmdline = "console=ttyS0 earlycon root=/dev/vda",
		.initrd_start = 0x5f000000, .initrd_end = 0x5f400000,
	};

	for (unsigned i = 0; i < ncpus; i++)	/* KVM's: Aff0 = index % 16, Aff1 = index / 16 */
		c.mpidr[i] = 0x80000000ULL | (i / 16) << 8 | (i % 16);
	return c;
}

/* The tree as dtc prints it, or NULL (then one failed check says why). */
static char *dtc_source(const void *blob)
{
	char dtb[] = "/tmp/vmm-test-fdt-XXXXXX";
	int fd = mkstemp(dtb), pfd[2];
	size_t len = 0, cap = 1 << 16;
	char *out = malloc(cap);
	pid_t pid;
	ssize_t n;
	int st;

	if (fd < 0 || !out || pipe(pfd) < 0 ||
	    write(fd, blob, fdt_totalsize(blob)) != (ssize_t)fdt_totalsize(blob)) {
		CHECK(0, "writing the blob for dtc");
		free(out);
		return NULL;
	}
	close(fd);
	pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		alarm(30);
		execlp("dtc", "dtc", "-q", "-I", "dtb", "-O", "dts", dtb, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	while ((n = read(pfd[0], out + len, cap - len - 1)) > 0)
		len += (size_t)n;
	out[len] = 0;
	close(pfd[0]);
	waitpid(pid, &st, 0);
	unlink(dtb);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "dtc decompiles the tree (status %d%s)",
	      WIFEXITED(st) ? WEXITSTATUS(st) : -1,
	      WIFEXITED(st) && WEXITSTATUS(st) == 127 ? ": dtc missing, run scripts/setup.sh" : "");
	return out;
}

static unsigned count(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Every node and property the machine promises, in dtc's words. */
static void test_source(void)
{
	struct arm64_fdt_config c = config(2, 512ULL << 20);
	static const char *const want[] = {
		"compatible = \"linux,dummy-virt\";",
		"interrupt-parent = <0x01>;",
		"chosen {",
		"bootargs = \"console=ttyS0 earlycon root=/dev/vda\";",
		"stdout-path = \"/uart@1000000\";",
		"linux,initrd-start = <0x00 0x5f000000>;",
		"linux,initrd-end = <0x00 0x5f400000>;",
		"memory@40000000 {",
		"device_type = \"memory\";",
		"reg = <0x00 0x40000000 0x00 0x20000000>;",
		"cpus {",
		"cpu@0 {",
		"cpu@1 {",
		"reg = <0x00 0x01>;",
		"enable-method = \"psci\";",
		"compatible = \"arm,arm-v8\";",
		"psci {",
		"compatible = \"arm,psci-0.2\\0arm,psci\";",
		"method = \"hvc\";",
		"intc@8000000 {",
		"compatible = \"arm,gic-v3\";",
		"#interrupt-cells = <0x03>;",
		"interrupt-controller;",
		/* distributor 64 KiB, two redistributors of 128 KiB */
		"reg = <0x00 0x8000000 0x00 0x10000 0x00 0x80a0000 0x00 0x40000>;",
		"its@8080000 {",
		"compatible = \"arm,gic-v3-its\";",
		"msi-controller;",
		"reg = <0x00 0x8080000 0x00 0x20000>;",
		"timer {",
		"compatible = \"arm,armv8-timer\";",
		"interrupts = <0x01 0x0d 0x08 0x01 0x0e 0x08 0x01 0x0b 0x08 0x01 0x0a 0x08>;",
		"uart@1000000 {",
		"compatible = \"ns16550a\";",
		"reg = <0x00 0x1000000 0x00 0x08>;",
		"interrupts = <0x00 0x01 0x01>;",
		"clock-frequency = <0x1c2000>;",
		"reg-io-width = <0x01>;",
		"rtc@1010000 {",
		"compatible = \"motorola,mc146818\";",
		"reg = <0x00 0x1010000 0x00 0x02>;",
		"interrupts = <0x00 0x02 0x01>;",
		"pci@3f000000 {",
		"compatible = \"pci-host-ecam-generic\";",
		"device_type = \"pci\";",
		"bus-range = <0x00 0x00>;",
		"reg = <0x00 0x3f000000 0x00 0x100000>;",
		"ranges = <0x2000000 0x00 0x10000000 0x00 0x10000000 0x00 0x2f000000>;",
		"msi-map = <0x00 0x02 0x00 0x10000>;",
	};
	char *dts;

	CHECK(arm64_fdt_build(fdt, sizeof(fdt), &c) == 0, "2 CPUs, 512 MiB: built");
	CHECK(fdt_check_header(fdt) == 0, "fdt_check_header passes");
	CHECK(fdt_totalsize(fdt) <= sizeof(fdt), "packed into its buffer (%u bytes)",
	      fdt_totalsize(fdt));
	dts = dtc_source(fdt);
	if (!dts)
		return;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		CHECK(strstr(dts, want[i]), "dtc shows: %s", want[i]);
	CHECK(count(dts, "device_type = \"cpu\";") == 2, "two cpu nodes");
	CHECK(!strstr(dts, "interrupt-map"), "no INTx map: MSI-X through the ITS only");
	free(dts);
}

/* Memory and CPU counts follow the configuration; libfdt reads what dtc read. */
static void test_counts(void)
{
	static const unsigned cpus[] = { 1, 4, 17, ARM64_MAX_CPUS };

	for (size_t k = 0; k < sizeof(cpus) / sizeof(cpus[0]); k++) {
		uint64_t ram = (uint64_t)(k + 1) << 30;
		struct arm64_fdt_config c = config(cpus[k], ram);
		int node, n = 0, len;
		const fdt64_t *reg;
		char *dts;

		CHECK(arm64_fdt_build(fdt, sizeof(fdt), &c) == 0 && fdt_check_header(fdt) == 0,
		      "%u CPUs, %llu GiB: built and checked", cpus[k], (unsigned long long)k + 1);
		node = fdt_path_offset(fdt, "/cpus");
		for (int sub = fdt_first_subnode(fdt, node); sub >= 0;
		     sub = fdt_next_subnode(fdt, sub))
			n++;
		CHECK(n == (int)cpus[k], "%u CPUs: /cpus has %d nodes", cpus[k], n);
		node = fdt_path_offset(fdt, "/memory@40000000");
		reg = fdt_getprop(fdt, node, "reg", &len);
		CHECK(reg && len == 16 && fdt64_to_cpu(reg[0]) == ARM64_RAM_START &&
		      fdt64_to_cpu(reg[1]) == ram, "memory reg = RAM start and %llu GiB",
		      (unsigned long long)k + 1);
		node = fdt_path_offset(fdt, "/intc@8000000");
		reg = fdt_getprop(fdt, node, "reg", &len);
		CHECK(reg && len == 32 && fdt64_to_cpu(reg[3]) == ARM64_GICR_SIZE * cpus[k],
		      "%u redistributors", cpus[k]);
		dts = dtc_source(fdt);
		if (dts && cpus[k] > 16)
			CHECK(strstr(dts, "cpu@100 {"), "vCPU 16's node named by its Aff1.Aff0 (1.0)");
		free(dts);
	}
}

static void test_errors(void)
{
	struct arm64_fdt_config c = config(2, 512ULL << 20);

	CHECK(arm64_fdt_build(fdt, 256, &c) == -E2BIG, "256-byte buffer: -E2BIG");
	c.ncpus = 0;
	CHECK(arm64_fdt_build(fdt, sizeof(fdt), &c) == -EINVAL, "no CPU: -EINVAL");
	c.ncpus = ARM64_MAX_CPUS + 1;
	CHECK(arm64_fdt_build(fdt, sizeof(fdt), &c) == -E2BIG, "65 CPUs: -E2BIG");
	c = config(1, 512ULL << 20);
	c.initrd_start = c.initrd_end = 0;
	CHECK(arm64_fdt_build(fdt, sizeof(fdt), &c) == 0 &&
	      fdt_getprop(fdt, fdt_path_offset(fdt, "/chosen"), "linux,initrd-start", NULL) == NULL,
	      "no initrd: no initrd properties");
}

/* A minimal Image header: branch, text_offset, image_size, flags, magic. */
static void image_header(uint8_t *img, uint64_t text_offset, uint64_t size, uint64_t flags)
{
	memset(img, 0, ARM64_IMAGE_HDR_SIZE);
	memcpy(img + 8, &text_offset, 8);
	memcpy(img + 16, &size, 8);
	memcpy(img + 24, &flags, 8);
	memcpy(img + 56, "ARM\x64", 4);
}

static void test_image(void)
{
	static uint8_t img[1 << 20], initrd[3 << 20];
	uint64_t ram_size = 64ULL << 20;
	uint8_t *ram = calloc(1, ram_size);
	struct gmem gm = { .fd = -1 };
	struct arm64_image im;
	struct arm64_boot_info bi;
	struct arm64_boot_config bc = { .kernel = img, .kernel_len = sizeof(img),
					.initrd = initrd, .initrd_len = sizeof(initrd) };

	image_header(img, 0, 4 << 20, 0xa);
	img[ARM64_IMAGE_HDR_SIZE] = 0x5a;
	memset(initrd, 0xc3, sizeof(initrd));
	CHECK(arm64_image_probe(img, sizeof(img), &im) == 0 && im.image_size == 4 << 20 &&
	      im.text_offset == 0, "probe: a 6.x Image header");
	CHECK(arm64_image_probe(img, 32, &im) == -ENOEXEC, "probe: 32 bytes: -ENOEXEC");
	image_header(img, 0, 4 << 20, 1);
	CHECK(arm64_image_probe(img, sizeof(img), &im) == -ENOEXEC, "probe: big-endian: -ENOEXEC");
	image_header(img, 0, 1000, 0);
	CHECK(arm64_image_probe(img, sizeof(img), &im) == -ENOEXEC,
	      "probe: image_size below the file's length: -ENOEXEC");
	image_header(img, 0, 0, 0);
	CHECK(arm64_image_probe(img, sizeof(img), &im) == 0 && im.text_offset == 0x80000 &&
	      im.image_size == sizeof(img), "probe: pre-3.17 header: text_offset 0x80000");
	img[56] = 'X';
	CHECK(arm64_image_probe(img, sizeof(img), &im) == -ENOEXEC, "probe: no magic: -ENOEXEC");

	arm64_mem_layout(&gm, ram_size);
	gm.r[0].hva = ram;
	CHECK(gm.nranges == 1 && gm.r[0].gpa == ARM64_RAM_START && gm.total == ram_size,
	      "layout: one range at 1 GiB");
	image_header(img, 0x80000, 4 << 20, 0xa);
	CHECK(arm64_boot_load(&gm, &bc, &bi) == 0, "load: 1 MiB Image, 3 MiB initrd, 64 MiB RAM");
	CHECK_EQ(bi.kernel_addr, ARM64_RAM_START + 0x80000, "kernel at RAM + text_offset");
	CHECK(ram[0x80000 + ARM64_IMAGE_HDR_SIZE] == 0x5a, "kernel bytes in RAM");
	CHECK_EQ(bi.fdt_addr, ARM64_RAM_START + ram_size - (2 << 20), "tree in the last 2 MiB");
	CHECK(bi.initrd_end <= bi.fdt_addr && bi.initrd_start >= bi.kernel_end &&
	      bi.initrd_end - bi.initrd_start == sizeof(initrd) && bi.initrd_start % 4096 == 0,
	      "initrd page-aligned between the kernel's bss and the tree");
	CHECK(ram[bi.initrd_start - ARM64_RAM_START] == 0xc3, "initrd bytes in RAM");
	bc.initrd_len = 60 << 20;
	CHECK(arm64_boot_load(&gm, &bc, &bi) == -E2BIG, "load: a 60 MiB initrd: -E2BIG");
	free(ram);
}

int main(void)
{
	test_source();
	test_counts();
	test_errors();
	test_image();
	return check_done();
}
