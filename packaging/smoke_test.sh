#!/usr/bin/env bash
# Smoke tests of a frozen SPADE Studio: needs no Python and no source tree.
#
#   packaging/smoke_test.sh [BIN_DIR]     BIN_DIR holds spade-studio and spade-studio-cli
#                                         (default: dist/spade-studio; "PATH" = the installed ones)
#   STARTS=5 packaging/smoke_test.sh      also times 5 GUI starts (window painted / first render)
#
# Runs: the GUI's --smoke-test (offscreen: bundled model, window painted, a stroke, a render),
# spade-studio-cli info / render (with and without --style) / make-landscapes / check-data /
# a 3-iteration train / export / render with the exported model, and the Train tab's child
# command (spade-studio --cli ...). Checks that nothing was written into the install folder.
set -euo pipefail

BIN="${1:-dist/spade-studio}"
if [ "$BIN" = PATH ]; then
    GUI=$(command -v spade-studio); CLI=$(command -v spade-studio-cli)
else
    GUI="$BIN/spade-studio"; CLI="$BIN/spade-studio-cli"
fi
APPDIR=$(dirname "$(readlink -f "$GUI")")
RES="$APPDIR/_internal/resources"
[ -d "$RES" ] || RES="$APPDIR/../Resources/resources"   # macOS .app layout
WORK=$(mktemp -d "${TMPDIR:-/tmp}/spade-smoke.XXXXXX")
export QT_QPA_PLATFORM=offscreen
export HOME="${SMOKE_HOME:-$WORK/home}"               # user folders under a fresh home
mkdir -p "$HOME"
unset XDG_CONFIG_HOME XDG_DATA_HOME XDG_CACHE_HOME
fails=0
marker="$WORK/.start"; touch "$marker"

step() {  # step NAME CMD...: run, time, report
    local name=$1; shift
    local t0 ms
    t0=${EPOCHREALTIME/./}                              # microseconds (bash 5; no bc needed)
    if "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"; then
        ms=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
        printf 'PASS %-22s %4d.%02d s  %s\n' "$name" $((ms / 1000)) $((ms % 1000 / 10)) \
            "$(tail -n 1 "$WORK/$name.out" | cut -c1-100)"
    else
        echo "FAIL $name (exit $?)"; tail -n 20 "$WORK/$name.err" | sed 's/^/    /'; fails=$((fails + 1))
    fi
}

echo "frozen app: $APPDIR"
step gui-smoke-test "$GUI" --smoke-test
grep -h "smoke test:" "$WORK/gui-smoke-test.out" || true
step cli-version "$CLI" --version
step cli-info "$CLI" info
step cli-render "$CLI" render "$RES/samples/landscape_01.png" -o "$WORK/r1.png"
step cli-render-style "$CLI" render "$RES/samples/landscape_02.png" --style "$RES/styles/day.jpg" -o "$WORK/r2.png"
step make-landscapes "$CLI" make-landscapes "$WORK/ds" --count 4 --size 64
step check-data "$CLI" check-data "$WORK/ds"
step train-3-iters "$CLI" train --data "$WORK/ds" --out "$WORK/run" --iters 3 --size 64 --batch 2 \
    --progress none --sample-every 0
step export "$CLI" export "$WORK/run" -o "$WORK/exported.safetensors"
step render-exported "$CLI" render "$RES/samples/landscape_03.png" --model "$WORK/exported.safetensors" \
    -o "$WORK/r3.png"
# the Train tab's fallback child command (the GUI executable with --cli) also trains
step gui-cli-train "$GUI" --cli train --data "$WORK/ds" --out "$WORK/run2" --iters 2 --size 64 --batch 2 \
    --progress jsonl --sample-every 0
for f in r1.png r2.png r3.png exported.safetensors run/model.safetensors; do
    [ -s "$WORK/$f" ] || { echo "FAIL missing output $f"; fails=$((fails + 1)); }
done
if grep -q '"event": *"done"' "$WORK/gui-cli-train.out"; then echo "PASS gui-cli-train emitted its done event"
else echo "FAIL gui-cli-train: no done event"; fails=$((fails + 1)); fi
written=$(find "$APPDIR" -newer "$marker" -type f 2>/dev/null | head -n 5)
if [ -n "$written" ]; then echo "FAIL files written into the install folder:"; echo "$written"; fails=$((fails + 1))
else echo "PASS nothing written into $APPDIR"; fi

if [ "${STARTS:-0}" -gt 0 ]; then
    echo "start-up, $STARTS runs of spade-studio --smoke-test (seconds since the process started):"
    for i in $(seq "$STARTS"); do
        sync; "$GUI" --smoke-test 2>/dev/null | grep "window painted" | sed "s/^/  run $i: /"
    done
fi

rm -rf "$WORK"
if [ "$fails" -gt 0 ]; then echo "frozen smoke tests: $fails failed"; exit 1; fi
echo "frozen smoke tests: all passed"
