/*
 * Entry points of the benchmark guest. One ELF boots both ways:
 *  - vmm-monitor: the Linux 64-bit boot protocol, at e_entry (_start), in
 *    long mode with paging already on;
 *  - QEMU (-kernel): PVH, at the XEN_ELFNOTE_PHYS32_ENTRY address, in
 *    32-bit protected mode with paging off; we turn long mode on ourselves.
 */
	.section .note.pvh, "a"
	.align 4
	.long 4				/* name size: "Xen\0" */
	.long 8				/* descriptor size */
	.long 18			/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.align 4
	.quad pvh_entry

	.section .text.entry, "ax"
	.code64
	.globl _start
_start:
	lea stack_top(%rip), %rsp
	call bench_main
1:	hlt
	jmp 1b

	.code32
pvh_entry:
	lgdt gdt_desc
	mov %cr4, %eax
	or $0x20, %eax			/* PAE */
	mov %eax, %cr4
	mov $pml4, %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx		/* EFER */
	rdmsr
	or $0x100, %eax			/* LME */
	wrmsr
	mov %cr0, %eax
	or $0x80000001, %eax		/* PG | PE */
	mov %eax, %cr0
	ljmp $0x08, $long_mode

	.code64
long_mode:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	jmp _start

	.section .rodata
	.align 8
gdt:
	.quad 0
	.quad 0x00af9a000000ffff	/* 0x08: 64-bit code */
	.quad 0x00cf92000000ffff	/* 0x10: data */
gdt_desc:
	.word gdt_desc - gdt - 1
	.long gdt

	/*
	 * Identity map of the first 4 GiB with 2 MiB pages, built by the
	 * assembler: PCI BARs (and the LAPIC) live just below 4 GiB.
	 */
	.section .data
	.align 4096
pml4:	.quad pdpt + 0x3
	.fill 511, 8, 0
pdpt:	.quad pd + 0x3, pd + 0x1003, pd + 0x2003, pd + 0x3003
	.fill 508, 8, 0
pd:
	.set page, 0
	.rept 2048
	.quad (page << 21) + 0x83
	.set page, page + 1
	.endr

	.section .bss
	.align 16
	.space 8192
stack_top:

	.section .note.GNU-stack, "", @progbits
