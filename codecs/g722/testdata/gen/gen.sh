#!/bin/sh
# Regenerates the G.722 golden files in ../ with spandsp (see README.md).
# Needs: cc, libspandsp-dev, sox, espeak-ng.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=$here/..
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

raw="-r 16000 -b 16 -c 1 -e signed-integer -t raw"
sox -n $raw "$tmp/1.raw" synth 0.75 sine 50-7900 vol 0.7
sox -n $raw "$tmp/2.raw" synth 0.5 whitenoise vol 0.5
sox -n $raw "$tmp/3.raw" trim 0 0.25
espeak-ng -w "$tmp/speech.wav" "Open border carries calls across networks. Seven, eight, nine."
sox "$tmp/speech.wav" $raw "$tmp/4.raw" trim 0 1.5 norm -1
sox -n $raw "$tmp/5.raw" synth 0.25 square 440 vol 1.0
cat "$tmp/1.raw" "$tmp/2.raw" "$tmp/3.raw" "$tmp/4.raw" "$tmp/5.raw" > "$out/input.raw"

# 0.5 s of arbitrary codewords exercise every decoder path.
head -c 8000 /dev/urandom > "$out/random.g722"

cc -O2 -o "$tmp/gen" "$here/gen.c" -lspandsp
"$tmp/gen" encode "$out/input.raw" "$out/input.g722"
"$tmp/gen" decode "$out/input.g722" "$out/input.dec.raw"
"$tmp/gen" decode "$out/random.g722" "$out/random.dec.raw"
