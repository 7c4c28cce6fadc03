#!/usr/bin/env bash
# prompts.sh — regenerate the voice prompts in media/prompts/{nb,en}/*.wav.
#
#   scripts/prompts.sh            # all languages
#   scripts/prompts.sh nb         # one language
#
# Texts live in media/prompts/texts/LANG.tsv (name<TAB>text). espeak-ng speaks
# each at 22050 Hz; media/prompts/internal/gen resamples to 8 kHz, trims,
# levels and stores G.711 µ-law. The output is committed: nothing runs this at
# build, test or run time. Needs espeak-ng (Debian: apt-get install espeak-ng)
# and the Go toolchain.
#
# A language's old WAV files are deleted first, so a prompt dropped from the
# text list does not linger in the binary.
set -euo pipefail

cd "$(dirname "$0")/.."
DIR=media/prompts
# Words a minute. espeak-ng's own default: slower rates read more calmly but
# the prompts are one byte a sample, and 150 puts the two languages at 1.8 MB
# where 175 keeps them under 1.5 MB.
SPEED=${SPEED:-175}

die() { echo "prompts: $*" >&2; exit 1; }

command -v espeak-ng >/dev/null || die "espeak-ng not found (apt-get install espeak-ng)"

# espeak-ng voice for each prompt language; "en" is British English.
voice() {
	case $1 in
	nb) echo nb ;;
	en) echo en-gb ;;
	*) die "no voice for language $1" ;;
	esac
}

langs=("$@")
[ ${#langs[@]} -gt 0 ] || langs=(nb en)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for lang in "${langs[@]}"; do
	v=$(voice "$lang")
	texts=$DIR/texts/$lang.tsv
	[ -f "$texts" ] || die "missing $texts"
	mkdir -p "$tmp/$lang"
	n=0
	while IFS=$'\t' read -r name text || [ -n "$name" ]; do
		case $name in '' | '#'*) continue ;; esac
		[[ $name =~ ^[a-z0-9-]+$ ]] || die "$texts: bad prompt name '$name'"
		[ -n "$text" ] || die "$texts: no text for $name"
		[ ! -e "$tmp/$lang/$name.wav" ] || die "$texts: $name listed twice"
		espeak-ng -v "$v" -s "$SPEED" -w "$tmp/$lang/$name.wav" -- "$text"
		n=$((n + 1))
	done <"$texts"
	rm -f "$DIR/$lang"/*.wav
	go run ./$DIR/internal/gen -in "$tmp/$lang" -out "$DIR/$lang"
	echo "prompts: $lang: $n prompts ($(du -ch "$DIR/$lang"/*.wav | tail -1 | cut -f1))"
done
