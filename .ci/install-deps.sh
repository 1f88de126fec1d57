#!/bin/sh
# Installs, on Debian 12, what building and testing spawnd needs, and only
# what is missing.  Idempotent; needs root (or sudo) only when it installs.
set -eu

# Building, and every test of make check (groff-base: the man page test;
# dbus, dbus-user-session, libpam-systemd: the systemd test's user managers;
# tmux, less: the pty test; golang-go: the Go client; ninja-build, python3,
# rustc, default-jdk-headless: the programs spawnctl wrap is tested with).
pkgs="gcc make pkg-config libevent-dev libsystemd-dev systemd procps groff-base dbus dbus-user-session libpam-systemd tmux less golang-go ninja-build python3 rustc default-jdk-headless"
[ "${1-}" = "--ci" ] && pkgs="$pkgs valgrind cppcheck clang clang-tidy clang-tools libclang-rt-14-dev mandoc"

missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

sudo=
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "install-deps: missing Debian packages:$missing" >&2
		echo "install-deps: not root and no sudo: as root, run" >&2
		echo "    apt-get install$missing" >&2
		exit 1
	fi
	sudo=sudo
fi
echo "install-deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
