/*
 * Entry of every test guest.
 *
 * The image is linked at 1 MiB (link.ld) and laid out like the protected-mode
 * part of a bzImage: offset 0 is the 32-bit entry (code32_start), offset
 * 0x200 the 64-bit entry, which is also the ELF entry point. mkbzimage.py
 * relies on this, so the ELF and the bzImage of a guest start at the same
 * instruction.
 *
 * The Linux 64-bit boot protocol hands us: long mode, paging on, interrupts
 * off, %rsi = struct boot_params. We keep %rsi, take a stack of our own,
 * zero .bss and call main(boot_params); if main returns, t_end() reports and
 * powers off.
 *
 * The 32-bit entry (what QEMU's -kernel and GRUB's "linux" use: flat
 * protected mode, paging off, %esi = boot_params) builds an identity map of
 * the low 4 GiB with 2 MiB pages, enters long mode and joins the 64-bit
 * path. vmm-monitor never uses it; it lets a guest be cross-checked on
 * another VMM.
 */
	.section .text.start, "ax"
	.code32
	.globl	startup_32
startup_32:
	cli
	cld
	movl	%esi, %ebx			/* boot_params */
	movl	$boot_pgt, %edi			/* PML4, PDPT, 4 PDs: 6 pages */
	movl	$(6 * 4096 / 4), %ecx
	xorl	%eax, %eax
	rep stosl
	movl	$boot_pgt, %edi
	leal	0x1003(%edi), %eax
	movl	%eax, (%edi)			/* PML4[0] -> PDPT */
	leal	0x1000(%edi), %edx
	leal	0x2003(%edi), %eax
	movl	$4, %ecx
1:	movl	%eax, (%edx)			/* PDPT[0..3] -> PD 0..3 */
	addl	$0x1000, %eax
	addl	$8, %edx
	loop	1b
	leal	0x2000(%edi), %edx
	movl	$0x83, %eax			/* present, writable, 2 MiB */
	movl	$2048, %ecx
2:	movl	%eax, (%edx)
	addl	$0x200000, %eax
	addl	$8, %edx
	loop	2b
	movl	%cr4, %eax
	orl	$0x20, %eax			/* PAE */
	movl	%eax, %cr4
	movl	%edi, %cr3
	movl	$0xc0000080, %ecx		/* EFER.LME */
	rdmsr
	orl	$0x100, %eax
	wrmsr
	lgdt	boot_gdt_desc
	movl	%cr0, %eax
	orl	$0x80000001, %eax		/* PG, PE */
	movl	%eax, %cr0
	ljmp	$0x08, $3f
	.code64
3:	movl	$0x10, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs
	movl	%ebx, %esi
	jmp	_start

	.org	0x200
	.code64
	.globl	_start
	.type	_start, @function
_start:
	cli
	cld
	movq	%rsi, %r12			/* boot_params */
	leaq	__bss_start(%rip), %rdi
	leaq	__bss_end(%rip), %rcx
	subq	%rdi, %rcx
	shrq	$3, %rcx			/* link.ld aligns both ends to 8 */
	xorl	%eax, %eax
	rep stosq
	leaq	stack_top(%rip), %rsp
	xorl	%ebp, %ebp
	movq	%r12, %rdi
	call	main
	call	t_end				/* does not return */
2:	cli
	hlt
	jmp	2b
	.size	_start, . - _start

	.section .rodata
	.balign	8
boot_gdt:
	.quad	0
	.quad	0x00af9a000000ffff		/* 0x08: 64-bit code */
	.quad	0x00cf92000000ffff		/* 0x10: data */
boot_gdt_desc:
	.word	boot_gdt_desc - boot_gdt - 1
	.long	boot_gdt

	/* Outside .bss: _start zeroes .bss while these may be live. */
	.section .boot32.pgt, "aw", @nobits
	.balign	4096
boot_pgt:
	.skip	6 * 4096

	.section .bss.stack, "aw", @nobits
	.balign	16
stack_bottom:
	.skip	16384
stack_top:
	.section .note.GNU-stack, "", @progbits
