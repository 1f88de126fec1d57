#!/bin/bash
# run.sh: the benchmark behind `make bench` (issue 6).
#
# Starts a private spawnd on a socket in a fresh mktemp -d, builds the tiny
# static target there, runs every workload of build/bench/bench against
# the daemon (each in its own process), stops the daemon and prints the
# tables and the targets section on stdout.  Progress goes to stderr.
#
# Writes bench/out/results.csv (one row per figure) and, if gnuplot is
# installed, bench/out/chart.png (workloads 2 and 3).
#
# Environment:
#   B=DIR      the build directory (make passes its absolute path)
#   QUICK=1    a smoke run in well under a minute: few reps, short runs,
#              a 256 MiB heap; the figures are noisy
#   OUT=DIR    where results go (default: bench/out)
#   TINY=glibc build the tiny target with glibc (cc -static) instead of
#              the raw exit_group _start

set -u

here=$(cd "$(dirname "$0")" && pwd)
B=${B:-$here/../build}
QUICK=${QUICK:-0}
OUT=${OUT:-$here/out}
CC=${CC:-cc}
SPAWND=$B/spawnd
SPAWNCTL=$B/spawnctl
BENCH=$B/bench/bench

work=
daemon_pid=
failed=0

die() {
	echo "run.sh: $*" >&2
	exit 1
}

cleanup() {
	local rc=$?
	stop_daemon
	[ -n "$work" ] && rm -rf "$work"
	exit "$rc"
}

# start_daemon: a fresh spawnd on $sock with limits above what the
# footprint workload opens; waits until it answers a ping.
start_daemon() {
	local i
	rm -f "$sock"
	"$SPAWND" --socket "$sock" --max-connections 4096 \
	    --max-connections-per-uid 4096 --max-children 8192 \
	    --max-children-per-connection 4096 \
	    </dev/null >>"$work/spawnd.log" 2>&1 &
	daemon_pid=$!
	for ((i = 0; i < 100; i++)); do
		kill -0 "$daemon_pid" 2>/dev/null ||
		    { cat "$work/spawnd.log" >&2; die "spawnd exited"; }
		if [ -S "$sock" ] &&
		    "$SPAWNCTL" ping --socket "$sock" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.05
	done
	cat "$work/spawnd.log" >&2
	die "spawnd not ready after 5 s"
}

stop_daemon() {
	local i
	[ -n "$daemon_pid" ] || return 0
	kill -TERM "$daemon_pid" 2>/dev/null
	for ((i = 0; i < 200; i++)); do
		kill -0 "$daemon_pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$daemon_pid" 2>/dev/null && kill -KILL "$daemon_pid"
	wait "$daemon_pid" 2>/dev/null
	daemon_pid=
}

# bench WORKLOAD ARGS...: one workload; rows go to the CSV.
bench() {
	local w=$1 t0=$SECONDS
	shift
	echo "== $w" >&2
	if ! "$BENCH" -s "$sock" -o "$csv" "$@" "$w" </dev/null; then
		echo "run.sh: workload $w failed" >&2
		failed=$((failed + 1))
	fi
	echo "   ($w: $((SECONDS - t0)) s)" >&2
}

# wrap_latency: glibc's posix_spawn through the preload shim (spawnctl
# wrap) against the posix face it forwards to, /bin/true, one thread;
# rows in $wrap_csv.
wrap_latency() {
	local t0=$SECONDS
	[ -f "$B/libspawnd-preload.so" ] || return 0
	echo "== latency, posix_spawn wrapped (libspawnd-preload.so)" >&2
	head -n 1 "$csv" >"$wrap_csv"
	if ! LD_PRELOAD=$B/libspawnd-preload.so SPAWND_SOCKET=$sock \
	    "$BENCH" -s "$sock" -o "$wrap_csv" -m posix_spawn,spawnd_posix \
	    -T 1 "${lat[@]}" latency </dev/null; then
		echo "run.sh: wrapped latency failed" >&2
		failed=$((failed + 1))
	fi
	echo "   (wrapped latency: $((SECONDS - t0)) s)" >&2
}

# wrap_report: the wrapped latency figures, median [min-max] in us.
wrap_report() {
	[ -s "$wrap_csv" ] || return 0
	echo
	echo "posix_spawn wrapped (spawnctl wrap) vs the posix face, /bin/true," \
	    "1 thread, spawn+wait latency in us:"
	awk -F, '$3 != "mode" && $4 == 1 && $5 == "latency" {
		name = $3 == "posix_spawn" ? "posix_spawn, wrapped" : $3
		printf "  %-22s %10.1f [%.1f-%.1f]\n", name, $7, $8, $9
	}' "$wrap_csv"
}

# build_tiny: the tiny static target, as small as the architecture allows.
build_tiny() {
	local src=$here/tiny-src/tiny.c
	if [ "${TINY:-}" != glibc ] &&
	    "$CC" -DTINY_RAW -nostdlib -static -O2 -Wl,--build-id=none -s \
	    -o "$work/tiny" "$src" 2>/dev/null && "$work/tiny"; then
		tiny_kind="raw exit_group, $(stat -c %s "$work/tiny") bytes"
	elif "$CC" -static -O2 -s -o "$work/tiny" "$src" 2>/dev/null &&
	    "$work/tiny"; then
		tiny_kind="glibc static, $(stat -c %s "$work/tiny") bytes"
	elif "$CC" -O2 -o "$work/tiny" "$src" && "$work/tiny"; then
		tiny_kind="dynamic (no static libc!), $(stat -c %s \
		    "$work/tiny") bytes"
	else
		die "cannot build the tiny target"
	fi
}

# machine: one line about where the figures come from.
# steal_pct LINE0 LINE1: the share of steal time between two "cpu" lines of
# /proc/stat (user nice system idle iowait irq softirq steal ...).
steal_pct() {
	local a b i t=0 st
	read -r -a a <<<"$1"
	read -r -a b <<<"$2"
	for i in 1 2 3 4 5 6 7 8; do
		t=$((t + ${b[i]:-0} - ${a[i]:-0}))
	done
	st=$((${b[8]:-0} - ${a[8]:-0}))
	[ "$t" -gt 0 ] || { echo "n/a"; return; }
	echo "$((st * 100 / t)) %"
}

machine() {
	local cpu
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
	printf '%s, %s CPUs (%s), %s MiB RAM, %s, glibc %s' \
	    "$(uname -n)" "$(nproc)" "${cpu:-unknown CPU}" \
	    "$(awk '/^MemTotal/ { printf "%d", $2 / 1024 }' /proc/meminfo)" \
	    "$(uname -sr)" "$(ldd --version 2>/dev/null |
	    sed -n '1s/.* //p')"
}

# chart: workloads 2 and 3 as a PNG, if gnuplot is there.
chart() {
	local d=$work/plot t tl
	command -v gnuplot >/dev/null 2>&1 || {
		echo "(gnuplot not installed: no chart)" >&2
		return 0
	}
	mkdir -p "$d"
	tl=$(awk -F, '$1 == 2 && $5 == "throughput" { print $2 }' "$csv" |
	    sort -u)
	for t in $tl; do
		echo "threads fork vfork posix_spawn spawnd spawnd_posix" \
		    >"$d/tput-$t.dat"
		for k in $(awk -F, -v t="$t" '$1 == 2 && $2 == t &&
		    $5 == "throughput" { print $4 }' "$csv" | sort -un); do
			awk -F, -v t="$t" -v k="$k" '
			    $1 == 2 && $2 == t && $4 == k &&
			    $5 == "throughput" { v[$3] = $7 }
			    END {
				n = split("fork vfork posix_spawn spawnd " \
				    "spawnd_posix", m, " ")
				printf "%s", k
				for (i = 1; i <= n; i++)
					printf " %s", (m[i] in v) ? v[m[i]] : "NaN"
				printf "\n"
			    }' "$csv" >>"$d/tput-$t.dat"
		done
	done
	awk -F, '$1 == 3 && $5 == "ok_rate" { v[$3 "," $2] = $7; m[$3] = 1 }
	    END {
		print "mode script elf"
		n = split("native mutex retry forklock spawnd spawnd_fd", o, " ")
		for (i = 1; i <= n; i++)
			if (o[i] in m)
				printf "%s %s %s\n", o[i],
				    (o[i] ",script" in v) ? v[o[i] ",script"] : "NaN",
				    (o[i] ",elf" in v) ? v[o[i] ",elf"] : "NaN"
	    }' "$csv" >"$d/wte.dat"
	{
		cat <<-EOF
		if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
		    set terminal pngcairo size 1600,560 noenhanced font ",10"
		} else {
		    set terminal png size 1600,560 noenhanced
		}
		set output '$OUT/chart.png'
		set multiplot layout 1,$(($(echo $tl | wc -w) + 1)) \\
		    title 'spawnd bench: $(machine | tr -d "'")'
		set key below horizontal
		set grid ytics
		set yrange [0:*]
		set ylabel "spawns/s"
		EOF
		for t in $tl; do
			cat <<-EOF
			set title 'throughput, target $t (spawn+wait)'
			set xlabel "client threads"
			set logscale x
			set xrange [0.8:32]
			set xtics ($(awk 'NR > 1 { printf "%s%s", s, $1; s = ", " }' \
			    "$d/tput-$t.dat"))
			plot for [i=2:6] '$d/tput-$t.dat' using 1:i \\
			    with linespoints lw 2 title columnheader(i)
			unset logscale x
			set xrange [*:*]
			EOF
		done
		cat <<-EOF
		set title "write-then-exec, 20 threads (ok spawns/s)"
		set xlabel ""
		set xtics autofreq rotate by -30
		set style data histograms
		set style histogram clustered gap 1
		set style fill solid 0.8 border -1
		plot '$d/wte.dat' using 2:xtic(1) title columnheader(2), \\
		    '' using 3 title columnheader(3)
		unset multiplot
		EOF
	} >"$d/chart.gp"
	if ! gnuplot "$d/chart.gp" 2>"$d/gnuplot.err"; then
		echo "gnuplot failed:" >&2
		cat "$d/gnuplot.err" >&2
		rm -f "$OUT/chart.png"
	fi
}

[ -x "$SPAWND" ] || die "no daemon at $SPAWND (run make first)"
[ -x "$SPAWNCTL" ] || die "no spawnctl at $SPAWNCTL"
[ -x "$BENCH" ] || die "no benchmark at $BENCH (make $BENCH)"
work=$(mktemp -d "${TMPDIR:-/tmp}/spawnd-bench.XXXXXX") ||
    die "mktemp failed"
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
sock=$work/socket
mkdir -p "$OUT" "$work/wte" || die "cannot create $OUT"
csv=$OUT/results.csv
wrap_csv=$OUT/wrap.csv
rm -f "$OUT/chart.png"
echo "workload,case,mode,threads,metric,unit,median,min,max,sum,n" >"$csv"
build_tiny
ulimit -n "$(ulimit -Hn)" 2>/dev/null

# Sized for < 10 minutes on a busy 2-CPU VM (QUICK: < 1 minute).
if [ "$QUICK" = 1 ]; then
	lat=(-r 2 -n 60)
	tput=(-r 1 -d 0.25 -T 1,4,20)
	wte=(-r 1 -R 10 -T 20)
	big=(-r 1 -n 30 -M 256)
	count=300
else
	lat=(-r 9 -n 150)
	tput=(-r 5 -d 0.8 -T 1,4,20)
	wte=(-r 3 -R 50 -T 20)
	big=(-r 3 -n 100 -M 1024)
	count=1000
fi
targets=(-t "true=/bin/true" -t "tiny=$work/tiny")
start=$SECONDS
load0=$(cut -d' ' -f1-3 /proc/loadavg)
stat0=$(head -n 1 /proc/stat)
echo "spawnd bench on $(machine); tiny: $tiny_kind" >&2

# Footprint first, each part on a fresh daemon: what one part frees, the
# next would reuse.
start_daemon
bench footprint -P conns -N "$count"
stop_daemon
start_daemon
bench footprint -P children -N "$count"
stop_daemon
start_daemon
bench latency "${targets[@]}" "${lat[@]}"
wrap_latency
bench throughput "${targets[@]}" "${tput[@]}"
bench write-exec -D "$work/wte" -e "$work/tiny" "${wte[@]}"
bench bigmem -t "tiny=$work/tiny" "${big[@]}"
stop_daemon
elapsed=$((SECONDS - start))
load1=$(cut -d' ' -f1-3 /proc/loadavg)
stat1=$(head -n 1 /proc/stat)

quick=
[ "$QUICK" = 1 ] && quick=" (QUICK=1: a smoke run, noisy)"
echo "spawnd benchmark$quick"
echo "machine: $(machine)"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), ${elapsed} s;" \
    "targets: /bin/true (dynamic), tiny ($tiny_kind)"
echo "load average: $load0 at the start, $load1 at the end" \
    "(figures are ratios within the run; a busy machine makes them noisy)"
echo "steal: $(steal_pct "$stat0" "$stat1") of CPU time went to the" \
    "hypervisor's other guests during the run (CPU times, the daemon's" \
    "service time among them, include it)"
"$BENCH" report "$csv" || failed=$((failed + 1))
wrap_report
echo
echo "rows: $csv"
chart
[ -f "$OUT/chart.png" ] && echo "chart: $OUT/chart.png"
[ "$failed" -eq 0 ] || die "$failed workload(s) failed"
exit 0
