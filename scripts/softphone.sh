#!/usr/bin/env bash
# softphone.sh — rebuild the softphone page's JsSIP bundle.
#
#   scripts/softphone.sh          # npm ci + build
#   scripts/softphone.sh --check  # the same, then fail if the committed
#                                 # bundle differs from the rebuilt one
#
# JsSIP (npm) ships no browser bundle; esbuild bundles it into
# console/softphone/assets/jssip.js, an ES module the page imports, and
# writes the licences of everything bundled into
# console/softphone/assets/THIRD-PARTY-LICENSES.txt. Both are committed and
# embedded into the sentral binary, so `go build` needs no npm. Versions are
# pinned exactly in console/softphone/web/package.json and its lockfile, and
# `npm ci` installs exactly those: the output is byte-for-byte the same on
# every run. Run this after changing either file. Needs node (>= 18) and npm;
# the only network access is the npm registry, by `npm ci`, which runs no
# install scripts (esbuild's binary comes in its platform package).
# --check compares with what git has committed (new files count as new).
set -euo pipefail

cd "$(dirname "$0")/.."
WEB=console/softphone/web
ASSETS=console/softphone/assets

die() { echo "softphone: $*" >&2; exit 1; }

command -v node >/dev/null || die "node not found (Debian: apt-get install nodejs npm)"
command -v npm >/dev/null || die "npm not found (Debian: apt-get install npm)"

check=false
case ${1:-} in
	--check) check=true ;;
	"") ;;
	*) die "usage: scripts/softphone.sh [--check]" ;;
esac

(cd "$WEB" && npm ci --ignore-scripts --no-audit --no-fund && npm run --silent build)
echo "softphone: built $ASSETS/jssip.js ($(wc -c <"$ASSETS/jssip.js") bytes)"

if $check; then
	if ! git diff --quiet -- "$ASSETS"; then
		git --no-pager diff --stat -- "$ASSETS"
		die "the committed bundle is not what the pinned versions build: commit $ASSETS"
	fi
	echo "softphone: the committed bundle is up to date"
fi
