/* Small helpers shared by every binary. */
#ifndef VMM_COMMON_UTIL_H
#define VMM_COMMON_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((__typeof__(x))(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))

/*
 * Parse a size: decimal digits with an optional K, M, G or T suffix (powers
 * of 1024, either case, an optional trailing "B" or "iB"). Returns 0 and
 * *out, or -EINVAL for anything else (empty, sign, junk) and -ERANGE on
 * overflow.
 */
int parse_size(const char *s, uint64_t *out) __attribute__((warn_unused_result));

/*
 * Parse an unsigned decimal integer in [min, max]. Returns 0 and *out,
 * -EINVAL for junk, -ERANGE outside the bounds.
 */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
	__attribute__((warn_unused_result));

/*
 * Parse an Ethernet unicast address, six two-digit hex pairs separated by
 * ':' ("52:54:00:12:34:56"). Returns 0 and mac[6], or -EINVAL for anything
 * else, including a multicast address (lowest bit of the first byte set).
 */
int parse_mac(const char *s, uint8_t mac[6]) __attribute__((warn_unused_result));

/*
 * Read a whole regular file into a malloc'ed buffer (*buf, *len; the
 * caller frees it). Refuses files over max_len with -EFBIG and anything
 * that is not a regular file with -EINVAL. Returns 0 or -errno.
 */
int read_whole_file(const char *path, size_t max_len, uint8_t **buf, size_t *len)
	__attribute__((warn_unused_result));

/* Monotonic clock in nanoseconds. */
uint64_t now_ns(void);

/*
 * Send buf[len] on socket sock as one message (sendmsg with flags), with
 * fd attached by SCM_RIGHTS if fd >= 0 (the caller keeps its own copy).
 * Returns the bytes sent or -errno; EINTR is retried.
 */
ssize_t sock_send_fd(int sock, const void *buf, size_t len, int fd, int flags);

/*
 * Receive one message into buf[len] (recvmsg with flags, which should
 * include MSG_CMSG_CLOEXEC): the first fd it carried in *fd (-1 if none),
 * every other one closed (fds past RLIMIT_NOFILE never arrive: the kernel
 * closes them); *truncated set when the message was longer than len.
 * Returns the bytes received (0: the peer is gone) or -errno (-EAGAIN:
 * nothing there); EINTR is retried.
 */
ssize_t sock_recv_fd(int sock, void *buf, size_t len, int *fd, int flags, bool *truncated);

#endif
