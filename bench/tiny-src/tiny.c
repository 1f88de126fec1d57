/*
 * tiny: the smallest program the benchmark execs.  It exits 0 at once, so
 * a spawn of it measures the spawn path, not a dynamic loader or libc
 * start-up.  bench/run.sh builds it; it is not linked with libspawnd, so
 * it lives outside bench/*.c (every one of those is a libspawnd program).
 *
 * Built with -DTINY_RAW -nostdlib -static: _start makes the exit_group
 * system call itself, and the ELF is a few hundred bytes.  Without
 * TINY_RAW it is an ordinary main() for "cc -static" (glibc), the fallback
 * on an architecture the assembly below does not know.
 */

#ifdef TINY_RAW
#if defined(__x86_64__)
__asm__(
	".globl _start\n"
	"_start:\n"
	"	movl	$231, %eax\n"	/* exit_group */
	"	xorl	%edi, %edi\n"
	"	syscall\n"
	"	hlt\n");
#elif defined(__aarch64__)
__asm__(
	".globl _start\n"
	"_start:\n"
	"	mov	x0, #0\n"
	"	mov	x8, #94\n"		/* exit_group */
	"	svc	#0\n");
#elif defined(__i386__)
__asm__(
	".globl _start\n"
	"_start:\n"
	"	movl	$252, %eax\n"	/* exit_group */
	"	xorl	%ebx, %ebx\n"
	"	int	$0x80\n"
	"	hlt\n");
#else
#error "TINY_RAW: no _start for this architecture; build without it"
#endif
#else
int
main(void)
{
	return 0;
}
#endif
