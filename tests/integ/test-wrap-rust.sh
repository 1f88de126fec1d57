#!/bin/bash
# spawnctl wrap with Rust's std::process::Command (nobody here wrote it):
# 20 threads each write a script and run it, ROUNDS rounds: wrapped, no
# ETXTBSY, no error, and the daemon's spawn count rose by every spawn
# (natively ETXTBSY shows now and then: counted, not asserted).  Then
# output() with pipes, current_dir, env_clear, exit codes and signals,
# kill(), try_wait(), a missing program: the same wrapped as unwrapped.
. "$(dirname "$0")/lib.sh"
wrap_setup
rustc=$(command -v rustc || echo "$HOME/.cargo/bin/rustc")
[ -x "$rustc" ] || skip "no rustc (Debian: apt-get install rustc)"
export TMPDIR=$dir
unset XDG_RUNTIME_DIR
threads=20
rounds=${WRAP_RUST_ROUNDS:-100}

"$rustc" --edition 2021 -C opt-level=1 -o "$dir/t" "$SRCDIR/bench/wrap-rust.rs" \
    >"$dir/rustc.log" 2>&1 || { cat "$dir/rustc.log" >&2; skip "rustc failed"; }

note "semantics, unwrapped and wrapped"
"$dir/t" semantics >"$dir/plain.out" 2>&1
assert_eq 0 $? "unwrapped run" || cat "$dir/plain.out" >&2
"$SPAWNCTL" wrap -- "$dir/t" semantics >"$dir/wrapped.out" 2>&1
assert_eq 0 $? "wrapped run" || cat "$dir/wrapped.out" >&2
if ! cmp -s "$dir/plain.out" "$dir/wrapped.out"; then
	fail "output differs from the unwrapped run"
	diff "$dir/plain.out" "$dir/wrapped.out" >&2
fi

note "$threads threads x $rounds rounds of write-then-exec, unwrapped"
mkdir "$dir/s"
start=$SECONDS
"$dir/t" etxtbsy "$dir/s" "$threads" "$rounds" >"$dir/native.out" 2>&1
note "native: $(cat "$dir/native.out") ($((SECONDS - start)) s)"

note "the same, wrapped: no ETXTBSY, every spawn brokered"
start=$SECONDS
"$SPAWNCTL" wrap -- sh -c '"$1" etxtbsy "$2" "$3" "$4" && "$5" ping' sh \
    "$dir/t" "$dir/s" "$threads" "$rounds" "$SPAWNCTL" >"$dir/wrap.out" 2>&1
assert_eq 0 $? "wrapped run" || cat "$dir/wrap.out" >&2
note "wrapped: $(head -n 1 "$dir/wrap.out") ($((SECONDS - start)) s)"
total=$((threads * rounds))
assert_eq "ok $total etxtbsy 0 errors 0" "$(head -n 1 "$dir/wrap.out")" \
    "wrapped result"
assert_eq "$total" "$(spawns_of "$dir/wrap.out")" "daemon's spawn count"
finish
