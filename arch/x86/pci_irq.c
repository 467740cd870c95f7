/*
 * PCI INTx routing on bus 0: the one rule the MP table, the DSDT's _PRT
 * and the monitor's INTx injection share. Eight IOAPIC pins above the ISA
 * IRQs, rotated by slot like a PC chipset's PIRQ swizzle, so that the INTA
 * of adjacent slots (the only pin single-function devices use) do not
 * share a line until the ninth slot.
 */
#include "boot.h"

_Static_assert(X86_PCI_INTX_GSI_BASE >= 16 &&
	       X86_PCI_INTX_GSI_BASE + X86_PCI_INTX_GSIS <= X86_IOAPIC_PINS,
	       "PCI INTx GSIs: above the ISA IRQs, on the IOAPIC");

uint32_t x86_pci_intx_gsi(unsigned slot, unsigned pin)
{
	return X86_PCI_INTX_GSI_BASE + (slot + pin) % X86_PCI_INTX_GSIS;
}
