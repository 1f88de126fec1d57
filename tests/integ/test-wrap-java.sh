#!/bin/bash
# spawnctl wrap with Java's ProcessBuilder (nobody here wrote it; JDK 17
# spawns through posix_spawn of jspawnhelper and reaps with waitpid from
# a reaper thread): exit codes, redirectErrorStream, inheritIO, destroy(),
# pipes, directory(), a missing program: the same wrapped as unwrapped,
# each spawn brokered.  Then 20 threads each write a script and run it
# with start().waitFor(): wrapped, no error and every spawn brokered.
#
# ETXTBSY is counted, not asserted: the JVM opens files without
# O_CLOEXEC (Files.write: open(O_WRONLY|O_CREAT|O_TRUNC)) and leaves it
# to jspawnhelper to close them after it starts, so another thread's
# script being written is inherited by the helper, through the daemon
# too, as posix_spawn's contract says.  See libspawnd-preload(8).
. "$(dirname "$0")/lib.sh"
wrap_setup
command -v java >/dev/null || skip "no java (Debian: apt-get install default-jdk-headless)"
java -version 2>&1 | grep -q 'version "\(1[7-9]\|[2-9][0-9]\)' ||
    skip "java older than 17"
export TMPDIR=$dir
unset XDG_RUNTIME_DIR JAVA_TOOL_OPTIONS _JAVA_OPTIONS JDK_JAVA_OPTIONS
threads=20
rounds=${WRAP_JAVA_ROUNDS:-25}

cat >"$dir/T.java" <<'EOF'
import java.io.*;
import java.nio.file.*;
import java.nio.file.attribute.*;
import java.util.*;
import java.util.concurrent.atomic.*;

public class T {
    static void etxtbsy(String dir, int threads, int rounds) throws Exception {
        AtomicInteger ok = new AtomicInteger(), busy = new AtomicInteger(),
            err = new AtomicInteger();
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            final int id = t;
            Thread th = new Thread(() -> {
                for (int r = 0; r < rounds; r++) {
                    Path p = Paths.get(dir, "j" + id + "-" + r + ".sh");
                    try {
                        Files.write(p, "#!/bin/sh\nexit 0\n".getBytes());
                        Files.setPosixFilePermissions(p,
                            PosixFilePermissions.fromString("rwxr-xr-x"));
                        int c = new ProcessBuilder(p.toString()).start()
                            .waitFor();
                        if (c == 0) ok.incrementAndGet();
                        else err.incrementAndGet();
                    } catch (IOException e) {
                        if (String.valueOf(e.getMessage())
                            .contains("Text file busy"))
                            busy.incrementAndGet();
                        else
                            err.incrementAndGet();
                    } catch (InterruptedException e) {
                        err.incrementAndGet();
                    }
                    try { Files.deleteIfExists(p); } catch (IOException e) { }
                }
            });
            th.start();
            ts.add(th);
        }
        for (Thread th : ts) th.join();
        System.out.println("ok " + ok + " etxtbsy " + busy + " errors " + err);
    }

    static String read(InputStream in) throws IOException {
        return new String(in.readAllBytes());
    }

    static void semantics() throws Exception {
        for (int c : new int[] { 0, 1, 42, 255 })
            System.out.println("exit " + new ProcessBuilder("sh", "-c",
                "exit " + c).start().waitFor());
        Process p = new ProcessBuilder("sh", "-c", "echo out; echo err >&2")
            .redirectErrorStream(true).start();
        System.out.println("merged " + read(p.getInputStream()).trim()
            .replace('\n', '+') + " " + p.waitFor());
        p = new ProcessBuilder("sh", "-c", "echo out; echo err >&2").start();
        System.out.println("split " + read(p.getInputStream()).trim() + "/"
            + read(p.getErrorStream()).trim() + " " + p.waitFor());
        System.out.flush();
        System.out.println("inheritIO " + new ProcessBuilder("sh", "-c",
            "echo from-child; exit 7").inheritIO().start().waitFor());
        p = new ProcessBuilder("sleep", "600").start();
        System.out.println("alive " + p.isAlive());
        p.destroy();
        System.out.println("destroyed " + p.waitFor() + " " + p.isAlive());
        p = new ProcessBuilder("cat").start();
        p.getOutputStream().write("through cat".getBytes());
        p.getOutputStream().close();
        System.out.println("pipes " + read(p.getInputStream()) + " "
            + p.waitFor());
        p = new ProcessBuilder("pwd").directory(new File("/usr")).start();
        System.out.println("directory " + read(p.getInputStream()).trim());
        try {
            new ProcessBuilder("no-such-program-here").start();
        } catch (IOException e) {
            System.out.println("missing " + e.getMessage().contains("error=2"));
        }
    }

    public static void main(String[] a) throws Exception {
        if (a[0].equals("etxtbsy"))
            etxtbsy(a[1], Integer.parseInt(a[2]), Integer.parseInt(a[3]));
        else
            semantics();
    }
}
EOF
javac -d "$dir" "$dir/T.java" >"$dir/javac.log" 2>&1 ||
    { cat "$dir/javac.log" >&2; skip "javac failed (Debian: apt-get install default-jdk-headless)"; }
jv="java -Xshare:auto -XX:TieredStopAtLevel=1 -cp $dir T"

note "semantics, unwrapped and wrapped"
$jv semantics >"$dir/plain.out" 2>&1
assert_eq 0 $? "unwrapped run" || cat "$dir/plain.out" >&2
SPAWND_WRAP_DEBUG=1 "$SPAWNCTL" wrap -- $jv semantics >"$dir/wrapped.out" \
    2>"$dir/wrapped.err"
assert_eq 0 $? "wrapped run" || cat "$dir/wrapped.err" >&2
if ! cmp -s "$dir/plain.out" "$dir/wrapped.out"; then
	fail "output differs from the unwrapped run"
	diff "$dir/plain.out" "$dir/wrapped.out" >&2
fi
# 4 exits, merged, split, inheritIO, sleep, cat, pwd, the missing one.
assert_eq 11 "$(grep -c 'brokered pid.*jspawnhelper' "$dir/wrapped.err")" \
    "brokered jspawnhelper spawns"

note "$threads threads x $rounds rounds of write-then-exec, unwrapped"
mkdir "$dir/s"
start=$SECONDS
$jv etxtbsy "$dir/s" "$threads" "$rounds" >"$dir/native.out" 2>&1
note "native: $(cat "$dir/native.out") ($((SECONDS - start)) s)"

note "the same, wrapped: no error, every spawn brokered"
start=$SECONDS
"$SPAWNCTL" wrap -- sh -c "$jv etxtbsy \"\$1\" \"\$2\" \"\$3\""' && "$4" ping' \
    sh "$dir/s" "$threads" "$rounds" "$SPAWNCTL" >"$dir/wrap.out" 2>&1
assert_eq 0 $? "wrapped run" || cat "$dir/wrap.out" >&2
note "wrapped: $(head -n 1 "$dir/wrap.out") ($((SECONDS - start)) s)"
total=$((threads * rounds))
ok=0 busy=0 errors=missing
read -r _ ok _ busy _ errors < <(grep '^ok [0-9]* etxtbsy' "$dir/wrap.out")
assert_eq 0 "$(grep -c 'spawnd-wrap:' "$dir/wrap.out")" "notes of the shim"
assert_eq 0 "$errors" "wrapped errors"
assert_eq "$total" "$((ok + busy))" "wrapped spawns accounted for"
# An ETXTBSY fails in jspawnhelper's exec, after the broker spawned it.
assert_eq "$total" "$(spawns_of "$dir/wrap.out")" "daemon's spawn count"
finish
