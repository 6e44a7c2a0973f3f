#!/usr/bin/env bash
# run_doc_commands.sh DOC.md SRC [KILN_BIN_DIR] — runs every command of a guide,
# in order, as a reader would: each ```sh block of DOC.md, concatenated into
# one bash script (so cd and export carry over), with -e, -u and pipefail,
# in a fresh copy of the source tree (no build folder) and a fresh, empty
# HOME. System packages can't be installed by a test: `sudo` and `apt-get`
# are replaced by a check that every package named by `apt-get install` is
# installed (a missing one fails the test, naming it). A code block right
# after a line `<!-- file: NAME -->` is written to
# NAME (in the current folder at that point) before the commands after it
# run. KILN_BIN_DIR, when given, goes first on PATH (for guides that assume
# an installed kiln). Fails on the first failing command, or when a line of a
# ```text block (the output the guide shows) is missing from what the
# commands printed.
set -euo pipefail
doc=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") src=$(cd "$2" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/home" "$tmp/kiln"
(cd "$src" && tar --exclude=./.git --exclude='./build*' -cf - .) | (cd "$tmp/kiln" && tar xf -)
if [ $# -ge 3 ]; then
  PATH=$(cd "$3" && pwd):$PATH
fi
mkdir "$tmp/shims"
printf '#!/bin/sh\nexec "$@"\n' > "$tmp/shims/sudo"
cat > "$tmp/shims/apt-get" <<'SHIM'
#!/bin/sh
# the test's apt-get: checks that the packages of `apt-get install` are installed
[ "$1" = install ] || { echo "apt-get $*: only 'apt-get install' is checked by the test" >&2; exit 1; }
shift
for p in "$@"; do
  case $p in -*) continue ;; esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    { echo "apt-get install: the guide needs package $p, which is not installed" >&2; exit 1; }
done
echo "apt-get install: $* (already installed)"
SHIM
chmod +x "$tmp/shims/sudo" "$tmp/shims/apt-get"
PATH=$tmp/shims:$PATH

{
  echo 'set -euo pipefail'
  echo 'trap '\''echo "FAILED at line $LINENO of the commands (see above)" >&2'\'' ERR'
  awk '
    /^<!-- file: [^ ]+ -->$/ { file = $3; next }
    /^```sh[[:space:]]*$/ && !on { on = "sh"; file = ""; next }
    /^```[a-z]+[[:space:]]*$/ && !on && file != "" {
      on = "file"; print "cat > " file " <<'"'"'KILN_DOC_EOF'"'"'"; next }
    /^```/ && on == "file" { print "KILN_DOC_EOF"; on = ""; file = ""; next }
    /^```/ { on = on ? "" : "other"; next }
    on == "sh" || on == "file" { print }
  ' "$doc"
} > "$tmp/commands.sh"
n=$(grep -cv '^\s*\(#\|$\)' "$tmp/commands.sh")
echo "running $((n - 2)) command lines of $(basename "$doc") in a copy of the tree, HOME=$tmp/home"
cd "$tmp/kiln"
HOME=$tmp/home bash -x "$tmp/commands.sh" 2>&1 | tee "$tmp/output.log"
awk '/^```text[[:space:]]*$/ { on = 1; next } /^```/ { on = 0 } on' "$doc" > "$tmp/shown.txt"
missing=0
while IFS= read -r line; do
  [ -z "$line" ] && continue
  grep -Fxq -- "$line" "$tmp/output.log" || { echo "the guide shows output the commands did not print: $line"; missing=1; }
done < "$tmp/shown.txt"
[ $missing -eq 0 ] || exit 1
echo "every command of $(basename "$doc") ran and printed what the guide shows"
