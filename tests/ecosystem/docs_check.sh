#!/usr/bin/env bash
# docs_check.sh KILN SRC — the documents against each other and the CLI:
# every docs/*.md is linked from README.md, every relative link in README.md
# and docs/ resolves, the man page documents exactly the commands and flags
# `kiln --help` lists, and it formats without warnings.
set -uo pipefail
kiln=$1 src=$2
cd "$src"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

for doc in docs/*.md; do
  grep -q "($doc)" README.md || fail "README.md does not link $doc"
done

# Relative markdown links: [text](path) or [text](path#anchor), outside code.
for md in README.md docs/*.md; do
  dir=$(dirname "$md")
  grep -o '\]([^)#][^)]*)' "$md" | sed 's/^](\(.*\))$/\1/; s/#.*//' | while read -r link; do
    case $link in http://*|https://*|mailto:*) continue ;; esac
    [ -e "$dir/$link" ] || echo "$md: broken link $link"
  done
done > "${TMPDIR:-/tmp}/kiln-links.$$"
if [ -s "${TMPDIR:-/tmp}/kiln-links.$$" ]; then
  while read -r line; do fail "$line"; done < "${TMPDIR:-/tmp}/kiln-links.$$"
fi
rm -f "${TMPDIR:-/tmp}/kiln-links.$$"

# The CLI in the man page: roff escapes dashes as \-.
man_text=$(sed 's/\\-/-/g; s/\\f[BIRP]//g' man/kiln.1)
help=$("$kiln" --help)
for cmd in $(printf '%s\n' "$help" | grep -oE '^  kiln [a-z]+' | awk '{print $2}' | sort -u); do
  grep -q "^\.B kiln $cmd" man/kiln.1 || fail "man/kiln.1 lacks the command '$cmd'"
done
for flag in $(printf '%s\n' "$help" | grep -oE '(^|[ [|])(--[a-z][a-z0-9-]*|-o)\b' | tr -d ' [|' | sort -u); do
  grep -qe "$flag" <<< "$man_text" || fail "man/kiln.1 lacks $flag (listed by kiln --help)"
done
# (only SYNOPSIS to OPTIONS: later sections quote other programs' flags)
man_cli=$(sed -n '/^\.SH SYNOPSIS/,/^\.SH THE GENERATED API/p' <<< "$man_text")
for flag in $(grep -oE -- '--[a-z][a-z0-9-]*[a-z0-9]' <<< "$man_cli" | sort -u); do
  grep -qe "$flag" <<< "$help" || fail "man/kiln.1 documents $flag, which kiln --help does not list"
done
if command -v groff > /dev/null; then
  warnings=$(groff -man -ww -z man/kiln.1 2>&1)
  [ -z "$warnings" ] || fail "man/kiln.1: $warnings"
fi
[ $fails -eq 0 ] && echo "docs, README, man page and kiln --help agree"
exit $((fails > 0))
