/*
 * The isolating steps of the sandbox (3-5 of sandbox_enter): new user,
 * mount, network, IPC and UTS namespaces with one mapped id, an empty
 * read-only tmpfs as root, and Landlock. Each returns 0 or -errno and says
 * why in res->detail.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox.h"
#include "sandbox_int.h"

#define TMPFS_MAGIC_ 0x01021994

/* ---- 3. Namespaces and the id maps ---- */

static int write_at(int dirfd, const char *file, const char *text)
{
	int fd = openat(dirfd, file, O_WRONLY | O_CLOEXEC);
	ssize_t n, len = (ssize_t)strlen(text);

	if (fd < 0)
		return -errno;
	n = write(fd, text, (size_t)len);
	n = n == len ? 0 : n < 0 ? -errno : -EIO;
	close(fd);
	return (int)n;
}

/*
 * As root, map the namespace's 65534 to the host's 65534: only a process
 * with CAP_SETUID in the parent namespace may write that, so a child that
 * stays outside writes our maps (through a /proc/self fd opened before the
 * fork, which names us, not it). Otherwise the one-id map of our own uid.
 */
static int map_ids_as_root(int procfd, int go_fd)
{
	char buf[64];

	if (read(go_fd, buf, 1) != 1)
		return 1;
	snprintf(buf, sizeof(buf), "%d %d 1\n", SANDBOX_UID, SANDBOX_UID);
	if (write_at(procfd, "uid_map", buf))
		return 2;
	snprintf(buf, sizeof(buf), "%d %d 1\n", SANDBOX_GID, SANDBOX_GID);
	return write_at(procfd, "gid_map", buf) ? 3 : 0;
}

static int unshare_all(void)
{
	return unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC |
		       CLONE_NEWUTS) < 0 ? -errno : 0;
}

static int userns_root(struct sandbox_result *res)
{
	int procfd = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC), p[2], st = 0, err;
	pid_t pid;

	if (procfd < 0 || pipe2(p, O_CLOEXEC) < 0)
		return sb_fail(res, -errno, "open /proc/self");
	pid = fork();
	if (pid == 0) {
		close(p[1]);
		_exit(map_ids_as_root(procfd, p[0]));
	}
	close(p[0]);
	err = pid < 0 ? -errno : unshare_all();
	if (pid > 0) {
		if (write(p[1], "g", 1) != 1 && !err)
			err = -EIO;
		close(p[1]);
		if (waitpid(pid, &st, 0) < 0 && !err)
			err = -errno;
		if (!err && (!WIFEXITED(st) || WEXITSTATUS(st)))
			err = -EPERM;
	} else {
		close(p[1]);
	}
	close(procfd);
	return err ? sb_fail(res, err, "unshare or uid/gid map (helper status %d)", st) : 0;
}

static int userns_self(struct sandbox_result *res)
{
	char buf[64];
	int err = unshare_all();

	if (err)
		return sb_fail(res, err, "unshare");
	if ((err = write_at(AT_FDCWD, "/proc/self/setgroups", "deny")))
		return sb_fail(res, err, "setgroups deny");
	snprintf(buf, sizeof(buf), "%d %u 1\n", SANDBOX_UID, (unsigned)geteuid());
	if ((err = write_at(AT_FDCWD, "/proc/self/uid_map", buf)))
		return sb_fail(res, err, "uid_map");
	snprintf(buf, sizeof(buf), "%d %u 1\n", SANDBOX_GID, (unsigned)getegid());
	if ((err = write_at(AT_FDCWD, "/proc/self/gid_map", buf)))
		return sb_fail(res, err, "gid_map");
	return 0;
}

int step_namespaces(const struct sandbox_config *cfg, struct sandbox_result *res)
{
	if (getpid() != 1)
		return sb_fail(res, 0, "not the init of its own pid namespace (pid %d)", (int)getpid());
	return geteuid() == 0 ? userns_root(res) : userns_self(res);
}

/* ---- 4. pivot_root into an empty read-only tmpfs ---- */

int step_pivot_root(const struct sandbox_config *cfg, struct sandbox_result *res)
{
	/* Any existing directory will do as the mount point: nobody else sees this namespace. */
	static const char dir[] = "/proc";
	struct statfs sf;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return sb_fail(res, -errno, "make / private");
	if (mount("vmm-sandbox", dir, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=4k,nr_inodes=2,mode=0555") < 0)
		return sb_fail(res, -errno, "mount the empty tmpfs");
	if (chdir(dir) < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
		return sb_fail(res, -errno, "pivot_root");
	if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		return sb_fail(res, -errno, "detach the old root");
	if (statfs("/", &sf) < 0)
		return sb_fail(res, -errno, "statfs /");
	if (sf.f_type != TMPFS_MAGIC_ || !(sf.f_flags & ST_RDONLY))
		return sb_fail(res, 0, "/ is not the read-only tmpfs");
	return 0;
}

/* ---- 5. Landlock: no file access, no TCP, no signals or abstract sockets out ---- */

/* The 6.1 headers know ABI 2; the rest is defined here from the kernel's uapi. */
struct sb_landlock_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;	/* ABI 4 */
	uint64_t scoped;		/* ABI 6 */
};
#define LL_CREATE_RULESET_VERSION (1u << 0)
#define LL_FS_ABI1 ((1ull << 13) - 1)	/* EXECUTE .. MAKE_SYM */
#define LL_FS_REFER (1ull << 13)	/* ABI 2 */
#define LL_FS_TRUNCATE (1ull << 14)	/* ABI 3 */
#define LL_FS_IOCTL_DEV (1ull << 15)	/* ABI 5 */
#define LL_FS_READ_FILE (1ull << 2)
#define LL_FS_READ_DIR (1ull << 3)
#define LL_FS_REMOVE_FILE (1ull << 5)
#define LL_RULE_PATH_BENEATH 1
#define LL_NET_BIND_TCP (1ull << 0)	/* ABI 4 */
#define LL_NET_CONNECT_TCP (1ull << 1)
#define LL_SCOPE_ABSTRACT_UNIX (1ull << 0)	/* ABI 6 */
#define LL_SCOPE_SIGNAL (1ull << 1)

static size_t landlock_attr(int abi, struct sb_landlock_attr *a)
{
	*a = (struct sb_landlock_attr){ .handled_access_fs = LL_FS_ABI1 };
	if (abi >= 2)
		a->handled_access_fs |= LL_FS_REFER;
	if (abi >= 3)
		a->handled_access_fs |= LL_FS_TRUNCATE;
	if (abi >= 5)
		a->handled_access_fs |= LL_FS_IOCTL_DEV;
	if (abi >= 4)
		a->handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
	if (abi >= 6)
		a->scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
	return abi >= 6 ? 24 : abi >= 4 ? 16 : 8;
}

int step_landlock(const struct sandbox_config *cfg, struct sandbox_result *res)
{
	struct sb_landlock_attr attr;
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
	size_t size;
	int fd;

	if (abi < 0 && (errno == ENOSYS || errno == EOPNOTSUPP)) {
		res->landlock_abi = 0;	/* reported by the caller; the one optional step */
		return 0;
	}
	if (abi < 1)
		return sb_fail(res, -errno, "Landlock ABI version");
	res->landlock_abi = (int)abi;
	size = landlock_attr((int)abi, &attr);
	fd = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
	if (fd < 0)
		return sb_fail(res, -errno, "landlock_create_ruleset (ABI %ld)", abi);
	if (syscall(SYS_landlock_restrict_self, fd, 0) < 0) {
		int err = -errno;

		close(fd);
		return sb_fail(res, err, "landlock_restrict_self");
	}
	close(fd);
	return 0;
}

/* ---- A thread's ruleset (the monitor's threads) ---- */

/* Grant `access` beneath dir in ruleset fd. */
static int landlock_beneath(int fd, const char *dir, uint64_t access, struct sandbox_result *res)
{
	struct {
		uint64_t allowed_access;
		int32_t parent_fd;
	} __attribute__((packed)) beneath = { .allowed_access = access };
	int err = 0;

	beneath.parent_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (beneath.parent_fd < 0 ||
	    syscall(SYS_landlock_add_rule, fd, LL_RULE_PATH_BENEATH, &beneath, 0) < 0)
		err = sb_fail(res, -errno, "Landlock rule for %s", dir);
	if (beneath.parent_fd >= 0)
		close(beneath.parent_fd);
	return err;
}

int sandbox_thread_landlock(const char *read_dir, const char *remove_dir, int *abi,
			    struct sandbox_result *res)
{
	struct sb_landlock_attr attr;
	long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
	size_t size;
	int fd, err = 0;

	*abi = 0;
	if (v < 0 && (errno == ENOSYS || errno == EOPNOTSUPP))
		return -1;
	if (v < 1)
		return sb_fail(res, -errno, "Landlock ABI version");
	*abi = (int)v;
	size = landlock_attr((int)v, &attr);
	attr.scoped = 0;	/* the monitor signals its devices, which have rulesets of their own */
	if (size > 16)
		size = 16;
	fd = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
	if (fd < 0)
		return sb_fail(res, -errno, "landlock_create_ruleset (ABI %ld)", v);
	if (read_dir)
		err = landlock_beneath(fd, read_dir, LL_FS_READ_FILE | LL_FS_READ_DIR, res);
	if (!err && remove_dir)
		err = landlock_beneath(fd, remove_dir, LL_FS_REMOVE_FILE, res);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}
