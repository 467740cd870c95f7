#include "console.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"
#include "vm.h"

/* Saved terminal state; global so that signal handlers can restore it. */
static struct termios saved_tio;
static volatile sig_atomic_t tio_saved;

void console_restore_terminal(void)
{
	if (tio_saved)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
}

/*
 * A crash: give the terminal back. The handler was installed with
 * SA_RESETHAND, so returning re-runs the faulting instruction (or abort's
 * second raise) under the default action: no signal syscall here, which a
 * confined thread could not make (confine.h).
 */
static void fatal_signal(int sig)
{
	(void)sig;
	console_restore_terminal();
}

static int raw_mode_enter(void)
{
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
	struct sigaction sa = { .sa_handler = fatal_signal, .sa_flags = SA_RESETHAND };
	struct termios raw;

	if (tcgetattr(STDIN_FILENO, &saved_tio) < 0)
		return -errno;
	raw = saved_tio;
	cfmakeraw(&raw);
	raw.c_oflag |= OPOST | ONLCR;	/* keep "\n" -> "\r\n" for our own logs */
	tio_saved = 1;
	atexit(console_restore_terminal);
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		sigaction(fatal[i], &sa, NULL);
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) < 0)
		return -errno;
	return 0;
}

int console_open(struct console *c)
{
	int p[2];

	c->in_fd = STDIN_FILENO;
	c->out_fd = STDOUT_FILENO;
	c->escape = false;
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
		int err = -errno;

		log_err("console: pipe: %s", strerror(errno));
		return err;
	}
	c->pipe_r = p[0];
	c->pipe_w = p[1];
	c->tty = isatty(STDIN_FILENO);
	if (c->tty && raw_mode_enter() < 0) {
		log_warn("console: cannot put the terminal in raw mode; line mode it is");
		c->tty = false;
	}
	if (c->tty)
		log_info("console: Ctrl-A x quits, Ctrl-A Ctrl-A sends Ctrl-A");
	return 0;
}

void console_close(struct console *c)
{
	console_restore_terminal();
	if (c->pipe_r >= 0)
		close(c->pipe_r);
	if (c->pipe_w >= 0)
		close(c->pipe_w);
	c->pipe_r = c->pipe_w = -1;
}

/* Filter escapes in place; returns the bytes left for the guest. */
static size_t console_escapes(struct console *c, struct vm *vm, char *buf, size_t n)
{
	size_t out = 0;

	for (size_t i = 0; i < n; i++) {
		if (c->escape) {
			c->escape = false;
			if (buf[i] == 'x' || buf[i] == 'X') {
				vm_request_stop(vm, VM_EXIT_OK, "console: quit (Ctrl-A x)");
				return out;
			}
			if (buf[i] == CONSOLE_ESCAPE_CHAR)
				buf[out++] = buf[i];
			continue;
		}
		if (buf[i] == CONSOLE_ESCAPE_CHAR)
			c->escape = true;
		else
			buf[out++] = buf[i];
	}
	return out;
}

int console_input(struct console *c, struct vm *vm)
{
	char buf[PIPE_BUF];
	ssize_t n = read(c->in_fd, buf, sizeof(buf));
	size_t len;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		c->in_fd = -1;
		return -EPIPE;
	}
	len = c->tty ? console_escapes(c, vm, buf, (size_t)n) : (size_t)n;
	/* Writes up to PIPE_BUF are atomic and POLLOUT promised that much room. */
	if (len && write(c->pipe_w, buf, len) < 0)
		log_warn("console: %zu input bytes lost: %s", len, strerror(errno));
	return 0;
}
