// wrap-rust.rs: a program that spawns only through Rust's std::process
// (posix_spawnp in glibc), for spawnctl wrap.  "etxtbsy DIR THREADS
// ROUNDS": THREADS threads each write a script and run it, ROUNDS times,
// and it prints "ok N etxtbsy N errors N".  "semantics": what Command
// does (pipes, current_dir, env_clear, statuses, kill, try_wait), to
// compare wrapped with unwrapped.  Used by tests/integ/test-wrap-rust.sh
// and bench/rust.sh.
use std::fs::OpenOptions;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::thread;

fn etxtbsy(dir: String, threads: usize, rounds: usize) {
    let mut hs = Vec::new();
    for t in 0..threads {
        let dir = dir.clone();
        hs.push(thread::spawn(move || {
            let (mut ok, mut busy, mut err) = (0, 0, 0);
            for r in 0..rounds {
                let path = format!("{}/s{}-{}.sh", dir, t, r);
                let mut f = OpenOptions::new().write(true).create(true)
                    .truncate(true).mode(0o755).open(&path).unwrap();
                f.write_all(b"#!/bin/sh\nexit 0\n").unwrap();
                drop(f);
                match Command::new(&path).status() {
                    Ok(s) if s.success() => ok += 1,
                    Ok(_) => err += 1,
                    Err(e) if e.raw_os_error() == Some(26) => busy += 1,
                    Err(_) => err += 1,
                }
                let _ = std::fs::remove_file(&path);
            }
            (ok, busy, err)
        }));
    }
    let (mut ok, mut busy, mut err) = (0, 0, 0);
    for h in hs {
        let (o, b, e) = h.join().unwrap();
        ok += o; busy += b; err += e;
    }
    println!("ok {} etxtbsy {} errors {}", ok, busy, err);
}

fn semantics() {
    let o = Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"])
        .output().unwrap();
    println!("output {:?} {:?} {:?}", o.status.code(), o.stdout, o.stderr);
    let o = Command::new("pwd").current_dir("/usr").output().unwrap();
    println!("current_dir {:?}", String::from_utf8_lossy(&o.stdout));
    let o = Command::new("/usr/bin/env").env_clear().env("ONLY", "1")
        .output().unwrap();
    println!("env_clear {:?}", String::from_utf8_lossy(&o.stdout));
    for c in [0, 1, 42, 255] {
        let s = Command::new("sh").args(["-c", &format!("exit {}", c)])
            .status().unwrap();
        println!("exit {:?}", s.code());
    }
    let s = Command::new("sh").args(["-c", "kill -KILL $$"]).status().unwrap();
    println!("signal {:?} {:?}", s.code(), s.signal());
    let mut c = Command::new("sleep").arg("600").spawn().unwrap();
    println!("try_wait running {:?}", c.try_wait().unwrap());
    c.kill().unwrap();
    let s = c.wait().unwrap();
    println!("killed {:?}", s.signal());
    println!("try_wait after {:?}", c.try_wait().unwrap().map(|s| s.signal()));
    let mut c = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped())
        .spawn().unwrap();
    c.stdin.take().unwrap().write_all(b"through cat").unwrap();
    let mut s = String::new();
    c.stdout.take().unwrap().read_to_string(&mut s).unwrap();
    println!("pipes {:?} {:?}", s, c.wait().unwrap().code());
    let e = Command::new("no-such-program-here").status().unwrap_err();
    println!("missing {:?}", e.kind() == ErrorKind::NotFound);
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a[1] == "etxtbsy" {
        etxtbsy(a[2].clone(), a[3].parse().unwrap(), a[4].parse().unwrap());
    } else {
        semantics();
    }
}
