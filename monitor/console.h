/*
 * The monitor's terminal: the guest's serial console reads what the user
 * types and writes to stdout. When stdin is a terminal it is put in raw
 * mode while the VM runs and restored on every exit path (normal exit,
 * fatal signal, atexit). Escape: Ctrl-A then x quits the VM; Ctrl-A Ctrl-A
 * sends one Ctrl-A to the guest. Without a terminal, bytes pass unchanged.
 */
#ifndef VMM_MONITOR_CONSOLE_H
#define VMM_MONITOR_CONSOLE_H

#include <stdbool.h>

#define CONSOLE_ESCAPE_CHAR 0x01	/* Ctrl-A */

struct vm;

struct console {
	int in_fd;		/* the user's input (stdin), -1 after EOF */
	int out_fd;		/* the user's output (stdout) */
	int pipe_r;		/* device side: the serial reads user input here */
	int pipe_w;		/* monitor side */
	bool tty;		/* in_fd is a terminal we put in raw mode */
	bool escape;		/* the previous byte was the escape char */
};

/*
 * Open the console on stdin/stdout: create the input pipe and, on a
 * terminal, enter raw mode and install the restore handlers. Returns 0 or
 * -errno (logged).
 */
int console_open(struct console *c) __attribute__((warn_unused_result));

/* Restore the terminal and close the pipe. Safe to call twice. */
void console_close(struct console *c);

/*
 * Move what the user typed into the pipe, acting on escapes (Ctrl-A x
 * stops vm with status 0). Call when in_fd is readable and pipe_w is
 * writable. Returns 0, or -EPIPE once the input has ended.
 */
int console_input(struct console *c, struct vm *vm);

/* Restore the terminal from anywhere, even a signal handler. */
void console_restore_terminal(void);

#endif
