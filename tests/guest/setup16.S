/*
 * Real-mode setup code for the test guests' bzImage (mkbzimage.py puts it
 * at offset 0x26c of the setup sectors, where the jump at 0x200 lands).
 *
 * vmm-monitor does not run it: it uses the 64-bit entry. It is here so the
 * bzImage also boots from a BIOS boot loader that enters the real-mode
 * kernel (QEMU -kernel, GRUB), for cross-checking a guest on another VMM.
 * It does what Linux's setup does, minus everything optional: build a zero
 * page (setup header copied in, e820 from int 0x15 AX=0xE820), switch to
 * 32-bit protected mode and jump to code32_start with %esi = zero page.
 *
 * Entry per the boot protocol: CS = setup segment + 0x20, IP = 0,
 * DS = ES = SS = setup segment. Assembled into a relocatable object and
 * copied as raw bytes: no relocations allowed, so every address is an
 * offset computed from the setup segment at run time.
 */
	.set	BASE, 0x26c			/* offset of code_start in the setup */
	.set	ZP, 0x1000			/* zero page, offset from the segment */
#define OFF(label) (BASE + (label - code_start))

	.text
	.code16
	.globl	code_start
code_start:
	cli
	cld
	movw	%ds, %ax
	pushw	%ax				/* CS := DS, IP := setup offsets */
	pushw	$OFF(1f)
	lretw
1:	movw	%ax, %es
	movw	%ax, %ss
	movw	$0xfff0, %sp			/* below the command line (QEMU) */

	/* zero page: 4 KiB of zeros, then the setup header (0x1f1-0x26b) */
	movw	$ZP, %di
	movw	$2048, %cx
	xorw	%ax, %ax
	rep stosw
	movw	$0x1f1, %si
	movw	$(ZP + 0x1f1), %di
	movw	$(0x26c - 0x1f1), %cx
	rep movsb

	/* e820 */
	movw	$(ZP + 0x2d0), %di
	xorl	%ebx, %ebx
2:	movl	$0xe820, %eax
	movl	$20, %ecx
	movl	$0x534d4150, %edx		/* "SMAP" */
	int	$0x15
	jc	3f
	cmpl	$0x534d4150, %eax
	jne	3f
	incb	(ZP + 0x1e8)
	addw	$20, %di
	testl	%ebx, %ebx
	jz	3f
	cmpb	$128, (ZP + 0x1e8)
	jb	2b
3:
	/* linear address of the segment: patch the GDT pointer and far jump */
	xorl	%ebx, %ebx
	movw	%ds, %bx
	shll	$4, %ebx
	leal	OFF(gdt)(%ebx), %eax
	movl	%eax, OFF(gdt_desc) + 2
	leal	OFF(pm32)(%ebx), %eax
	movl	%eax, OFF(pm32_ptr)
	leal	ZP(%ebx), %esi			/* zero page, linear */
	lgdtl	OFF(gdt_desc)
	movl	%cr0, %eax
	orl	$1, %eax
	movl	%eax, %cr0
	ljmpl	*OFF(pm32_ptr)

	.code32
pm32:	movl	$0x18, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs
	movl	0x214(%esi), %eax		/* code32_start */
	jmp	*%eax

	.balign	8
gdt:	.quad	0
	.quad	0
	.quad	0x00cf9a000000ffff		/* 0x10: flat 32-bit code */
	.quad	0x00cf92000000ffff		/* 0x18: flat data */
gdt_desc:
	.word	gdt_desc - gdt - 1
	.long	0
pm32_ptr:
	.long	0
	.word	0x10
	.section .note.GNU-stack, "", @progbits
