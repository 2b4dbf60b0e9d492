#!/usr/bin/env bash
# Fuzzes the decoders of peer and file bytes with afl++ through SharpFuzz (docs/fuzzing.md).
#
#   ./fuzz.sh --time 60 [TARGET...]   each target (or those named) for 60 s, one after another
#   ./fuzz.sh --smoke                 replays corpus/ through every target without afl (fast)
#   ./fuzz.sh --list                  the target names
#
# Findings land in findings/<target>/default/{crashes,hangs}; reproduce one with
#   dotnet out/bin/TendermintActors.Fuzz.dll --replay TARGET FILE
# Installs what it needs when missing: afl++ (apt-get; needs root) and the SharpFuzz.CommandLine tool (.tools/).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
project="$here/TendermintActors.Fuzz.csproj"
sharpfuzz_version=2.3.0
time=60
timeout_ms=5000
mode=fuzz
targets=()

while [[ $# -gt 0 ]]; do
  case "$1" in
    --time) time="$2"; shift 2 ;;
    --timeout-ms) timeout_ms="$2"; shift 2 ;;
    --smoke) mode=smoke; shift ;;
    --list) mode=list; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done

if [[ $mode == smoke || $mode == list ]]; then
  dotnet build -m:1 -c Release -v quiet -nologo "$project" -o "$here/out/smoke" >/dev/null
  if [[ $mode == list ]]; then exec dotnet "$here/out/smoke/TendermintActors.Fuzz.dll" --list; fi
  exec dotnet "$here/out/smoke/TendermintActors.Fuzz.dll" --smoke "$here/corpus"
fi

if ! command -v afl-fuzz >/dev/null; then
  echo "afl-fuzz not found: installing afl++" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++ >/dev/null
fi
if [[ ! -x "$here/.tools/sharpfuzz" ]]; then
  dotnet tool install SharpFuzz.CommandLine --version "$sharpfuzz_version" --tool-path "$here/.tools" >/dev/null
fi

# A separate published copy whose assemblies are instrumented in place (the test build stays as it is).
rm -rf "$here/out/bin"
dotnet publish -m:1 -c Release -v quiet -nologo "$project" -o "$here/out/bin" >/dev/null
for dll in TendermintActors.Protocol.dll TendermintActors.dll tmactors.dll Akka.dll; do
  DOTNET_ROLL_FORWARD=Major "$here/.tools/sharpfuzz" "$here/out/bin/$dll" >/dev/null
done

if [[ ${#targets[@]} -eq 0 ]]; then
  mapfile -t targets < <(dotnet "$here/out/bin/TendermintActors.Fuzz.dll" --list)
fi

stat() { awk -F' *: *' -v k="$2" '$1 == k { print $2 }' "$1"; }

export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
printf '%-18s %10s %8s %8s %8s %6s\n' target execs exec/s crashes hangs paths
status=0
for t in "${targets[@]}"; do
  if [[ ! -d "$here/corpus/$t" ]]; then echo "no corpus for target '$t'" >&2; exit 2; fi
  out="$here/findings/$t"
  rm -rf "$out"
  mkdir -p "$here/findings"
  dict=()
  if [[ -f "$here/dict/$t.dict" ]]; then dict=(-x "$here/dict/$t.dict"); fi
  afl-fuzz -i "$here/corpus/$t" -o "$out" -t "$timeout_ms" -m none -V "$time" "${dict[@]}" \
    -- dotnet "$here/out/bin/TendermintActors.Fuzz.dll" "$t" >"$here/findings/$t.log" 2>&1 || true
  stats="$out/default/fuzzer_stats"
  if [[ ! -f $stats ]]; then
    echo "$t: afl-fuzz did not start; see findings/$t.log" >&2
    tail -n 20 "$here/findings/$t.log" >&2
    status=1
    continue
  fi
  crashes=$(stat "$stats" saved_crashes)
  hangs=$(stat "$stats" saved_hangs)
  printf '%-18s %10s %8s %8s %8s %6s\n' "$t" "$(stat "$stats" execs_done)" "$(stat "$stats" execs_per_sec)" \
    "$crashes" "$hangs" "$(stat "$stats" corpus_count)"
  if [[ ${crashes:-0} != 0 || ${hangs:-0} != 0 ]]; then status=1; fi
done
exit $status
