/*
 * Guest runtime: libc bits, the polled 8250 console, printf, check
 * reporting and power control.
 */
#include "rt.h"

/* ---- libc ---------------------------------------------------------------- */

void *memset(void *d, int c, size_t n)
{
	unsigned char *p = d;

	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;

	while (n--)
		*dp++ = *sp++;
	return d;
}

void *memmove(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;

	if (dp <= sp || dp >= sp + n)
		return memcpy(d, s, n);
	while (n--)
		dp[n] = sp[n];
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (unsigned char)*a - (unsigned char)*b;
		if (!*a)
			break;
	}
	return 0;
}

void cpu_halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* ---- console ------------------------------------------------------------- */

#define UART_LSR_THRE 0x20

static bool con_on = true;

void con_enable(bool on)
{
	con_on = on;
}

void con_putc(char c)
{
	unsigned spin;

	if (!con_on)
		return;
	/* Bounded: a UART that never drains must not hang the guest. */
	for (spin = 0; spin < 1000; spin++)
		if (inb(COM1 + 5) & UART_LSR_THRE)
			break;
	outb(COM1, (uint8_t)c);
}

void con_puts(const char *s)
{
	while (*s)
		con_putc(*s++);
}

static void put_uint(uint64_t v, unsigned base, bool upper, unsigned width,
		     char pad)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char buf[24];
	unsigned n = 0;

	do {
		buf[n++] = digits[v % base];
		v /= base;
	} while (v);
	while (width > n && width--)
		con_putc(pad);
	while (n)
		con_putc(buf[--n]);
}

static void put_int(int64_t v, unsigned width, char pad)
{
	uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	if (v < 0) {
		con_putc('-');
		if (width)
			width--;
	}
	put_uint(mag, 10, false, width, pad);
}

/* One conversion starting after '%'; returns the pointer past it. */
static const char *put_conv(const char *f, va_list *ap)
{
	char pad = ' ';
	unsigned width = 0, lng = 0;
	const char *s;

	if (*f == '0')
		pad = '0', f++;
	while (*f >= '0' && *f <= '9')
		width = width * 10 + (unsigned)(*f++ - '0');
	while (*f == 'l')
		lng++, f++;
	switch (*f) {
	case 'd':
	case 'i':
		put_int(lng ? va_arg(*ap, long) : va_arg(*ap, int), width, pad);
		break;
	case 'u':
		put_uint(lng ? va_arg(*ap, unsigned long) : va_arg(*ap, unsigned),
			 10, false, width, pad);
		break;
	case 'x':
	case 'X':
		put_uint(lng ? va_arg(*ap, unsigned long) : va_arg(*ap, unsigned),
			 16, *f == 'X', width, pad);
		break;
	case 'p':
		con_puts("0x");
		put_uint((uintptr_t)va_arg(*ap, void *), 16, false, width, pad);
		break;
	case 'c':
		con_putc((char)va_arg(*ap, int));
		break;
	case 's':
		s = va_arg(*ap, const char *);
		con_puts(s ? s : "(nul)");
		break;
	case '%':
		con_putc('%');
		break;
	case '\0':
		return f;
	default:
		con_putc('%');
		con_putc(*f);
		break;
	}
	return f + 1;
}

void vprintf(const char *fmt, va_list ap)
{
	va_list aq;

	va_copy(aq, ap);
	while (*fmt) {
		if (*fmt != '%')
			con_putc(*fmt++);
		else
			fmt = put_conv(fmt + 1, &aq);
	}
	va_end(aq);
}

void printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

/* ---- checks ------------------------------------------------------------ */

static const char *t_name = "guest";
static unsigned t_checks, t_failed;

void t_begin(const char *guest_name)
{
	t_name = guest_name;
}

bool t_expect(bool ok, const char *fmt, ...)
{
	va_list ap;

	t_checks++;
	if (!ok)
		t_failed++;
	printf("%s %s: ", ok ? "ok" : "FAIL", t_name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	con_putc('\n');
	return ok;
}

void t_fail(const char *fmt, ...)
{
	va_list ap;

	t_checks++;
	t_failed++;
	printf("FAIL %s: ", t_name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	con_putc('\n');
}

void t_info(const char *fmt, ...)
{
	va_list ap;

	printf("%s: ", t_name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	con_putc('\n');
}

unsigned t_failures(void)
{
	return t_failed;
}

void t_end(void)
{
	con_enable(true);
	if (t_failed)
		printf("FAIL %s: %u of %u checks failed\n", t_name, t_failed,
		       t_checks);
	else
		printf("PASS %s\n", t_name);
	power_off();
}

/* ---- power ------------------------------------------------------------- */

#define PM1A_CNT    0x604
#define SLP_TYP_S5  5
#define SLP_EN      (1u << 13)

/*
 * A VMM may apply a write after the vCPU has moved on (vmm-monitor posts
 * device writes), so give a power or reset request some time before
 * calling it ignored. Linux, too, just polls after writing SLP_EN. Each
 * read is an exit to the VMM: 5000 of them is tens of milliseconds.
 */
static void settle(uint16_t port)
{
	unsigned i;

	for (i = 0; i < 5000; i++)
		(void)inb(port);
}

void power_off(void)
{
	outw(PM1A_CNT, (SLP_TYP_S5 << 10) | SLP_EN);
	settle(0x600);		/* PM1a status, as Linux polls WAK_STS */
	con_enable(true);
	printf("FAIL %s: still running after the ACPI S5 write to 0x604\n",
	       t_name);
	i8042_reset();
	printf("FAIL %s: still running after the i8042 reset; halting\n",
	       t_name);
	cpu_halt_forever();
}

void i8042_reset(void)
{
	unsigned spin;

	/* Linux's kb_wait(): input buffer ful (status bit 1) must clear. */
	for (spin = 0; spin < 1000; spin++)
		if (!(inb(0x64) & 0x02))
			break;
	outb(0x64, 0xfe);
	settle(0x64);
}
