#include "proc_activity.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Read a small /proc file under dir into buf, NUL-terminated; bytes or -errno. */
static ssize_t read_small(int dir, const char *name, char *buf, size_t size)
{
	int fd = openat(dir, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* One thread: its state letter (after the ")" that ends comm) and CPU ns. */
static int thread_read(int task, const char *tid, char *state, uint64_t *cpu_ns)
{
	char buf[512];
	const char *p;
	int dir = openat(task, tid, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dir < 0)
		return -errno;
	int err = read_small(dir, "stat", buf, sizeof(buf)) < 0 ? -ESRCH : 0;

	p = err ? NULL : strrchr(buf, ')');
	if (!err && (!p || p[1] != ' ' || !p[2]))
		err = -EPROTO;
	if (!err) {
		*state = p[2];
		/* schedstat: "<ns on a CPU> <ns waiting for one> <slices>" */
		err = read_small(dir, "schedstat", buf, sizeof(buf)) < 0 ? -ESRCH : 0;
		*cpu_ns = err ? 0 : strtoull(buf, NULL, 10);
	}
	close(dir);
	return err;
}

int proc_activity_read(pid_t pid, struct proc_activity *a)
{
	char path[64];
	struct dirent *e;
	DIR *d;

	*a = (struct proc_activity){ 0 };
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? -ESRCH : -errno;
	while ((e = readdir(d))) {
		uint64_t ns = 0;
		char state = '?';

		if (e->d_name[0] == '.' || thread_read(dirfd(d), e->d_name, &state, &ns))
			continue;
		a->threads++;
		a->runnable += state == 'R';
		a->in_io += state == 'D';
		a->cpu_ns += ns;
	}
	closedir(d);
	return a->threads ? 0 : -ESRCH;
}
