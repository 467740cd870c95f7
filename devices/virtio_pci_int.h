/*
 * What the virtio-pci transport's two files share (not a public contract:
 * that is virtio_pci.h). virtio_pci.c holds interrupts, reset, the ISR,
 * device configuration and notify regions, and create/destroy;
 * virtio_pci_common.c the common configuration region.
 */
#ifndef VMM_DEVICES_VIRTIO_PCI_INT_H
#define VMM_DEVICES_VIRTIO_PCI_INT_H

#include "virtio_pci.h"

/*
 * Serve trap t on the common configuration region (region 0; t->offset
 * inside it, t->len 1, 2, 4 or 8 as virtio_pci_trap checked): fields at
 * their natural width as virtio_pci.h says; other accesses read 0 and are
 * dropped, logged once.
 */
void virtio_pci_common_trap(struct virtio_pci *vp, struct trap *t);

/* Every field of the common configuration, at the sizes it serves (no read there has an effect). */
void virtio_pci_common_shadow(struct virtio_pci *vp, struct trap_shadow *sh);

#endif
