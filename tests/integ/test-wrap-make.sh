#!/bin/bash
# spawnctl wrap with GNU make and ninja (nobody here wrote them): make -j4
# through a sub-make (the jobserver) and ninja build a tree of this
# project's sources plus generated ones; the outputs equal an unwrapped
# build's, every command is brokered (the daemon's spawn count), jobs ran
# in parallel, and SIGINT to the process group (Ctrl-C) ends a wrapped
# make -j4 with none of its commands left running.
. "$(dirname "$0")/lib.sh"
wrap_setup
command -v make >/dev/null || skip "no make"
command -v cc >/dev/null || skip "no cc"
export TMPDIR=$dir
unset XDG_RUNTIME_DIR MAKEFLAGS MFLAGS MAKELEVEL

# tree DIR: sources, a top Makefile that runs a sub-make (so the
# jobserver is used), build.mk, build.ninja.
tree() {
	local d=$1 i
	mkdir -p "$d"
	cp proto/*.c proto/*.h client/*.c client/*.h "$d/"
	for ((i = 0; i < 12; i++)); do
		printf 'int g%d(int x) { return x * %d; }\n' "$i" "$i" >"$d/g$i.c"
	done
	cat >"$d/Makefile" <<'EOF'
all:
	+$(MAKE) -f build.mk
EOF
	cat >"$d/build.mk" <<'EOF'
SRC := $(wildcard *.c)
OBJ := $(SRC:.c=.o)
all: lib.a par1 par2 par3 par4
lib.a: $(OBJ)
	ar rcD $@ $(OBJ)
%.o: %.c
	cc -O0 -D_GNU_SOURCE -std=c11 -I. -c -o $@ $<
# Two of these must run at once, or they fail after ~30 s: -j4 works.
par%:
	@touch started.$@; n=0; while [ $$(ls started.* | wc -l) -lt 2 ]; do \
	    n=$$((n + 1)); [ $$n -lt 3000 ] || exit 1; sleep 0.01; done
EOF
	{
		echo 'rule cc'
		echo '  command = cc -O0 -D_GNU_SOURCE -std=c11 -I. -c -o $out $in'
		echo 'rule ar'
		echo '  command = ar rcD $out $in'
		objs=
		for i in "$d"/*.c; do
			i=${i##*/}
			echo "build n-${i%.c}.o: cc $i"
			objs="$objs n-${i%.c}.o"
		done
		echo "build nlib.a: ar$objs"
	} >"$d/build.ninja"
}

tree "$dir/plain"
tree "$dir/wrapped"
nsrc=$(ls "$dir/plain"/*.c | wc -l)

note "make -j4, unwrapped"
make -s -j4 -C "$dir/plain" >"$dir/plain.out" 2>&1
assert_eq 0 $? "unwrapped make" || cat "$dir/plain.out" >&2

note "make -j4, wrapped: same output, every command brokered"
SPAWND_WRAP_DEBUG=1 "$SPAWNCTL" wrap -- sh -c \
    'make -s -j4 -C "$1" && "$2" ping' sh "$dir/wrapped" "$SPAWNCTL" \
    >"$dir/wrapped.out" 2>"$dir/wrapped.err"
assert_eq 0 $? "wrapped make" || cat "$dir/wrapped.err" >&2
# The sub-make, the compiles, ar, the four par jobs.
want=$((1 + nsrc + 1 + 4))
assert_eq "$want" "$(spawns_of "$dir/wrapped.out")" "daemon's spawn count"
assert_eq "$want" "$(brokered "$dir/wrapped.err")" "brokered spawns"
assert_not_contains "$dir/wrapped.err" "jobserver" "jobserver warning"
for f in "$dir/plain"/*.o "$dir/plain/lib.a"; do
	cmp -s "$f" "$dir/wrapped/${f##*/}" ||
	    fail "${f##*/} differs from the unwrapped build"
done
[ -z "$(ls -d "$dir"/spawnd-wrap.* 2>/dev/null)" ] ||
    fail "wrap left its directory behind"

if command -v ninja >/dev/null; then
	note "ninja -j4, wrapped: same output, every command brokered"
	(cd "$dir/plain" && ninja -j4 >/dev/null 2>&1)
	assert_eq 0 $? "unwrapped ninja"
	(cd "$dir/wrapped" && SPAWND_WRAP_DEBUG=1 "$SPAWNCTL" wrap -- sh -c \
	    'ninja -j4 && "$1" ping' sh "$SPAWNCTL") >"$dir/ninja.out" \
	    2>"$dir/ninja.err"
	assert_eq 0 $? "wrapped ninja" || cat "$dir/ninja.err" >&2
	assert_eq "$((nsrc + 1))" "$(spawns_of "$dir/ninja.out")" \
	    "ninja: daemon's spawn count"
	for f in "$dir/plain"/n-*.o "$dir/plain/nlib.a"; do
		cmp -s "$f" "$dir/wrapped/${f##*/}" ||
		    fail "ninja: ${f##*/} differs from the unwrapped build"
	done
else
	note "no ninja: its part skipped"
fi

note "SIGINT to a wrapped make -j4's process group leaves nothing running"
mkdir -p "$dir/int/pids"
cat >"$dir/int/Makefile" <<'EOF'
all: s1 s2 s3 s4
s%:
	@echo $$$$ >pids/$@.tmp; mv pids/$@.tmp pids/$@; exec sleep 600
EOF
# Job control on: spawnctl leads a process group of its own, as a shell's
# job does, with SIGINT not ignored (bash ignores it in background jobs
# otherwise); the terminal's Ctrl-C is SIGINT to that group.
set -m
"$SPAWNCTL" wrap -- make -s -j4 -C "$dir/int" >"$dir/int.out" 2>&1 &
wpid=$!
set +m
for ((i = 0; i < 400; i++)); do
	[ "$(ls "$dir/int/pids" | grep -c '^s[0-9]$')" = 4 ] && break
	sleep 0.05
done
pids=$(cat "$dir/int/pids"/s? 2>/dev/null)
assert_eq 4 "$(echo $pids | wc -w)" "jobs started"
for p in $pids; do
	pg=$(ps -o pgid= -p "$p" | tr -d ' ')
	assert_eq "$wpid" "$pg" "pid $p's process group (the caller's)"
done
start=$SECONDS
kill -INT -- "-$wpid"
wait_pid_gone "$wpid" 20 || fail "wrapped make still running after SIGINT"
wait "$wpid"
assert_eq 130 $? "spawnctl wrap's status (died of SIGINT)"
note "ended $((SECONDS - start)) s after SIGINT"
for p in $pids; do
	if pid_alive "$p"; then
		fail "command $p still running"
		kill -KILL "$p"
	fi
done
[ -z "$(ls -d "$dir"/spawnd-wrap.* 2>/dev/null)" ] ||
    fail "wrap left its directory behind after SIGINT"
finish
