// Package spawnd runs programs through spawnd, the spawn broker of this
// repository, instead of forking: the API of os/exec, without the fork.
//
// A Go program that forks while another goroutine writes an executable
// lets the child inherit the write fd until it execs; running the file
// then fails with ETXTBSY (golang/go#22315).  LD_PRELOAD shims cannot
// help, since the Go runtime forks with raw system calls.  This package
// speaks spawnd's wire protocol (docs/protocol.md) over a unix socket,
// with the standard library only and no cgo, and never forks (except to
// autostart a private daemon, once).
//
// Porting is a change of import and constructor:
//
//	cmd := spawnd.Command("ls", "-l")	// was exec.Command
//	out, err := cmd.Output()
//
// The module path is spawnd.example/spawnd, which resolves nowhere; use
// it from a checkout with a replace directive in your go.mod:
//
//	require spawnd.example/spawnd v0.0.0
//	replace spawnd.example/spawnd => /path/to/spawnd/go
//
// Differences from os/exec, all of them because the daemon, not this
// process, is the child's parent:
//
//   - The child runs with the daemon's credentials, namespaces, cgroup,
//     rlimits (unless Cmd.Rlimits), nice value and scheduling; the daemon
//     serves only its own uid and root, so these are the caller's in the
//     usual setting.  Working directory (Dir, else the caller's) and umask
//     (Cmd.Umask, else the caller's) are the caller's, as with os/exec.
//   - Environment entries without "=" or starting with "=" are dropped
//     (the daemon refuses them); Args[0] must not be empty.
//   - Process.Kill and Signal go through the child's pidfd and can never
//     reach a recycled pid; Process.Wait gets the exit record from the
//     daemon (ProcessState.SysUsage has user and system time and peak
//     RSS only).
//   - Children are tied to their connection (Client): when it closes, the
//     daemon stops them, unless Cmd.Detach.  Cmd.Timeout and Cmd.Grace
//     let the daemon stop a child by itself.
//   - Every failure up to the exec is an *Error from Start, with the
//     errno and the daemon's Step.
//
// Connections: a Cmd uses Cmd.Client, else DefaultClient(), which finds
// the socket with SocketPath and starts a private daemon if nobody
// answers (DialAutostart).  A Client is safe for concurrent use; several
// goroutines may spawn over one or several Clients at once.  Before
// sending anything, Dial checks the server with SO_PEERCRED (our euid or
// root; root accepts only root) and later checks every pidfd the daemon
// sends (docs/protocol.md, section 1.4).
package spawnd
