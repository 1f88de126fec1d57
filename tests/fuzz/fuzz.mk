# libFuzzer targets for proto/, included from the top Makefile.
#
#   make fuzz-replay	replay the seed corpus through both targets (gcc)
#   make fuzz-run	build with clang's libFuzzer, run each target for
#			FUZZ_SECONDS over a scratch copy of its corpus
#   make fuzz-corpus	regenerate tests/fuzz/corpus/ (valid seeds only)

FUZZ_SECONDS	?= 60
FUZZ_CC		?= clang
FUZZ_SAN	?= -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_ARGS	?= -max_len=4096 -print_final_stats=1
FUZZ_TARGETS	:= spawn frame
FUZZ_DIR	:= $(B)/fuzz
FUZZ_BIN	:= $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz-%)
FUZZ_REPLAY	:= $(FUZZ_TARGETS:%=$(B)/tests/fuzz/replay-%)

.PHONY: fuzz fuzz-build fuzz-run fuzz-replay fuzz-corpus
.SECONDARY: $(FUZZ_TARGETS:%=$(B)/tests/fuzz/fuzz-%.o) \
    $(B)/tests/fuzz/replay.o $(B)/tests/fuzz/gen-corpus.o

fuzz: fuzz-run

$(B)/tests/fuzz/replay-%: $(B)/tests/fuzz/fuzz-%.o $(B)/tests/fuzz/replay.o \
    $(PROTO_OBJ)
	$(CC) $(XLDFLAGS) $(LDFLAGS) -o $@ $^

$(B)/tests/fuzz/gen-corpus: $(B)/tests/fuzz/gen-corpus.o $(PROTO_OBJ)
	$(CC) $(XLDFLAGS) $(LDFLAGS) -o $@ $^

fuzz-replay: $(FUZZ_REPLAY)
	for t in $(FUZZ_TARGETS); do \
	    $(B)/tests/fuzz/replay-$$t tests/fuzz/corpus/$$t || exit 1; done

fuzz-corpus: $(B)/tests/fuzz/gen-corpus
	rm -rf tests/fuzz/corpus/spawn tests/fuzz/corpus/frame
	mkdir -p tests/fuzz/corpus/spawn tests/fuzz/corpus/frame
	$(B)/tests/fuzz/gen-corpus tests/fuzz/corpus/spawn tests/fuzz/corpus/frame

# The fuzz build compiles proto.c itself: it needs clang's instrumentation.
$(FUZZ_DIR)/fuzz-%: tests/fuzz/fuzz-%.c proto/proto.c proto/proto.h
	@mkdir -p $(@D)
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -Iproto -g -O1 -Wall -Wextra \
	    $(FUZZ_SAN) -o $@ $< proto/proto.c

fuzz-build: $(FUZZ_BIN)

fuzz-run: $(FUZZ_BIN)
	for t in $(FUZZ_TARGETS); do \
	    rm -rf $(FUZZ_DIR)/corpus-$$t && \
	    mkdir -p $(FUZZ_DIR)/corpus-$$t && \
	    cp tests/fuzz/corpus/$$t/* $(FUZZ_DIR)/corpus-$$t/ && \
	    $(FUZZ_DIR)/fuzz-$$t -max_total_time=$(FUZZ_SECONDS) $(FUZZ_ARGS) \
		-artifact_prefix=$(FUZZ_DIR)/crash-$$t- \
		$(FUZZ_DIR)/corpus-$$t || exit 1; \
	done
