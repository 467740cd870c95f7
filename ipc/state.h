/*
 * A device's state region: a memfd the monitor owns and maps into each
 * process it starts for the device, in which the device keeps what it
 * needs to resume (device_save's bytes) and where its rings stood
 * (struct ring_resume), so that a replacement process picks up where the
 * dead one stopped. Two slots: the device writes the one not committed,
 * then commits it by publishing its number (release store); a kill at any
 * instant leaves the last committed slot whole.
 *
 * Trust: the monitor formats the region and never reads a slot; the device
 * checks the header before use, and a new process treats the committed
 * slot as untrusted input (device_load validates every field).
 */
#ifndef VMM_IPC_STATE_H
#define VMM_IPC_STATE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "ring.h"

#define STATE_MAGIC    0x54534d56u	/* "VMST" */
#define STATE_VERSION  1u
#define STATE_DATA_MAX (64u * 1024)	/* bytes of device state in a slot */

struct state_slot {
	uint64_t gen;			/* commit number it holds (from 1) */
	uint32_t len;			/* bytes of data */
	uint32_t _pad;
	struct ring_resume ring;
	uint8_t data[STATE_DATA_MAX];
};

struct state_region {
	uint32_t magic;
	uint32_t version;
	uint32_t slot_size;		/* sizeof(struct state_slot) */
	uint32_t _pad;
	_Atomic uint64_t gen;		/* last committed: slot[gen & 1]; 0: none yet */
	uint8_t _pad1[40];
	struct state_slot slot[2];
};

/* Bytes of the memfd (page-rounded). */
size_t state_region_size(void);

/* Monitor side: format len bytes at mem (nothing committed). 0 or -EINVAL. */
int state_region_init(void *mem, size_t len) __attribute__((warn_unused_result));

/* Device side: check a mapped region before use. 0 or -EPROTO. */
int state_region_check(const void *mem, size_t len) __attribute__((warn_unused_result));

/* Device side: the slot to fill for the next commit (never the committed one). */
struct state_slot *state_next(struct state_region *r);

/* Device side: commit slot s (from state_next) holding len bytes of data. */
void state_commit(struct state_region *r, struct state_slot *s, uint32_t len);

/*
 * A new process: the committed slot, or NULL if none was committed or the
 * header and slot disagree (the region was scribbled on: start afresh).
 */
const struct state_slot *state_committed(const struct state_region *r);

#endif
