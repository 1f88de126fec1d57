# tests.mk: helper programs of the tests; included by the Makefile.
#
# tests/helpers/*.c are tools the shell tests run (not tests themselves:
# run-tests.sh only runs tests/unit and tests/integ).  They use no spawnd
# code.

HELPER_SRC	:= $(wildcard tests/helpers/*.c)
HELPER_BIN	:= $(HELPER_SRC:%.c=$(B)/%)

$(B)/tests/helpers/%: tests/helpers/%.c
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(CFLAGS) -o $@ $< $(XLDFLAGS) $(LDFLAGS)

check: $(HELPER_BIN)
