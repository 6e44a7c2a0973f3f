#!/usr/bin/env bash
# run.sh KILN SRCDIR [--bugs] — feeds kiln the hostile and broken inputs of
# tests/robustness/cases/ (made by make_cases.py) and checks each against
# expected.txt: the exact one-line error, exit status 1, nothing on stdout,
# no output folder left behind; every run is capped at 60 s and, unless kiln
# is built with ASan (which needs a huge address space), at 1 GiB of address
# space, so a crash, a hang or a huge allocation fails the test. A 2 GB+
# model and tensor file (sparse) and a protobuf that would unpack to 120
# times its size are made here, in a temporary folder.
# Cases marked '!' in expected.txt are known bugs, reported and waiting for a
# fix elsewhere: they are run and shown, but only counted with --bugs.
set -uo pipefail
kiln=$(realpath "$1") src=$(realpath "$2") bugs=${3:-}
cases=$src/tests/robustness/cases
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
limit_kb=$((1024 * 1024))
if [ -n "${KILN_NO_ULIMIT:-}" ] || grep -q __asan_init "$kiln" 2>/dev/null; then
  limit_kb=unlimited # ASan reserves terabytes of shadow memory up front
fi

# Big files, sparse: kiln must refuse them by their size, before reading.
mkdir -p "$tmp/big"
truncate -s 2200M "$tmp/big/model.onnx"
truncate -s 2200M "$tmp/big/input.pb"
# 4 MiB of empty initializers: 2 bytes each in the file, a 216-byte struct
# each once unpacked — refused before unpacking
printf '\x3a\x80\x80\x80\x02' > "$tmp/big/unpack_bomb.onnx" # ModelProto.graph, 2^22 bytes
printf '\x2a\x00%.0s' $(seq 32768) > "$tmp/chunk"             # 64 KiB of GraphProto.initializer {}
for i in $(seq 64); do cat "$tmp/chunk"; done >> "$tmp/big/unpack_bomb.onnx"

pass=0 fails=0 known=0 fixed=0
check() { # check BUG "ARGS" "WANT"
  local bug=$1 args=$2 want=$3 out=$tmp/out
  rm -rf "$out"
  args=${args//OUT/$out}
  args=${args//BIG/$tmp/big}
  want=${want//BIG/$tmp/big}
  local rc got stdout
  (cd "$cases" && ulimit -v $limit_kb && exec timeout 60 "$kiln" $args) \
    >"$tmp/stdout" 2>"$tmp/stderr"
  rc=$?
  got=$(cat "$tmp/stderr")
  stdout=$(cat "$tmp/stdout")
  local ok=1 why=""
  if [ "$want" = "(ok)" ]; then
    [ $rc -eq 0 ] || { ok=0; why="expected success"; }
  elif [[ $args == verify* ]]; then # verify reports a rejected case on stdout
    got=$(head -1 "$tmp/stdout")
    [ $rc -eq 1 ] && [ "$got" = "$want" ] || ok=0
  else
    [ $rc -eq 1 ] && [ "$got" = "$want" ] && [ -z "$stdout" ] || ok=0
    [ -e "$out" ] && { ok=0; why="the output folder was created"; }
  fi
  [ $rc -eq 124 ] && why="timed out after 60 s"
  [ $rc -gt 128 ] && why="killed by signal $((rc - 128))"
  if [ $ok -eq 1 ] && [ -z "$bug" ]; then
    pass=$((pass + 1))
    echo "ok: kiln $args"
  elif [ $ok -eq 1 ]; then
    fixed=$((fixed + 1))
    echo "FIXED: kiln $args (known bug fixed: remove its '!' line from expected.txt)"
  else
    [ -n "$bug" ] && known=$((known + 1)) || fails=$((fails + 1))
    echo "${bug:+KNOWN BUG }FAIL: kiln $args${why:+ ($why)}"
    [ -n "$bug" ] && echo "  bug:  $bug"
    echo "  want (exit 1): $want"
    echo "  got  (exit $rc): $(head -c 600 <<<"${got:-$stdout}")"
  fi
}

# expected.txt: "kiln ARGS" then "= MESSAGE" (or "= (ok)"), optionally "! why".
args="" want="" bug=""
flush() {
  [ -n "$args" ] && check "$bug" "$args" "$want"
  args="" want="" bug=""
}
while IFS= read -r line || [ -n "$line" ]; do
  case $line in
    "kiln "*) flush; args=${line#kiln } ;;
    "= "*) want=${line#= } ;;
    "! "*) bug=${line#! } ;;
  esac
done < "$src/tests/robustness/expected.txt"
flush

[ "$bugs" = --bugs ] && fails=$((fails + known))
echo "known bugs still failing: $known, fixed: $fixed"
echo "$pass passed, $fails failed"
[ $fails -eq 0 ]
