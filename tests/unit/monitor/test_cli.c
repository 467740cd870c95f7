/* vmm-monitor's command-line parsing: defaults, sizes, bounds, errors. */
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "cli.h"

#define HOST_MEM (8ULL << 30)
#define MAX_CPUS 16

static char errbuf[4096];

/* Parse a NULL-terminated list of arguments; errors go to errbuf. */
static int parse(struct cli_opts *o, const char *const *args)
{
	char *argv[32];
	int argc = 0, r;
	FILE *err = fmemopen(errbuf, sizeof(errbuf), "w");

	argv[argc++] = (char *)"vmm-monitor";
	while (*args && argc < 31)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	r = cli_parse(argc, argv, o, HOST_MEM, MAX_CPUS, err);
	fclose(err);
	return r;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void expect_error(const char *const *args, const char *needle, const char *what)
{
	struct cli_opts o;
	int r = parse(&o, args);
	int lines = count_lines(errbuf);

	errbuf[strcspn(errbuf, "\n")] = '\0';
	CHECK(r != 0 && strstr(errbuf, needle) && lines == 1,
	      "%s: refused with one line naming it (%s)", what, errbuf);
}

int main(void)
{
	struct cli_opts o;

	CHECK(parse(&o, ARGS("--kernel", "k")) == 0 && o.mem_size == 256ULL << 20 &&
	      o.ncpus == 1 && strstr(o.cmdline, "console=ttyS0") && !o.initrd &&
	      o.devices == CLI_DEVICES_PROCESS && o.dev_timeout_ns == 1000000000ull,
	      "defaults: 256M, 1 CPU, console on ttyS0, device processes, 1 s timeout");
	CHECK(parse(&o, ARGS("--kernel", "k", "--spin-us", "0", "--device-spin-us", "7",
			     "--device-timeout-ms", "250", "--devices", "inproc")) == 0 &&
	      o.vcpu_spin_ns == 0 && o.dev_spin_ns == 7000 && o.dev_timeout_ns == 250000000ull &&
	      o.devices == CLI_DEVICES_INPROC, "spin budgets, timeout, inproc");
	CHECK(parse(&o, ARGS("--kernel", "k", "--mem", "1G", "--cpus", "8", "--initrd", "i",
			     "--cmdline", "a=b")) == 0 &&
	      o.mem_size == 1ULL << 30 && o.ncpus == 8 && strcmp(o.initrd, "i") == 0 &&
	      strcmp(o.cmdline, "a=b") == 0, "every option taken");
	CHECK(parse(&o, ARGS("--kernel", "k", "--mem", "65536k")) == 0 && o.mem_size == 64ULL << 20,
	      "lower-case suffix");
	CHECK(parse(&o, ARGS("--kernel", "k", "--mem", "33554432")) == 0 &&
	      o.mem_size == 32ULL << 20, "plain bytes");
	CHECK(parse(&o, ARGS("--help")) == 0 && o.help, "--help needs no kernel");
	CHECK(parse(&o, ARGS("--kernel", "k", "--devices", "process", "--sandbox", "log")) == 0 &&
	      o.devices == CLI_DEVICES_PROCESS && o.sandbox == CLI_SANDBOX_LOG,
	      "--devices process and --sandbox log parse");

	CHECK(parse(&o, ARGS("--kernel", "k", "--disk", "path=/a.img", "--disk",
			     "path=/b.img,readonly=on,serial=S1", "--console", "out=/o,in=/i")) == 0 &&
	      o.machine.ndisks == 2 && strcmp(o.machine.disk[0].path, "/a.img") == 0 &&
	      !o.machine.disk[0].readonly && o.machine.disk[1].readonly &&
	      strcmp(o.machine.disk[1].serial, "S1") == 0 &&
	      strcmp(o.machine.console_out, "/o") == 0 && strcmp(o.machine.console_in, "/i") == 0,
	      "--disk twice (readonly, serial) and --console");
	expect_error(ARGS("--kernel", "k", "--disk", "readonly=on"), "path=FILE", "--disk without path");
	expect_error(ARGS("--kernel", "k", "--disk", "path=/a,bogus=1"), "path=FILE",
		     "--disk unknown key");
	expect_error(ARGS("--kernel", "k", "--disk", "path=/a,serial=123456789012345678901"),
		     "20 bytes", "--disk serial too long");
	expect_error(ARGS("--kernel", "k", "--disk", "a", "--disk", "path=/b"), "path=FILE",
		     "--disk without key=value");
	CHECK(parse(&o, ARGS("--kernel", "k", "--net", "tap=tap0", "--net",
			     "tap=vmmtap1,mac=52:54:00:AB:cd:01")) == 0 &&
	      o.machine.nnics == 2 && strcmp(o.machine.nic[0].tap, "tap0") == 0 &&
	      !o.machine.nic[0].mac && strcmp(o.machine.nic[1].mac, "52:54:00:AB:cd:01") == 0,
	      "--net twice, one with a MAC");
	expect_error(ARGS("--kernel", "k", "--net", "mac=52:54:00:00:00:01"), "tap=NAME",
		     "--net without tap");
	expect_error(ARGS("--kernel", "k", "--net", "tap=t,mac=01:00:5e:00:00:01"), "unicast",
		     "--net with a multicast MAC");
	expect_error(ARGS("--kernel", "k", "--net", "tap=t,mac=52:54:00:00:00"), "unicast",
		     "--net with a short MAC");
	expect_error(ARGS("--kernel", "k", "--net", "tap=0123456789abcdef"), "at most 15",
		     "--net with a tap name too long for an interface");
	expect_error(ARGS("--kernel", "k", "--net", "tap=a", "--net", "tap=b", "--net", "tap=c",
			  "--net", "tap=d", "--net", "tap=e"), "at most 4", "five NICs");
	expect_error(ARGS("--kernel", "k", "--disk", "path=1", "--disk", "path=2", "--disk", "path=3",
			  "--disk", "path=4", "--disk", "path=5", "--disk", "path=6", "--disk", "path=7",
			  "--disk", "path=8", "--disk", "path=9"), "at most 8", "nine disks");
	expect_error(ARGS("--kernel", "k", "--console", "in=/i"), "out=FILE", "--console without out");
	CHECK(parse(&o, ARGS("--kernel", "k")) == 0 && !o.machine.vsock_socket, "no --vsock: none");
	CHECK(parse(&o, ARGS("--kernel", "k", "--vsock", "socket=/run/v.sock,cid=4294967294")) == 0 &&
	      strcmp(o.machine.vsock_cid, "4294967294") == 0 &&
	      strcmp(o.machine.vsock_socket, "/run/v.sock") == 0, "--vsock, largest CID");
	{
		char p96[128], p97[128];

		snprintf(p96, sizeof(p96), "socket=/%095d,cid=3", 0);
		snprintf(p97, sizeof(p97), "socket=/%096d,cid=3", 0);
		CHECK(parse(&o, ARGS("--kernel", "k", "--vsock", p96)) == 0 &&
		      strlen(o.machine.vsock_socket) == 96, "--vsock with a 96-byte path");
		expect_error(ARGS("--kernel", "k", "--vsock", p97), "at most 96 bytes",
			     "--vsock with a 97-byte path");
	}
	expect_error(ARGS("--kernel", "k", "--vsock", "socket=/v"), "want cid=3..4294967294",
		     "--vsock without cid");
	expect_error(ARGS("--kernel", "k", "--vsock", "cid=3"), "socket=PATH", "--vsock without socket");
	expect_error(ARGS("--kernel", "k", "--vsock", "cid=2,socket=/v"), "cid=3..", "--vsock cid=2");
	expect_error(ARGS("--kernel", "k", "--vsock", "cid=4294967295,socket=/v"), "cid=3..",
		     "--vsock cid=2^32-1");
	expect_error(ARGS("--kernel", "k", "--vsock", "cid=abc,socket=/v"), "cid=3..",
		     "--vsock cid=abc");
	expect_error(ARGS("--kernel", "k", "--vsock", "cid=3,socket="), "socket=PATH",
		     "--vsock with an empty path");
	expect_error(ARGS("--kernel", "k", "--vsock", "cid=3,socket=/v,port=1"), "socket=PATH",
		     "--vsock unknown key");
	expect_error(ARGS("--kernel", "k", "--vsock", "cid=3,socket=/v", "--vsock", "cid=4,socket=/w"),
		     "at most one --vsock", "--vsock twice");
	expect_error(ARGS("--mem", "256M"), "--kernel", "missing --kernel");
	expect_error(ARGS("--kernel", "k", "--mem", "1M"), "too small", "--mem 1M");
	expect_error(ARGS("--kernel", "k", "--mem", "100T"), "host", "--mem 100T");
	expect_error(ARGS("--kernel", "k", "--mem", "99999999999999999999G"), "not a size",
		     "--mem overflow");
	expect_error(ARGS("--kernel", "k", "--mem", "-5M"), "not a size", "--mem negative");
	expect_error(ARGS("--kernel", "k", "--mem", "12Q"), "not a size", "--mem 12Q");
	expect_error(ARGS("--kernel", "k", "--mem", "16777217"), "multiple of 4K",
		     "--mem not page aligned");
	expect_error(ARGS("--kernel", "k", "--cpus", "0"), "--cpus 0", "--cpus 0");
	expect_error(ARGS("--kernel", "k", "--cpus", "17"), "1 to 16", "--cpus above max");
	expect_error(ARGS("--kernel", "k", "--cpus", "two"), "--cpus two", "--cpus junk");
	expect_error(ARGS("--kernel", "k", "--bogus"), "--bogus", "unknown option");
	expect_error(ARGS("--kernel"), "--kernel", "option missing its argument");
	expect_error(ARGS("--kernel", "k", "extra"), "extra", "stray argument");
	expect_error(ARGS("--kernel", "k", "--devices", "vm"), "inproc process", "--devices vm");
	expect_error(ARGS("--kernel", "k", "--device-timeout-ms", "5"), "10 to 600000",
		     "--device-timeout-ms too short");
	expect_error(ARGS("--kernel", "k", "--spin-us", "x"), "--spin-us x", "--spin-us junk");
	expect_error(ARGS("--kernel", "k", "--sandbox", "tight"), "strict log off",
		     "--sandbox tight");

	/* inproc devices cannot be confined: only the default or off go with them. */
	CHECK(parse(&o, ARGS("--kernel", "k")) == 0 && o.sandbox == CLI_SANDBOX_DEFAULT,
	      "--sandbox defaults to DEFAULT (strict for device processes)");
	CHECK(parse(&o, ARGS("--kernel", "k", "--devices", "inproc")) == 0 &&
	      o.sandbox == CLI_SANDBOX_DEFAULT, "--devices inproc with the default sandbox");
	CHECK(parse(&o, ARGS("--kernel", "k", "--devices", "inproc", "--sandbox", "off")) == 0 &&
	      o.sandbox == CLI_SANDBOX_OFF, "--devices inproc --sandbox off");
	CHECK(parse(&o, ARGS("--kernel", "k", "--sandbox", "strict")) == 0 &&
	      o.sandbox == CLI_SANDBOX_STRICT, "--sandbox strict");
	expect_error(ARGS("--kernel", "k", "--devices", "inproc", "--sandbox", "strict"),
		     "cannot confine", "--devices inproc --sandbox strict");
	expect_error(ARGS("--kernel", "k", "--sandbox", "log", "--devices", "inproc"),
		     "--sandbox log", "--sandbox log --devices inproc");
	return check_done();
}
