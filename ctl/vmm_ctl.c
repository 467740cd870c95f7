/*
 * vmm-ctl: the control API's client (ipc/api.proto; the server is
 * monitor/api.c).
 *
 *   vmm-ctl [--json] [--timeout S] PATH status|devices|stats|pause|resume|stop|powerdown
 *   vmm-ctl [--json] [--timeout S] PATH restart-device ID
 *
 * One request, one reply, each bounded by the timeout (default 5 s).
 * Prints the reply for a person, or with --json as one JSON object.
 * Exit status: 0 the monitor did it; 1 it answered with an error (printed,
 * with --json as {"error": ..., "errno": N}) or could not be reached;
 * 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "api.pb-c.h"

#define REPLY_MAX (4u << 20)

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Wait for fd to be ready for events by the deadline: 0, or -ETIMEDOUT / -errno. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		uint64_t now = mono_ms();
		int r;

		if (now >= deadline)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)(deadline - now));
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

static int io_all(int fd, uint8_t *buf, size_t len, bool out, uint64_t deadline)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n;
		int err = wait_fd(fd, out ? POLLOUT : POLLIN, deadline);

		if (err)
			return err;
		n = out ? send(fd, buf + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT)
			: recv(fd, buf + done, len - done, MSG_DONTWAIT);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	return 0;
}

/* Send rq and read its reply; NULL with *err set on failure. */
static ApiReply *call(const char *path, const ApiRequest *rq, unsigned timeout_ms, int *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t deadline = mono_ms() + timeout_ms;
	size_t n = api_request__get_packed_size(rq);
	uint8_t *buf = malloc(4 + n), hdr[4];
	ApiReply *r = NULL;
	uint32_t len;
	int fd;

	*err = 0;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		*err = -ENAMETOOLONG;
		free(buf);
		return NULL;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!buf || fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		*err = buf ? -errno : -ENOMEM;
		goto out;
	}
	buf[0] = (uint8_t)n;
	buf[1] = (uint8_t)(n >> 8);
	buf[2] = (uint8_t)(n >> 16);
	buf[3] = (uint8_t)(n >> 24);
	api_request__pack(rq, buf + 4);
	*err = io_all(fd, buf, 4 + n, true, deadline);
	if (!*err)
		*err = io_all(fd, hdr, 4, false, deadline);
	if (*err)
		goto out;
	len = (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16 |
	      (uint32_t)hdr[3] << 24;
	if (len > REPLY_MAX) {
		*err = -EMSGSIZE;
		goto out;
	}
	free(buf);
	buf = malloc(len ? len : 1);
	if (!buf) {
		*err = -ENOMEM;
		goto out;
	}
	*err = io_all(fd, buf, len, false, deadline);
	if (!*err && !(r = api_reply__unpack(NULL, len, buf)))
		*err = -EBADMSG;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return r;
}

/* A JSON string (the monitor's strings are ids and words, but quote what needs it). */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void print_status(const ApiStatus *s, bool json)
{
	if (json) {
		printf("{\"state\": ");
		json_str(s->state);
		printf(", \"pid\": %u, \"vcpus\": %u, \"mem_bytes\": %llu, \"uptime_ms\": %llu, "
		       "\"devices\": ", s->pid, s->vcpus, (unsigned long long)s->mem_bytes,
		       (unsigned long long)s->uptime_ms);
		json_str(s->devices_mode);
		printf(", \"sandbox\": ");
		json_str(s->sandbox);
		printf("}\n");
		return;
	}
	printf("state    %s\npid      %u\nvcpus    %u\nmemory   %llu MiB\nuptime   %.1f s\n"
	       "devices  %s (sandbox %s)\n", s->state, s->pid, s->vcpus,
	       (unsigned long long)(s->mem_bytes >> 20), (double)s->uptime_ms / 1000.0,
	       s->devices_mode, s->sandbox);
}

/* ns as people read it: "850ns", "12us", "3.4ms", "1.2s" (buf: 16 bytes). */
static const char *fmt_ns(uint64_t ns, char *buf)
{
	static const char *const unit[] = { "ns", "us", "ms", "s" };
	double v = (double)ns;
	unsigned u = 0;

	while (v >= 1000 && u < 3) {
		v /= 1000;
		u++;
	}
	snprintf(buf, 16, v < 10 && u ? "%.1f%s" : "%.0f%s", v, unit[u]);
	return buf;
}

static void print_devices(const ApiDevices *d, bool json)
{
	if (json)
		printf("{\"devices\": [");
	else
		printf("%-16s %-15s %7s %-9s %-15s %8s  %s\n", "ID", "CLASS", "PID", "STATE",
		       "SANDBOX", "RESTARTS", "TRAPS (FROM SHADOW)");
	for (size_t i = 0; i < d->n_devices; i++) {
		const ApiDevice *v = d->devices[i];

		if (json) {
			printf("%s{\"id\": ", i ? ", " : "");
			json_str(v->id);
			printf(", \"class\": ");
			json_str(v->class_);
			if (v->has_pid)
				printf(", \"pid\": %d", v->pid);
			printf(", \"state\": ");
			json_str(v->state);
			printf(", \"sandbox\": ");
			json_str(v->sandbox);
			printf(", \"restarts\": %u, \"regions\": [", v->restarts);
			for (size_t k = 0; k < v->n_regions; k++) {
				printf("%s{\"name\": ", k ? ", " : "");
				json_str(v->regions[k]->name);
				printf(", \"traps\": %llu, \"shadowed\": %llu, \"p50_ns\": %llu, "
				       "\"p99_ns\": %llu, \"max_ns\": %llu}",
				       (unsigned long long)v->regions[k]->traps,
				       (unsigned long long)v->regions[k]->shadowed,
				       (unsigned long long)v->regions[k]->p50_ns,
				       (unsigned long long)v->regions[k]->p99_ns,
				       (unsigned long long)v->regions[k]->max_ns);
			}
			printf("]}");
			continue;
		}
		char pid[16] = "-";

		if (v->has_pid)
			snprintf(pid, sizeof(pid), "%d", v->pid);
		printf("%-16s %-15s %7s %-9s %-15s %8u ", v->id, v->class_, pid, v->state,
		       v->sandbox, v->restarts);
		for (size_t k = 0; k < v->n_regions; k++) {
			const ApiRegion *g = v->regions[k];
			char p50[16], p99[16], max[16];

			printf(" %s %llu (%llu)", g->name, (unsigned long long)g->traps,
			       (unsigned long long)g->shadowed);
			if (g->traps)
				printf(" [%s %s %s]", fmt_ns(g->p50_ns, p50), fmt_ns(g->p99_ns, p99),
				       fmt_ns(g->max_ns, max));
		}
		printf("\n");
	}
	if (json)
		printf("]}\n");
}

static void print_stats(const ApiStats *s, bool json)
{
	if (json) {
		printf("{\"vcpus\": [");
		for (size_t i = 0; i < s->n_vcpus; i++)
			printf("%s{\"index\": %u, \"exits\": %llu, \"io\": %llu, \"mmio\": %llu}",
			       i ? ", " : "", s->vcpus[i]->index,
			       (unsigned long long)s->vcpus[i]->exits,
			       (unsigned long long)s->vcpus[i]->io,
			       (unsigned long long)s->vcpus[i]->mmio);
		printf("], \"unclaimed\": %llu, \"api_requests\": %llu, \"api_refused\": %llu}\n",
		       (unsigned long long)s->unclaimed, (unsigned long long)s->api_requests,
		       (unsigned long long)s->api_refused);
		return;
	}
	for (size_t i = 0; i < s->n_vcpus; i++)
		printf("vcpu%-3u exits %llu (port I/O %llu, MMIO %llu)\n", s->vcpus[i]->index,
		       (unsigned long long)s->vcpus[i]->exits, (unsigned long long)s->vcpus[i]->io,
		       (unsigned long long)s->vcpus[i]->mmio);
	printf("unclaimed accesses %llu\napi requests %llu, refused %llu\n",
	       (unsigned long long)s->unclaimed, (unsigned long long)s->api_requests,
	       (unsigned long long)s->api_refused);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: vmm-ctl [--json] [--timeout S] PATH COMMAND [ID]\n"
		   "Talk to a vmm-monitor started with --api-socket PATH.\n"
		   "  status    state (running, paused, stopping), pid, vCPUs, memory, uptime\n"
		   "  devices   each device: class, process, state, sandbox, restarts; per region\n"
		   "            traps (of them from its shadow) [p50 p99 max of the vCPU's wait]\n"
		   "  stats     each vCPU's exits; unclaimed accesses; API requests and refusals\n"
		   "  pause     stop running the guest's vCPUs (devices keep their state)\n"
		   "  resume    run them again\n"
		   "  stop      end the VM now (status 0)\n"
		   "  powerdown press the guest's ACPI power button (it decides how to shut down)\n"
		   "  restart-device ID  replace device ID's process (or model) with one resumed\n"
		   "            from its saved state; the guest goes on\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' }, { "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	static const char *const cmds[] = { "status", "devices", "stats", "pause", "resume", "stop",
					    "powerdown", "restart-device" };
	ApiRequest rq = API_REQUEST__INIT;
	ApiEmpty empty = API_EMPTY__INIT;
	ApiDeviceId dev = API_DEVICE_ID__INIT;
	double timeout = 5.0;
	bool json = false;
	ApiReply *r;
	int opt, err, cmd = -1;

	while ((opt = getopt_long(argc, argv, "jt:h", opts, NULL)) != -1) {
		char *end;

		switch (opt) {
		case 'j': json = true; break;
		case 't':
			timeout = strtod(optarg, &end);
			if (*end || timeout <= 0 || timeout > 3600) {
				fprintf(stderr, "vmm-ctl: --timeout %s: want seconds, 0 to 3600\n", optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind != 2 && argc - optind != 3) {
		usage(stderr);
		return 2;
	}
	for (int i = 0; i < (int)(sizeof(cmds) / sizeof(cmds[0])); i++)
		if (strcmp(argv[optind + 1], cmds[i]) == 0)
			cmd = i;
	if (cmd < 0) {
		fprintf(stderr, "vmm-ctl: unknown command %s (see --help)\n", argv[optind + 1]);
		return 2;
	}
	if ((argc - optind == 3) != (cmd == 7)) {
		fprintf(stderr, "vmm-ctl: %s %s\n", argv[optind + 1],
			cmd == 7 ? "needs a device id (see `devices`)" : "takes no argument");
		return 2;
	}
	rq.cmd_case = (ApiRequest__CmdCase)(API_REQUEST__CMD_STATUS + cmd);
	if (cmd == 7) {
		dev.id = argv[optind + 2];
		rq.restart_device = &dev;
	} else {
		rq.status = &empty;	/* the oneof's storage: these members are ApiEmpty */
	}
	r = call(argv[optind], &rq, (unsigned)(timeout * 1000), &err);
	if (!r) {
		fprintf(stderr, "vmm-ctl: %s: %s\n", argv[optind], strerror(-err));
		return 1;
	}
	switch (r->body_case) {
	case API_REPLY__BODY_ERROR:
		if (json) {
			printf("{\"error\": ");
			json_str(r->error->message);
			printf(", \"errno\": %d}\n", r->error->errno_value);
		} else {
			fprintf(stderr, "vmm-ctl: %s: %s\n", argv[optind + 1], r->error->message);
		}
		api_reply__free_unpacked(r, NULL);
		return 1;
	case API_REPLY__BODY_OK:
		printf(json ? "{\"ok\": true}\n" : "ok\n");
		break;
	case API_REPLY__BODY_STATUS:
		print_status(r->status, json);
		break;
	case API_REPLY__BODY_DEVICES:
		print_devices(r->devices, json);
		break;
	case API_REPLY__BODY_STATS:
		print_stats(r->stats, json);
		break;
	default:
		fprintf(stderr, "vmm-ctl: an empty reply\n");
		api_reply__free_unpacked(r, NULL);
		return 1;
	}
	api_reply__free_unpacked(r, NULL);
	return 0;
}
