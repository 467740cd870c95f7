/*
 * virtio_console: port 0 of a virtio-console (no MULTIPORT), driven as
 * Linux's virtio_console does for a single console: queue 0 receiveq,
 * queue 1 transmitq. Sends the line
 *     virtio-console: hello from the guest
 * through the transmitq (interrupt for the used buffer seen in the LAPIC
 * IRR), then posts receive buffers and waits, bounded on the RTC, for bytes
 * from the host up to a newline, printing them as
 *     virtio_console: received [TEXT]
 * (non-printable bytes as '.'), with the receive queue's interrupt seen.
 *
 * Command line keys (all optional):
 *   con_wait=S       seconds to wait for input (default 10)
 *   con_expect=WORD  the received text (up to the newline) must be WORD
 *   con_noinput      do not wait for input (transmit only)
 *   qemu_exit        end through isa-debug-exit (QEMU)
 */
#include "virtio.h"

#define IRQ_WAIT_S 10	/* seconds an interrupt may take (vio_irq_wait) */
#define RXBUFS 4
#define RXLEN 128

static struct vio_dev dev;
static const char hello[] = "virtio-console: hello from the guest\n";

static void transmit(struct vio_queue *tx)
{
	uint64_t buf = vio_dma_alloc(sizeof(hello), 64);
	struct vio_buf b = { .addr = buf, .len = sizeof(hello) - 1, .write = false };
	uint8_t vec = vio_irq_rearm(tx->vd, tx);

	memcpy((void *)(uintptr_t)buf, hello, sizeof(hello));
	if (!t_expect(vio_add(tx, &b, 1, false) >= 0, "transmitq: buffer added"))
		return;
	vio_kick(tx);
	t_expect(vio_wait_used(tx, NULL, 2000000) >= 0, "transmitq: %u bytes sent and returned",
		 b.len);
	t_expect(!vec || vio_irq_wait(vec, IRQ_WAIT_S),
		 "transmitq: interrupt (vector 0x%x) in the LAPIC IRR", vec);
}

/* Append len bytes of buffer p to text; returns true at a newline. */
static bool take(char *text, unsigned *n, unsigned cap, const uint8_t *p, uint32_t len)
{
	uint32_t i;

	for (i = 0; i < len; i++) {
		if (p[i] == '\n')
			return true;
		if (*n + 1 < cap)
			text[(*n)++] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '.';
	}
	return false;
}

static void receive(struct vio_queue *rx)
{
	uint64_t bufs = vio_dma_alloc(RXBUFS * RXLEN, 64), wait = 10;
	char text[256], want[64];
	struct vio_deadline dl;
	uint8_t vec = vio_irq_rearm(rx->vd, rx);
	unsigned i, n = 0, got = 0;
	bool nl = false;

	cmdline_get_u64("con_wait", &wait);
	for (i = 0; i < RXBUFS; i++) {
		struct vio_buf b = { .addr = bufs + i * RXLEN, .len = RXLEN, .write = true };

		vio_add(rx, &b, 1, false);
	}
	vio_kick(rx);
	printf("virtio_console: waiting for input\n");
	vio_deadline_start(&dl, (unsigned)wait);
	while (!nl && !vio_deadline_passed(&dl)) {
		uint32_t len = 0;
		int head = vio_get_used(rx, &len);
		struct vio_buf b = { .len = RXLEN, .write = true };

		if (head < 0)
			continue;
		b.addr = rx->desc[head].addr;	/* freed, not yet reused */
		got += len;
		nl = take(text, &n, sizeof(text), (const uint8_t *)(uintptr_t)b.addr,
			  len > RXLEN ? RXLEN : len);
		vio_add(rx, &b, 1, false);	/* give the buffer back */
		vio_kick(rx);
	}
	text[n] = 0;
	printf("virtio_console: received [%s]\n", text);
	if (!t_expect(got > 0, "receiveq: %u bytes from the host within %lu s%s", got, wait,
		      nl ? ", up to a newline" : ""))
		return;
	t_expect(!vec || vio_irq_wait(vec, IRQ_WAIT_S),
		 "receiveq: interrupt (vector 0x%x) in the LAPIC IRR", vec);
	if (cmdline_get("con_expect", want, sizeof(want)))
		t_expect(!strncmp(text, want, sizeof(want)), "received [%s], expected [%s]", text,
			 want);
}

int main(const void *zero_page);
int main(const void *zero_page)
{
	char flag[4];

	bp_init(zero_page);
	t_begin("virtio_console");
	if (!t_expect(vio_find(VIRTIO_ID_CONSOLE, &dev, 1) == 1, "virtio-console function found"))
		vio_end("virtio_console");
	if (!vio_init(&dev, 1ull << VIO_F_EVENT_IDX, 2, 0))
		vio_end("virtio_console");
	t_info("%s: features 0x%lx of 0x%lx, queue sizes %u/%u, %s", vio_name(&dev),
	       dev.features, dev.dev_features, dev.q[0].size, dev.q[1].size,
	       dev.msix_cap ? "MSI-X" : "no MSI-X");
	transmit(&dev.q[1]);
	if (!cmdline_get("con_noinput", flag, sizeof(flag)))
		receive(&dev.q[0]);
	vio_end("virtio_console");
}
