# libFuzzer targets, included from the top Makefile.
#
#   fuzz-spawn, fuzz-frame	proto/'s decoders
#   fuzz-conn			daemon/conn.c, the connection state machine,
#				with fake children (tests/fuzz/conn-harness.c)
#
#   make fuzz-replay	replay the seed corpus through every target (gcc);
#			make check does too ($(B)/tests/unit/fuzz-replay)
#   make fuzz-run	build with clang's libFuzzer, run each target for
#			FUZZ_SECONDS over a scratch copy of its corpus
#   make fuzz-corpus	regenerate tests/fuzz/corpus/ (meaningful seeds only)
#   make fuzz-cov	line coverage of conn.c and proto/ by a replay of
#			FUZZ_COV_CORPUS (clang source-based coverage)

FUZZ_SECONDS	?= 60
FUZZ_CC		?= clang
FUZZ_SAN	?= -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_ARGS	?= -max_len=4096 -print_final_stats=1
FUZZ_TARGETS	:= spawn frame conn
FUZZ_DIR	:= $(B)/fuzz
FUZZ_BIN	:= $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz-%)
FUZZ_REPLAY	:= $(FUZZ_TARGETS:%=$(B)/tests/fuzz/replay-%)
FUZZ_CHECK	:= $(B)/tests/unit/fuzz-replay
FUZZ_RUNS	:= $(FUZZ_TARGETS:%=fuzz-run-%)

# fuzz-conn runs the real conn.c and what it calls, except child.c and
# listener.c, whose part conn-harness.c plays.  The daemon logs a line per
# refused client: its stderr is closed (libFuzzer keeps its own and the
# sanitizers' reports).
CONN_SRC	:= tests/fuzz/conn-harness.c daemon/conn.c daemon/log.c \
		   daemon/notify.c
CONN_HDR	:= tests/fuzz/conn-harness.h tests/fuzz/conn-script.h \
		   daemon/spawnd-int.h proto/proto.h proto/fdio.h
CONN_OBJ	:= $(B)/tests/fuzz/conn-harness.o $(B)/daemon/conn.o \
		   $(B)/daemon/log.o $(B)/daemon/notify.o
FUZZ_ARGS_conn	:= -close_fd_mask=2

.PHONY: fuzz fuzz-build fuzz-run fuzz-replay fuzz-corpus fuzz-cov $(FUZZ_RUNS)
.SECONDARY: $(FUZZ_TARGETS:%=$(B)/tests/fuzz/fuzz-%.o) \
    $(B)/tests/fuzz/replay.o $(B)/tests/fuzz/gen-corpus.o \
    $(B)/tests/fuzz/conn-harness.o

fuzz: fuzz-run

$(B)/tests/fuzz/replay-%: $(B)/tests/fuzz/fuzz-%.o $(B)/tests/fuzz/replay.o \
    $(PROTO_OBJ)
	$(CC) $(XLDFLAGS) $(LDFLAGS) -o $@ $^

$(B)/tests/fuzz/fuzz-conn.o $(B)/tests/fuzz/conn-harness.o: \
    XCFLAGS += -Idaemon $(EVENT_CFLAGS) $(SD_CFLAGS)

$(B)/tests/fuzz/replay-conn: $(B)/tests/fuzz/fuzz-conn.o \
    $(B)/tests/fuzz/replay.o $(CONN_OBJ) $(PROTO_OBJ)
	$(CC) $(XLDFLAGS) $(LDFLAGS) -o $@ $^ $(EVENT_LIBS) $(SD_LIBS)

$(B)/tests/fuzz/gen-corpus: $(B)/tests/fuzz/gen-corpus.o $(PROTO_OBJ)
	$(CC) $(XLDFLAGS) $(LDFLAGS) -o $@ $^

fuzz-replay: $(FUZZ_REPLAY)
	for t in $(FUZZ_TARGETS); do \
	    $(B)/tests/fuzz/replay-$$t tests/fuzz/corpus/$$t || exit 1; done

# make check runs every executable in $(B)/tests/unit: this one replays
# the corpora.  (The top Makefile's check rule names $(FUZZ_REPLAY) before
# this file defines it, so the prerequisites are given here.)
$(FUZZ_CHECK): tests/fuzz/replay.sh tests/fuzz/fuzz.mk
	@mkdir -p $(@D)
	sed 's/@FUZZ_TARGETS@/$(FUZZ_TARGETS)/' $< > $@
	chmod 0755 $@

check: $(FUZZ_CHECK) $(FUZZ_REPLAY)

fuzz-corpus: $(B)/tests/fuzz/gen-corpus
	rm -rf $(FUZZ_TARGETS:%=tests/fuzz/corpus/%)
	mkdir -p $(FUZZ_TARGETS:%=tests/fuzz/corpus/%)
	$(B)/tests/fuzz/gen-corpus $(FUZZ_TARGETS:%=tests/fuzz/corpus/%)

# The fuzz build compiles the sources itself: it needs clang's
# instrumentation.
$(FUZZ_DIR)/fuzz-%: tests/fuzz/fuzz-%.c proto/proto.c proto/proto.h
	@mkdir -p $(@D)
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -Iproto -g -O1 -Wall -Wextra \
	    $(FUZZ_SAN) -o $@ $< proto/proto.c

$(FUZZ_DIR)/fuzz-conn: tests/fuzz/fuzz-conn.c $(CONN_SRC) $(CONN_HDR) \
    proto/proto.c proto/fdio.c
	@mkdir -p $(@D)
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -Iproto -Idaemon $(EVENT_CFLAGS) \
	    $(SD_CFLAGS) -g -O1 -Wall -Wextra $(FUZZ_SAN) -o $@ $< \
	    $(CONN_SRC) proto/proto.c proto/fdio.c $(EVENT_LIBS) $(SD_LIBS)

fuzz-build: $(FUZZ_BIN)

fuzz-run: $(FUZZ_RUNS)

$(FUZZ_RUNS): fuzz-run-%: $(FUZZ_DIR)/fuzz-%
	rm -rf $(FUZZ_DIR)/corpus-$*
	mkdir -p $(FUZZ_DIR)/corpus-$*
	cp tests/fuzz/corpus/$*/* $(FUZZ_DIR)/corpus-$*/
	$< -max_total_time=$(FUZZ_SECONDS) $(FUZZ_ARGS) $(FUZZ_ARGS_$*) \
	    -artifact_prefix=$(FUZZ_DIR)/crash-$*- $(FUZZ_DIR)/corpus-$*

FUZZ_COV_CORPUS	?= tests/fuzz/corpus/conn
LLVM_PROFDATA	?= llvm-profdata
LLVM_COV	?= llvm-cov

fuzz-cov: tests/fuzz/fuzz-conn.c tests/fuzz/replay.c $(CONN_SRC) $(CONN_HDR)
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -Iproto -Idaemon $(EVENT_CFLAGS) \
	    $(SD_CFLAGS) -g -O0 -fprofile-instr-generate -fcoverage-mapping \
	    -o $(FUZZ_DIR)/cov-conn tests/fuzz/fuzz-conn.c \
	    tests/fuzz/replay.c $(CONN_SRC) proto/proto.c proto/fdio.c \
	    $(EVENT_LIBS) $(SD_LIBS)
	rm -f $(FUZZ_DIR)/cov-conn.profraw
	LLVM_PROFILE_FILE=$(FUZZ_DIR)/cov-conn.profraw \
	    $(FUZZ_DIR)/cov-conn $(FUZZ_COV_CORPUS) 2>/dev/null
	$(LLVM_PROFDATA) merge -o $(FUZZ_DIR)/cov-conn.profdata \
	    $(FUZZ_DIR)/cov-conn.profraw
	$(LLVM_COV) report $(FUZZ_DIR)/cov-conn \
	    -instr-profile=$(FUZZ_DIR)/cov-conn.profdata daemon/conn.c \
	    proto/fdio.c proto/proto.c
