/*
 * rawsys.h: system calls that leave errno alone.
 *
 * The clone child of child.c shares the daemon's memory, and its thread
 * pointer, while the daemon goes on running: every libc wrapper that
 * failed would write the daemon's errno under its feet.  So the child
 * makes its calls here: rs_call() returns what the kernel returned, and a
 * failure comes back as -errno.  Always inline, so that no sanitizer
 * instruments it apart from the child's code (built without).
 *
 * x86_64 and aarch64 have the instruction inline.  Elsewhere (or built
 * with -DSPAWND_CHILD_VFORK) RS_ASYNC is 0: rs_call() goes through libc's
 * syscall(), and the daemon must keep the child's CLONE_VFORK, which stops
 * it until the child has exec'd, so errno is no one else's then.
 */

#ifndef SPAWND_RAWSYS_H
#define SPAWND_RAWSYS_H

#include <sys/syscall.h>

#include <errno.h>
#include <unistd.h>

#if !defined(SPAWND_CHILD_VFORK) && \
    (defined(__x86_64__) || defined(__aarch64__))
#define RS_ASYNC	1
#else
#define RS_ASYNC	0
#endif

#if RS_ASYNC && defined(__x86_64__)
static inline __attribute__((always_inline)) long
rs_call(long n, long a, long b, long c, long d, long e)
{
	register long	 r10 __asm__("r10") = d;
	register long	 r8 __asm__("r8") = e;
	long		 ret;

	__asm__ volatile ("syscall"
	    : "=a" (ret)
	    : "0" (n), "D" (a), "S" (b), "d" (c), "r" (r10), "r" (r8)
	    : "rcx", "r11", "memory");
	return ret;
}
#elif RS_ASYNC && defined(__aarch64__)
static inline __attribute__((always_inline)) long
rs_call(long n, long a, long b, long c, long d, long e)
{
	register long	 x8 __asm__("x8") = n;
	register long	 x0 __asm__("x0") = a;
	register long	 x1 __asm__("x1") = b;
	register long	 x2 __asm__("x2") = c;
	register long	 x3 __asm__("x3") = d;
	register long	 x4 __asm__("x4") = e;

	__asm__ volatile ("svc 0"
	    : "+r" (x0)
	    : "r" (x8), "r" (x1), "r" (x2), "r" (x3), "r" (x4)
	    : "memory");
	return x0;
}
#else
static inline __attribute__((always_inline)) long
rs_call(long n, long a, long b, long c, long d, long e)
{
	long	 ret = syscall(n, a, b, c, d, e);

	return ret == -1 ? -errno : ret;
}
#endif

#define RS0(n)			rs_call((n), 0, 0, 0, 0, 0)
#define RS1(n, a)		rs_call((n), (long)(a), 0, 0, 0, 0)
#define RS2(n, a, b)		rs_call((n), (long)(a), (long)(b), 0, 0, 0)
#define RS3(n, a, b, c)		rs_call((n), (long)(a), (long)(b), \
				    (long)(c), 0, 0)
#define RS4(n, a, b, c, d)	rs_call((n), (long)(a), (long)(b), \
				    (long)(c), (long)(d), 0)
#define RS5(n, a, b, c, d, e)	rs_call((n), (long)(a), (long)(b), \
				    (long)(c), (long)(d), (long)(e))

#endif
