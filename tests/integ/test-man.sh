#!/bin/bash
#
# test-man: every man page renders without warnings.
#
# The pages are laid out as installed (manN/page.N in a temporary tree), so
# that the aliases' `.so man3/libspawnd.3` resolves as it does for man(1).
# Each page must render with `groff -ww -man -Tutf8 -z` without a message,
# with `man -l --warnings=w` without a message and to more than a few lines,
# and pass `mandoc -Tlint -W warning` (an alias may only draw ".so is
# fragile").  An alias must be that one line, naming an existing page.
# Skips (77) without groff; mandoc and man are used when present.

. "$(dirname "$0")/lib.sh"

SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}

command -v groff >/dev/null ||
    skip "groff is not installed (Debian: apt-get install groff-base)"
dir=$(mktemp -d "${TMPDIR:-/tmp}/spawnd-test.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT

n=0
for m in "$SRCDIR"/man/*.[0-9]; do
	mkdir -p "$dir/man${m##*.}"
	cp "$m" "$dir/man${m##*.}/"
	n=$((n + 1))
done
[ "$n" -gt 0 ] || { fail "no man pages in $SRCDIR/man"; finish; }

cd "$dir" || exit 1
for p in man*/*; do
	alias=
	if [ "$(head -c 4 "$p")" = ".so " ]; then
		alias=$(sed -n '1s/^\.so //p' "$p")
		assert_eq 1 "$(wc -l <"$p")" "$p: an alias is one line"
		[ -f "$alias" ] || fail "$p: names '$alias', which does not exist"
	fi
	out=$(groff -ww -man -Tutf8 -z "$p" 2>&1)
	assert_eq "" "$out" "groff -ww $p"
	if command -v man >/dev/null; then
		out=$(MANWIDTH=80 man -l --warnings=w "$p" 2>&1 >/dev/null)
		assert_eq "" "$out" "man -l --warnings=w $p"
		lines=$(MANWIDTH=80 man -l "$p" 2>/dev/null | wc -l)
		[ "$lines" -gt 10 ] || fail "man -l $p: $lines lines"
	fi
	if command -v mandoc >/dev/null; then
		out=$(mandoc -Tlint -W warning "$p" 2>&1)
		[ -n "$alias" ] && out=$(printf '%s\n' "$out" |
		    grep -v 'WARNING: \.so is fragile')
		assert_eq "" "$out" "mandoc -Tlint $p"
	fi
done
tools=groff
command -v man >/dev/null && tools="$tools, man"
command -v mandoc >/dev/null && tools="$tools, mandoc"
note "$n pages checked ($tools)"
finish
