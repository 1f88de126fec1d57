#!/bin/bash
# spawnctl run's options reach the child: umask, nice, rlimit, pgroup,
# --fd N=PATH[:MODE], --fd N=&M, --exec-fd.
. "$(dirname "$0")/lib.sh"
setup
start_daemon
run() { "$SPAWNCTL" run "$@"; }

note "umask: spawnctl's by default, --umask otherwise"
assert_eq 0027 "$(umask 027; run -- sh -c umask)" "default umask"
assert_eq 0077 "$(run --umask 077 -- sh -c umask)" "--umask 077"

note "nice"
assert_eq 5 "$(run --nice 5 -- sh -c 'read -r l </proc/self/stat; set -- $l; echo ${19}')" "--nice 5"

note "rlimit"
assert_eq "123 456" "$(run --rlimit nofile=123:456 -- sh -c 'echo $(ulimit -Sn) $(ulimit -Hn)')" "--rlimit nofile"
assert_eq "unlimited" "$(run --rlimit CORE=unlimited -- sh -c 'ulimit -Sc')" "--rlimit core"
run --rlimit bogus=1 -- true 2>/dev/null
assert_eq 2 $? "unknown rlimit is a usage error"

note "pgroup: the child leads a new process group"
out=$(run --pgroup -- sh -c 'read -r l </proc/self/stat; set -- $l; echo $1 $5')
assert_eq "${out% *}" "${out#* }" "pid equals pgid"

note "--fd N=PATH:w and N=&M"
run --fd 5="$dir/out:w" -- sh -c 'echo written >&5'
assert_eq written "$(cat "$dir/out")" "--fd 5=PATH:w"
run --fd 5="$dir/out:a" -- sh -c 'echo more >&5'
assert_eq 2 "$(wc -l <"$dir/out")" "--fd :a appends"
assert_eq written "$(run --fd 0="$dir/out" -- head -1)" "--fd 0=PATH reads"
assert_eq hi "$(run --fd 7='&1' -- sh -c 'echo hi >&7')" "--fd 7=&1"
run --fd 7='&99' -- true 2>/dev/null
assert_eq 2 $? "--fd of a closed fd is a usage error"

note "--exec-fd runs the file opened by spawnctl: script and ELF"
printf '#!/bin/sh\necho script "$@"\n' >"$dir/s"
chmod +x "$dir/s"
assert_eq "script a" "$(run --exec-fd -- "$dir/s" a)" "script by fd"
assert_eq "ok" "$(run --exec-fd -- echo ok)" "ELF by fd, from PATH"
run --exec-fd -- "$dir/nonexistent" 2>/dev/null
assert_eq 127 $? "missing program with --exec-fd"

note "install: placed whole, mode, --no-replace"
printf '#!/bin/sh\necho installed\n' >"$dir/src"
"$SPAWNCTL" install --mode 750 "$dir/src" "$dir/dst"
assert_eq 0 $? "install"
assert_eq 750 "$(stat -c %a "$dir/dst")" "installed mode"
assert_eq installed "$(run -- "$dir/dst")" "installed program runs"
"$SPAWNCTL" install --no-replace "$dir/src" "$dir/dst" 2>"$dir/inst.err"
assert_eq 1 $? "--no-replace onto an existing file"
assert_contains "$dir/inst.err" "File exists" "--no-replace message"
assert_eq "" "$(ls -A "$dir" | grep '^\.dst')" "no temp file left"

finish
