# spawnd: one non-recursive GNU Makefile.  Outputs go to $(B).

VERSION		:= 0.1.0
SOVERSION	:= 0

PREFIX		?= /usr/local
BINDIR		?= $(PREFIX)/bin
SBINDIR		?= $(PREFIX)/sbin
LIBDIR		?= $(PREFIX)/lib
INCLUDEDIR	?= $(PREFIX)/include
PKGCONFIGDIR	?= $(LIBDIR)/pkgconfig
MANDIR		?= $(PREFIX)/share/man
DOCDIR		?= $(PREFIX)/share/doc/spawnd

CC		?= cc
PKG_CONFIG	?= pkg-config
CFLAGS		?= -O2 -g
B		?= build

# Units go where the installed systemd looks (not under PREFIX); set
# SYSTEMDUNITDIR / SYSTEMDUSERUNITDIR to override.  Asked once, not per use.
ifndef SYSTEMDUNITDIR
SYSTEMDUNITDIR	:= $(or $(shell $(PKG_CONFIG) --variable=systemdsystemunitdir \
		   systemd 2>/dev/null),/lib/systemd/system)
endif
ifndef SYSTEMDUSERUNITDIR
SYSTEMDUSERUNITDIR := $(or $(shell $(PKG_CONFIG) --variable=systemduserunitdir \
		   systemd 2>/dev/null),/usr/lib/systemd/user)
endif

WARN		:= -Wall -Wextra -Wformat=2 -Wshadow -Wpointer-arith -Wcast-qual \
		   -Wwrite-strings -Wstrict-prototypes -Wmissing-prototypes \
		   -Wmissing-declarations -Wundef -Wvla
ifeq ($(WERROR),1)
WARN		+= -Werror
endif

EVENT_CFLAGS	:= $(shell $(PKG_CONFIG) --cflags libevent_core 2>/dev/null)
EVENT_LIBS	:= $(shell $(PKG_CONFIG) --libs libevent_core 2>/dev/null || echo -levent_core)
SD_CFLAGS	:= $(shell $(PKG_CONFIG) --cflags libsystemd 2>/dev/null)
SD_LIBS		:= $(shell $(PKG_CONFIG) --libs libsystemd 2>/dev/null || echo -lsystemd)

XCFLAGS		:= -std=c11 -D_GNU_SOURCE -fPIC -fvisibility=hidden -Iproto -Iclient \
		   -MMD -MP $(WARN) $(SAN)
XLDFLAGS	:= $(SAN)

PROTO_SRC	:= proto/proto.c proto/fdio.c
DAEMON_SRC	:= daemon/main.c daemon/listener.c daemon/conn.c daemon/child.c \
		   daemon/log.c daemon/notify.c
LIB_SRC		:= client/client.c client/posix.c client/fileops.c
CTL_SRC		:= client/spawnctl.c client/spawnctl-wrap.c

PROTO_OBJ	:= $(PROTO_SRC:%.c=$(B)/%.o)
DAEMON_OBJ	:= $(DAEMON_SRC:%.c=$(B)/%.o)
LIB_OBJ		:= $(LIB_SRC:%.c=$(B)/%.o)
CTL_OBJ		:= $(CTL_SRC:%.c=$(B)/%.o)

LIBNAME		:= libspawnd.so
LIB_REAL	:= $(B)/$(LIBNAME).$(SOVERSION).1.0
LIB_SONAME	:= $(LIBNAME).$(SOVERSION)

# The LD_PRELOAD shim of spawnctl wrap: the library's objects linked in,
# nothing exported but the glibc calls it interposes.
PRELOAD		:= $(B)/libspawnd-preload.so
PRELOADDIR	?= $(LIBDIR)/spawnd

SPAWND		:= $(B)/spawnd
SPAWNCTL	:= $(B)/spawnctl
PCFILE		:= $(B)/spawnd.pc

# Test and tool programs: one .c each, linked with the library objects.
UNIT_SRC	:= $(wildcard tests/unit/*.c)
INTEG_SRC	:= $(wildcard tests/integ/*.c)
BENCH_SRC	:= $(wildcard bench/*.c)
TEST_BIN	:= $(UNIT_SRC:%.c=$(B)/%) $(INTEG_SRC:%.c=$(B)/%)
BENCH_BIN	:= $(BENCH_SRC:%.c=$(B)/%)

MAN_PAGES	:= $(wildcard man/*.[0-9])

.DELETE_ON_ERROR:
.PHONY: all check install uninstall clean demo bench asan ubsan check-asan \
	stress tsan \
	lint

all: $(SPAWND) $(SPAWNCTL) $(B)/$(LIBNAME) $(PCFILE) $(PRELOAD)

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(CFLAGS) $(CPPFLAGS) -c -o $@ $<

$(B)/daemon/%.o: XCFLAGS += $(EVENT_CFLAGS) $(SD_CFLAGS)

$(SPAWND): $(DAEMON_OBJ) $(PROTO_OBJ)
	$(CC) $(XLDFLAGS) $(LDFLAGS) -o $@ $^ $(EVENT_LIBS) $(SD_LIBS)

$(LIB_REAL): $(LIB_OBJ) $(PROTO_OBJ) client/libspawnd.map
	$(CC) $(XLDFLAGS) $(LDFLAGS) -shared -Wl,-soname,$(LIB_SONAME) \
	    -Wl,--version-script=client/libspawnd.map -Wl,-z,defs \
	    -o $@ $(LIB_OBJ) $(PROTO_OBJ) -lpthread

$(PRELOAD): $(B)/client/preload.o $(LIB_OBJ) $(PROTO_OBJ) client/preload.map
	$(CC) $(XLDFLAGS) $(LDFLAGS) -shared \
	    -Wl,--version-script=client/preload.map -Wl,-z,defs \
	    -o $@ $(B)/client/preload.o $(LIB_OBJ) $(PROTO_OBJ) -lpthread -ldl

$(B)/$(LIB_SONAME): $(LIB_REAL)
	ln -sf $(notdir $<) $@

$(B)/$(LIBNAME): $(B)/$(LIB_SONAME)
	ln -sf $(notdir $<) $@

$(B)/client/spawnctl-wrap.o: XCFLAGS += \
	    -DSPAWND_PRELOAD_PATH='"$(PRELOADDIR)/libspawnd-preload.so"'

$(SPAWNCTL): $(CTL_OBJ) $(B)/$(LIBNAME)
	$(CC) $(XLDFLAGS) $(LDFLAGS) -o $@ $(CTL_OBJ) -L$(B) -lspawnd \
	    -Wl,-rpath,'$$ORIGIN'

$(PCFILE): client/spawnd.pc.in Makefile
	@mkdir -p $(@D)
	sed $(PC_SUBST) $< > $@

# Unit tests see proto's internals; integration tests and benchmarks link
# the shared library like any user would.
$(B)/tests/unit/%: tests/unit/%.c $(PROTO_OBJ)
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(CFLAGS) -o $@ $< $(PROTO_OBJ) $(XLDFLAGS) $(LDFLAGS)

$(B)/tests/integ/%: tests/integ/%.c $(B)/$(LIBNAME)
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(CFLAGS) -o $@ $< -L$(B) -lspawnd \
	    -Wl,-rpath,'$$ORIGIN/../..' -lpthread $(XLDFLAGS) $(LDFLAGS)

$(B)/bench/%: bench/%.c $(B)/$(LIBNAME)
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(CFLAGS) -o $@ $< -L$(B) -lspawnd \
	    -Wl,-rpath,'$$ORIGIN/..' -lpthread -lm $(XLDFLAGS) $(LDFLAGS)

check: all $(TEST_BIN) $(BENCH_BIN) $(HELPER_BIN) $(FUZZ_REPLAY)
	B=$(abspath $(B)) tests/run-tests.sh

# Stress and fault tests (tests/stress, docs/reliability.md): longer than
# make check.  STRESS_QUICK=1 is the size CI runs.  The allocation-failure
# pass uses the ASan daemon; make tsan runs the client library under TSan.
ASAN_SAN	:= -fsanitize=address,undefined -fno-sanitize-recover=all \
		   -fno-omit-frame-pointer
STRESS_BIN	:= $(patsubst %.c,$(B)/%,$(wildcard tests/stress/*.c))

$(B)/tests/stress/%: tests/stress/%.c tests/stress/stresslib.h $(B)/$(LIBNAME)
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(CFLAGS) -o $@ $< -L$(B) -lspawnd \
	    -Wl,-rpath,'$$ORIGIN/../..' -lpthread $(XLDFLAGS) $(LDFLAGS)

stress: all $(TEST_BIN) $(STRESS_BIN) $(HELPER_BIN) \
    $(B)/tests/helpers/failalloc.so
	$(MAKE) B=build-asan SAN='$(ASAN_SAN)' build-asan/spawnd \
	    build-asan/tests/helpers/failalloc.so build-asan/tests/integ/test-faults
	$(MAKE) B=build-tsan SAN=-fsanitize=thread \
	    build-tsan/tests/stress/stress-threads
	B=$(abspath $(B)) STRESS_QUICK=$(STRESS_QUICK) \
	    TSAN_BIN=$(abspath build-tsan)/tests/stress/stress-threads \
	    tests/stress/run-stress.sh

tsan: all
	$(MAKE) B=build-tsan SAN=-fsanitize=thread \
	    build-tsan/tests/stress/stress-threads
	B=$(abspath $(B)) STRESS_QUICK=$(STRESS_QUICK) \
	    TSAN_BIN=$(abspath build-tsan)/tests/stress/stress-threads \
	    tests/stress/run-stress.sh tsan

demo: all $(B)/bench/etxtbsy
	B=$(abspath $(B)) bench/demo.sh

bench: all $(BENCH_BIN)
	B=$(abspath $(B)) bench/run.sh
	B=$(abspath $(B)) QUICK=$(QUICK) bench/go.sh
	B=$(abspath $(B)) QUICK=$(QUICK) bench/rust.sh

# Sanitizer builds go to their own directories.
asan:
	$(MAKE) B=build-asan SAN='-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer' all
check-asan:
	$(MAKE) B=build-asan SAN='-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer' check
ubsan:
	$(MAKE) B=build-ubsan SAN='-fsanitize=undefined -fno-sanitize-recover=all' all

# Static analysis: cppcheck, clang-tidy (checks in .clang-tidy) and
# scan-build must be clean; gcc -fanalyzer is reported only (gcc 12
# misreads TAILQ and cmsg macros).  clang-tidy runs once per file, as
# the compiler would: several files in one run share analyzer state and
# report va_lists as uninitialized.  scan-build analyzes a full build of
# "all" in a directory of its own, emptied first so nothing is skipped;
# its HTML reports go to $(B)/scan.
LINT_SRC	:= $(PROTO_SRC) $(DAEMON_SRC) $(LIB_SRC) $(CTL_SRC) client/preload.c
lint:
	cppcheck --quiet --error-exitcode=1 --inline-suppr \
	    --enable=warning,portability,performance -D_GNU_SOURCE \
	    -Iproto -Iclient --include=/usr/include/x86_64-linux-gnu/sys/queue.h \
	    --suppress=missingIncludeSystem $(LINT_SRC)
	for f in $(LINT_SRC); do \
	    $(CC) -std=c11 -D_GNU_SOURCE -Iproto -Iclient $(EVENT_CFLAGS) \
	    -fanalyzer -O1 -c -o /dev/null $$f || exit 1; done
	printf '%s\n' $(LINT_SRC) | xargs -I{} -P"$$(nproc)" clang-tidy \
	    --quiet --warnings-as-errors='*' {} -- -std=c11 -D_GNU_SOURCE \
	    -Iproto -Iclient $(EVENT_CFLAGS) $(SD_CFLAGS)
	rm -rf $(B)/scan $(B)/scan-build
	scan-build --status-bugs --use-cc=$(CC) -o $(B)/scan \
	    $(MAKE) B=$(B)/scan-build all

# The .pc file and the units get their paths when installing, so that
# "make && make install PREFIX=/usr" installs what it says.  uninstall
# removes exactly the files install placed (directories stay: they may be
# shared).  A loop stops at its first failure.
PC_SUBST	= -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		  -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|'
SYSTEM_UNITS	:= $(wildcard systemd/system/spawnd.*)
USER_UNITS	:= $(wildcard systemd/user/spawnd.*)

install: all
	install -d "$(DESTDIR)$(SBINDIR)" "$(DESTDIR)$(BINDIR)" \
	    "$(DESTDIR)$(LIBDIR)" "$(DESTDIR)$(INCLUDEDIR)" \
	    "$(DESTDIR)$(PKGCONFIGDIR)" "$(DESTDIR)$(SYSTEMDUNITDIR)" \
	    "$(DESTDIR)$(SYSTEMDUSERUNITDIR)"
	install -m 0755 $(SPAWND) "$(DESTDIR)$(SBINDIR)/spawnd"
	install -m 0755 $(SPAWNCTL) "$(DESTDIR)$(BINDIR)/spawnctl"
	install -m 0755 $(LIB_REAL) "$(DESTDIR)$(LIBDIR)/$(notdir $(LIB_REAL))"
	ln -sf $(notdir $(LIB_REAL)) "$(DESTDIR)$(LIBDIR)/$(LIB_SONAME)"
	ln -sf $(LIB_SONAME) "$(DESTDIR)$(LIBDIR)/$(LIBNAME)"
	install -d "$(DESTDIR)$(PRELOADDIR)"
	install -m 0755 $(PRELOAD) "$(DESTDIR)$(PRELOADDIR)/libspawnd-preload.so"
	install -m 0644 client/spawnd.h "$(DESTDIR)$(INCLUDEDIR)/spawnd.h"
	sed $(PC_SUBST) client/spawnd.pc.in > "$(DESTDIR)$(PKGCONFIGDIR)/spawnd.pc"
	chmod 0644 "$(DESTDIR)$(PKGCONFIGDIR)/spawnd.pc"
	for u in $(SYSTEM_UNITS); do t="$(DESTDIR)$(SYSTEMDUNITDIR)/$${u##*/}"; \
	    sed 's|@SBINDIR@|$(SBINDIR)|g' $$u > "$$t" && chmod 0644 "$$t" || \
	    exit 1; done
	for u in $(USER_UNITS); do t="$(DESTDIR)$(SYSTEMDUSERUNITDIR)/$${u##*/}"; \
	    sed 's|@SBINDIR@|$(SBINDIR)|g' $$u > "$$t" && chmod 0644 "$$t" || \
	    exit 1; done
	for m in $(MAN_PAGES); do d="$(DESTDIR)$(MANDIR)/man$${m##*.}"; \
	    install -d "$$d" && install -m 0644 $$m "$$d/" || exit 1; done
	@# A new library outside ld.so's default dirs is found only after
	@# ldconfig (spawnctl needs it); DESTDIR installs leave that to packaging.
	@if [ -z "$(DESTDIR)" ]; then ldconfig 2>/dev/null || \
	    echo "make install: run ldconfig as root for $(LIBDIR)"; fi

uninstall:
	rm -f "$(DESTDIR)$(SBINDIR)/spawnd" "$(DESTDIR)$(BINDIR)/spawnctl" \
	    "$(DESTDIR)$(LIBDIR)/$(notdir $(LIB_REAL))" \
	    "$(DESTDIR)$(LIBDIR)/$(LIB_SONAME)" "$(DESTDIR)$(LIBDIR)/$(LIBNAME)" \
	    "$(DESTDIR)$(INCLUDEDIR)/spawnd.h" \
	    "$(DESTDIR)$(PRELOADDIR)/libspawnd-preload.so" \
	    "$(DESTDIR)$(PKGCONFIGDIR)/spawnd.pc"
	for u in $(SYSTEM_UNITS); do \
	    rm -f "$(DESTDIR)$(SYSTEMDUNITDIR)/$${u##*/}" || exit 1; done
	for u in $(USER_UNITS); do \
	    rm -f "$(DESTDIR)$(SYSTEMDUSERUNITDIR)/$${u##*/}" || exit 1; done
	for m in $(MAN_PAGES); do \
	    rm -f "$(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/}" || exit 1; done
	@if [ -z "$(DESTDIR)" ]; then ldconfig 2>/dev/null || :; fi

clean:
	rm -rf build build-asan build-ubsan build-tsan

include tests/fuzz/fuzz.mk
-include tests/tests.mk

-include $(shell find $(B) -name '*.d' 2>/dev/null)
