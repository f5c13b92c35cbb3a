#!/usr/bin/env bash
# update-assets.sh vendors the playground's browser code, GraphiQL and React,
# from the npm registry into assets/, and records what it took in
# assets/VERSIONS: each package's exact version and the registry's sha512
# integrity of its tarball (checked here before anything is extracted), and
# the sha256 of each file copied. The Go test TestAssetsMatchManifest checks
# the embedded files against VERSIONS; nothing is fetched at run time.
#
# Usage (needs node and npm, and the npm registry):
#
#   internal/playground/update-assets.sh          # write assets/ and assets/VERSIONS
#   internal/playground/update-assets.sh -check   # fetch again; fail unless assets/ is what it would write
#
# To move to other versions, change the pins below, run the script, and run
# the playground's browser test (go test -run Playground .).
#
# Why GraphiQL 3: it is the last line that ships a browser (UMD) build, usable
# without a bundler under a CSP with no inline script and no eval. GraphiQL 4
# and 5 are ES modules only (5 also runs Monaco in web workers), and React 19
# ships no UMD build, so React stays on 18.
set -euo pipefail
cd "$(dirname "$0")"

GRAPHIQL_VERSION=3.9.0
REACT_VERSION=18.3.1

# package version path-in-tarball asset-name
FILES=(
	"react $REACT_VERSION package/umd/react.production.min.js react.production.min.js"
	"react $REACT_VERSION package/LICENSE react.LICENSE"
	"react-dom $REACT_VERSION package/umd/react-dom.production.min.js react-dom.production.min.js"
	"react-dom $REACT_VERSION package/LICENSE react-dom.LICENSE"
	"graphiql $GRAPHIQL_VERSION package/graphiql.min.js graphiql.min.js"
	"graphiql $GRAPHIQL_VERSION package/graphiql.min.css graphiql.min.css"
	"graphiql $GRAPHIQL_VERSION package/LICENSE graphiql.LICENSE"
)

check=false
case "${1:-}" in
"") ;;
-check) check=true ;;
*)
	echo "usage: $0 [-check]" >&2
	exit 2
	;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out="$tmp/assets"
mkdir -p "$out" "$tmp/pack"

sha512_b64() { node -e 'process.stdout.write(require("crypto").createHash("sha512").update(require("fs").readFileSync(process.argv[1])).digest("base64"))' "$1"; }

declare -A fetched
packages=""
for entry in "${FILES[@]}"; do
	read -r pkg ver _ _ <<<"$entry"
	[ -n "${fetched[$pkg@$ver]:-}" ] && continue
	want=$(npm view --silent "$pkg@$ver" dist.integrity)
	case "$want" in
	sha512-*) ;;
	*)
		echo "$pkg@$ver: the registry gives no sha512 integrity (got '$want')" >&2
		exit 1
		;;
	esac
	tgz=$(cd "$tmp/pack" && npm pack --silent "$pkg@$ver" | tail -n 1)
	got="sha512-$(sha512_b64 "$tmp/pack/$tgz")"
	if [ "$got" != "$want" ]; then
		echo "$pkg@$ver: tarball integrity $got, the registry says $want" >&2
		exit 1
	fi
	mkdir -p "$tmp/x/$pkg@$ver"
	tar -xzf "$tmp/pack/$tgz" -C "$tmp/x/$pkg@$ver"
	fetched[$pkg@$ver]=1
	packages+="package $pkg@$ver $want"$'\n'
done

files=""
for entry in "${FILES[@]}"; do
	read -r pkg ver path name <<<"$entry"
	cp "$tmp/x/$pkg@$ver/$path" "$out/$name"
	sum=$(sha256sum "$out/$name" | cut -d' ' -f1)
	files+="file $name $sum $pkg@$ver:$path"$'\n'
done

{
	echo "# The playground's vendored browser code, written by update-assets.sh from"
	echo "# the npm registry. Do not edit: change the pins in the script and run it."
	echo "# TestAssetsMatchManifest checks the embedded files against this list."
	echo "#"
	echo "# package <name>@<version> <tarball integrity, as the registry publishes it>"
	printf '%s' "$packages"
	echo "#"
	echo "# file <asset> <sha256> <name>@<version>:<path in the tarball>"
	printf '%s' "$files"
} >"$out/VERSIONS"

if $check; then
	if ! diff -r "$out" assets; then
		echo "assets/ differs from what update-assets.sh would write" >&2
		exit 1
	fi
	echo "assets/ matches the registry's packages"
	exit 0
fi
rm -rf assets
cp -r "$out" assets
cat assets/VERSIONS
