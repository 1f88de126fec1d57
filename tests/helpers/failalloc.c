/*
 * failalloc.so: an LD_PRELOAD shim that makes one allocation fail, for the
 * fault tests.  Built as a shared object (tests/tests.mk), never linked
 * into spawnd.
 *
 * It interposes malloc, calloc, realloc, reallocarray, posix_memalign,
 * aligned_alloc, memalign and free, and numbers every allocation call from
 * the first one after it is loaded (free is not counted).  Two modes:
 *
 *	FAILALLOC_N=n		the n-th allocation (1-based) returns NULL
 *				with errno ENOMEM; all others succeed.
 *	FAILALLOC_CTL=path	path names a file of at least 4096 bytes that
 *				the shim maps shared at start-up (and closes):
 *				struct failalloc_ctl below.  The test reads
 *				count, sets fail_at = count + n to fail the
 *				n-th allocation from now, and reads live (heap
 *				bytes in use, by malloc_usable_size) to see
 *				leaks without a leak checker.
 *
 * The real allocator is the next one in the lookup order (dlsym RTLD_NEXT):
 * glibc's, or AddressSanitizer's when the shim is preloaded in front of
 * libasan (ASAN_OPTIONS=verify_asan_link_order=0), so the two compose.
 * For that, the ASan build of the shim links libasan (tests.mk), so that
 * libasan's constructor runs before ours, and every allocation made before
 * our constructor has run (by ld.so, by dlsym) comes from a static arena
 * and is not counted: calling ASan's allocator before ASan is initialised
 * aborts it.  Arena blocks are never freed.  Single-threaded callers are
 * assumed (spawnd is); counters are atomic anyway.
 */

#include <sys/mman.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Shared with the tests (tests/stress/stresslib.h has a copy). */
struct failalloc_ctl {
	_Atomic uint64_t	 count;		/* allocation calls so far */
	_Atomic uint64_t	 fail_at;	/* fail call number; 0: none */
	_Atomic uint64_t	 failed;	/* calls made to fail */
	_Atomic int64_t		 live;		/* bytes in use */
	_Atomic uint64_t	 magic;		/* FAILALLOC_MAGIC once mapped */
};
#define FAILALLOC_MAGIC	0x6661696c616c6c6fULL	/* "failallo" */

void	*malloc(size_t);
void	*calloc(size_t, size_t);
void	*realloc(void *, size_t);
void	*reallocarray(void *, size_t, size_t);
void	 free(void *);
int	 posix_memalign(void **, size_t, size_t);
void	*aligned_alloc(size_t, size_t);
void	*memalign(size_t, size_t);
size_t	 malloc_usable_size(void *);

static void	*(*real_malloc)(size_t);
static void	*(*real_calloc)(size_t, size_t);
static void	*(*real_realloc)(void *, size_t);
static void	 (*real_free)(void *);
static int	 (*real_posix_memalign)(void **, size_t, size_t);
static void	*(*real_memalign)(size_t, size_t);
static size_t	 (*real_usable)(void *);

static struct failalloc_ctl	 local_ctl;
static struct failalloc_ctl	*ctl = &local_ctl;
static int			 resolving;
static int			 ready;		/* constructor done */

/* Bump allocator for what dlsym needs before the real functions are known. */
static _Alignas(16) unsigned char	 arena[1 << 20];
static size_t				 arena_used;

static void	 resolve(void);
static int	 fail_now(void);
static void	*arena_alloc(size_t);
static void	*arena_aligned(size_t, size_t);
static int	 in_arena(const void *);
static void	 account(void *, int);

static void *
arena_alloc(size_t n)
{
	void	*p;

	n = (n + 15) & ~(size_t)15;
	if (n > sizeof arena - arena_used)
		return NULL;
	p = arena + arena_used;
	arena_used += n;
	return p;
}

static void *
arena_aligned(size_t align, size_t n)
{
	size_t	 skip;

	if (align == 0 || (align & (align - 1)) != 0 || align > 4096)
		return NULL;
	skip = (size_t)(-(uintptr_t)(arena + arena_used)) & (align - 1);
	if (skip > sizeof arena - arena_used)
		return NULL;
	arena_used += skip;
	return arena_alloc(n);
}

static int
in_arena(const void *p)
{
	return (const unsigned char *)p >= arena &&
	    (const unsigned char *)p < arena + sizeof arena;
}

static void
resolve(void)
{
	if (real_malloc != NULL || resolving)
		return;
	resolving = 1;
	real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
	real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
	real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
	real_posix_memalign = (int (*)(void **, size_t, size_t))dlsym(
	    RTLD_NEXT, "posix_memalign");
	real_memalign = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT,
	    "memalign");
	real_usable = (size_t (*)(void *))dlsym(RTLD_NEXT,
	    "malloc_usable_size");
	real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
	resolving = 0;
}

/* Maps the control page named by FAILALLOC_CTL, reads FAILALLOC_N. */
__attribute__((constructor)) static void
failalloc_init(void)
{
	const char	*p;
	void		*m;
	int		 fd;

	resolve();
	if ((p = getenv("FAILALLOC_CTL")) != NULL && *p != '\0' &&
	    (fd = open(p, O_RDWR | O_CLOEXEC)) != -1) {
		m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		(void)close(fd);
		if (m != MAP_FAILED) {
			struct failalloc_ctl	*c = m;

			atomic_store(&c->count, atomic_load(&ctl->count));
			atomic_store(&c->live, atomic_load(&ctl->live));
			atomic_store(&c->magic, FAILALLOC_MAGIC);
			ctl = c;
		}
	}
	if ((p = getenv("FAILALLOC_N")) != NULL && *p != '\0')
		atomic_store(&ctl->fail_at, strtoull(p, NULL, 10));
	ready = 1;
}

/* Counts one allocation call; says whether it is the one to fail. */
static int
fail_now(void)
{
	uint64_t	n = atomic_fetch_add(&ctl->count, 1) + 1;

	if (n != atomic_load(&ctl->fail_at))
		return 0;
	atomic_fetch_add(&ctl->failed, 1);
	errno = ENOMEM;
	return 1;
}

static void
account(void *p, int sign)
{
	if (p == NULL || in_arena(p) || real_usable == NULL)
		return;
	atomic_fetch_add(&ctl->live, sign * (int64_t)real_usable(p));
}

void *
malloc(size_t n)
{
	void	*p;

	if (!ready)
		return arena_alloc(n);
	if (fail_now())
		return NULL;
	p = real_malloc(n);
	account(p, 1);
	return p;
}

void *
calloc(size_t n, size_t size)
{
	void	*p;

	if (!ready) {
		if (size != 0 && n > SIZE_MAX / size)
			return NULL;
		return arena_alloc(n * size);	/* static: zeroed */
	}
	if (fail_now())
		return NULL;
	p = real_calloc(n, size);
	account(p, 1);
	return p;
}

void *
realloc(void *old, size_t n)
{
	void	*p;

	if (!ready || in_arena(old)) {
		/* Arena blocks do not know their size: copy what may fit. */
		if ((p = malloc(n)) != NULL && old != NULL)
			memcpy(p, old, n < (size_t)(arena + sizeof arena -
			    (unsigned char *)old) ? n : (size_t)(arena +
			    sizeof arena - (unsigned char *)old));
		return p;
	}
	if (fail_now())
		return NULL;
	account(old, -1);
	p = real_realloc(old, n);
	if (p == NULL && n != 0)
		account(old, 1);
	account(p, 1);
	return p;
}

void *
reallocarray(void *old, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(old, n * size);
}

void
free(void *p)
{
	if (p == NULL || in_arena(p))
		return;
	resolve();
	account(p, -1);
	if (real_free != NULL)
		real_free(p);
}

int
posix_memalign(void **ret, size_t align, size_t n)
{
	int	r;

	if (!ready || real_posix_memalign == NULL)
		return (*ret = arena_aligned(align, n)) != NULL ? 0 : ENOMEM;
	if (fail_now())
		return ENOMEM;
	r = real_posix_memalign(ret, align, n);
	if (r == 0)
		account(*ret, 1);
	return r;
}

void *
aligned_alloc(size_t align, size_t n)
{
	void	*p;

	return posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) :
	    align, n) == 0 ? p : NULL;
}

void *
memalign(size_t align, size_t n)
{
	void	*p;

	if (!ready || real_memalign == NULL)
		return arena_aligned(align, n);
	if (fail_now())
		return NULL;
	p = real_memalign(align, n);
	account(p, 1);
	return p;
}

size_t
malloc_usable_size(void *p)
{
	if (p == NULL || in_arena(p))
		return 0;
	resolve();
	return real_usable != NULL ? real_usable(p) : 0;
}
