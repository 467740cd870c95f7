/*
 * Entry of every test guest.
 *
 * The image is linked at 1 MiB (link.ld) and laid out like the protected-mode
 * part of a bzImage: offset 0 is the (unsupported) 32-bit entry, offset 0x200
 * the 64-bit entry, which is also the ELF entry point. mkbzimage.py relies on
 * this, so the ELF and the bzImage of a guest start at the same instruction.
 *
 * The Linux 64-bit boot protocol hands us: long mode, paging on, interrupts
 * off, %rsi = struct boot_params. We keep %rsi, take a stack of our own,
 * zero .bss and call main(boot_params); if main returns, t_end() reports and
 * powers off.
 */
	.section .text.start, "ax"
	.code32
	.globl	startup_32
startup_32:			/* 32-bit boot is not supported: stop here */
	cli
1:	hlt
	jmp	1b

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

	.section .bss.stack, "aw", @nobits
	.balign	16
stack_bottom:
	.skip	16384
stack_top:
	.section .note.GNU-stack, "", @progbits
