/*
 * The spawner (monitor/spawner.h) with a stand-in for vmm-devproc: a
 * shell script ($VMM_DEVPROC) that writes its arguments, its pid and what
 * its stdin is to fd 3, then exits 7. Checks that the new process is this
 * test's child (waited on through its pidfd), in a new pid namespace unless
 * the sandbox is off, and that malformed requests are refused without
 * harm. Every wait has a deadline.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../check.h"
#include "sandbox.h"
#include "spawner.h"

#define WAIT_MS 5000

static char dir[64], script[128];

static bool readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

static int stand_in(void)
{
	FILE *f;

	snprintf(dir, sizeof(dir), "/tmp/vmm-spawner-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(script, sizeof(script), "%s/devproc", dir);
	f = fopen(script, "w");
	if (!f)
		return -1;
	fprintf(f, "#!/bin/sh\nprintf '%%s %%s %%s %%s %%s' \"$2\" \"$4\" \"$6\" $$ "
		   "\"$(readlink /proc/self/fd/0)\" >&3\nexit 7\n");
	fclose(f);
	chmod(script, 0700);
	return setenv("VMM_DEVPROC", script, 1);
}

/*
 * Spawn one, read what it wrote on its fd 3, reap it through its pidfd.
 * want_pid: its pid as it sees it; NULL: the one the spawner answered.
 */
static void spawn_and_reap(struct spawner *s, unsigned sandbox, const char *want_pid)
{
	char buf[256] = "", want[256];
	int sv[2], pidfd = -1, err;
	pid_t pid = -1;
	siginfo_t si = { 0 };

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	err = spawner_spawn(s, "virtio-blk1", "vm42", sandbox, sv[1], &pid, &pidfd);
	close(sv[1]);
	CHECK(err == 0 && pid > 0 && pidfd >= 0, "sandbox %u: spawned (err %d, pid %d)",
	      sandbox, err, (int)pid);
	if (err) {
		close(sv[0]);
		return;
	}
	CHECK(readable(sv[0], WAIT_MS) && read(sv[0], buf, sizeof(buf) - 1) > 0,
	      "it wrote on its fd 3");
	if (want_pid)
		snprintf(want, sizeof(want), "3 virtio-blk1 vm42 %s /dev/null", want_pid);
	else
		snprintf(want, sizeof(want), "3 virtio-blk1 vm42 %d /dev/null", (int)pid);
	CHECK(strcmp(buf, want) == 0, "sandbox %u: it said \"%s\", want \"%s\"", sandbox, buf,
	      want);
	CHECK(readable(pidfd, WAIT_MS), "its pidfd fires when it exits");
	CHECK(waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED) == 0 && si.si_pid == pid &&
	      si.si_code == CLD_EXITED && si.si_status == 7,
	      "it is our child, reaped through its pidfd with status 7 (code %d status %d)",
	      si.si_code, si.si_status);
	close(pidfd);
	close(sv[0]);
}

int main(void)
{
	struct spawner s = { .sock = -1 };
	int sv[2], pidfd = -1, err;
	pid_t pid = -1;

	signal(SIGPIPE, SIG_IGN);
	if (stand_in() != 0)
		CHECK_SKIP_ALL("cannot write a stand-in script under /tmp");
	CHECK(spawner_start(&s) == 0 && s.pid > 0 && s.sock >= 0, "the spawner starts");

	spawn_and_reap(&s, SANDBOX_OFF, NULL);
	if (geteuid() == 0)
		spawn_and_reap(&s, SANDBOX_STRICT, "1");	/* init of its own pid namespace */
	else
		CHECK(1, "# not root: the pid namespace case needs CAP_SYS_ADMIN");

	/* Refused requests change nothing. */
	socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
	err = spawner_spawn(&s, "bad id", "vm42", SANDBOX_OFF, sv[1], &pid, &pidfd);
	CHECK(err == -EINVAL && pid == -1 && pidfd == -1, "an id with a space: -EINVAL (%d)", err);
	err = spawner_spawn(&s, "x", "", SANDBOX_OFF, sv[1], &pid, &pidfd);
	CHECK(err == -EINVAL, "an empty VM name: -EINVAL (%d)", err);
	err = spawner_spawn(&s, "x", "vm42", 9, sv[1], &pid, &pidfd);
	CHECK(err == -EINVAL, "sandbox mode 9: -EINVAL (%d)", err);
	err = spawner_spawn(&s, "an-id-far-longer-than-thirty-two-bytes", "vm42", SANDBOX_OFF,
			    sv[1], &pid, &pidfd);
	CHECK(err == -ENAMETOOLONG, "a long id: -ENAMETOOLONG, not sent (%d)", err);
	{	/* a raw message: too short and no fd */
		int32_t reply[2] = { 1, 1 };

		CHECK(send(s.sock, "abc", 3, 0) == 3 && readable(s.sock, WAIT_MS) &&
		      recv(s.sock, reply, sizeof(reply), 0) == sizeof(reply) &&
		      reply[0] == -EINVAL, "a 3-byte message without an fd: -EINVAL (%d)", reply[0]);
	}
	close(sv[0]);
	close(sv[1]);
	spawn_and_reap(&s, SANDBOX_OFF, NULL);

	/* Gone: the next request says so at once. */
	kill(s.pid, SIGKILL);
	waitpid(s.pid, NULL, 0);
	s.pid = 0;
	socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
	err = spawner_spawn(&s, "x", "vm42", SANDBOX_OFF, sv[1], &pid, &pidfd);
	CHECK(err == -EPIPE, "a killed spawner: -EPIPE (%d)", err);
	close(sv[0]);
	close(sv[1]);
	spawner_stop(&s);
	CHECK(s.sock == -1 && s.pid == 0, "stopped");

	CHECK(spawner_start(&s) == 0, "a second spawner starts");
	spawner_stop(&s);
	CHECK(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD, "no child left behind");
	unlink(script);
	rmdir(dir);
	return check_done();
}
