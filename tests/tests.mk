# tests.mk: helper programs of the tests; included by the Makefile.
#
# tests/helpers/*.c are tools the shell tests run (not tests themselves:
# run-tests.sh only runs tests/unit and tests/integ).  They use no spawnd
# code.

HELPER_SRC	:= $(filter-out tests/helpers/failalloc.c, \
		   $(wildcard tests/helpers/*.c))
HELPER_BIN	:= $(HELPER_SRC:%.c=$(B)/%)

$(B)/tests/helpers/%: tests/helpers/%.c
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(CFLAGS) -o $@ $< $(XLDFLAGS) $(LDFLAGS)

# The allocation-failure shim is preloaded into the daemon: a shared
# object, default visibility (it must interpose malloc), never built with
# $(SAN).  Under ASan it goes in front of libasan and calls it, so it links
# libasan: libasan's constructor must run before the shim's.
FAILALLOC	:= $(B)/tests/helpers/failalloc.so

$(FAILALLOC): tests/helpers/failalloc.c
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_GNU_SOURCE -fPIC -shared $(WARN) $(CFLAGS) \
	    -o $@ $< -ldl $(if $(findstring address,$(SAN)),-lasan) $(LDFLAGS)

check: $(HELPER_BIN) $(FAILALLOC)

# examples/*.c are complete programs that the README shows: built as a
# user would build them (no project -D or -I but spawnd.h's directory),
# and run by tests/integ/test-example.sh (the compiler's default C dialect,
# as "cc prog.c $(pkg-config --cflags --libs spawnd)" gets).
EXAMPLE_SRC	:= $(wildcard examples/*.c)
EXAMPLE_BIN	:= $(EXAMPLE_SRC:%.c=$(B)/%)

$(B)/examples/%: examples/%.c $(B)/$(LIBNAME)
	@mkdir -p $(@D)
	$(CC) $(WARN) $(SAN) $(CFLAGS) -Iclient -o $@ $< -L$(B) \
	    -lspawnd -Wl,-rpath,'$$ORIGIN/..' $(XLDFLAGS) $(LDFLAGS)

check: $(EXAMPLE_BIN)
