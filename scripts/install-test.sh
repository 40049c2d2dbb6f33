#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# The release as a production host gets it (.ci/run, after npm run
# release): installed from the tarball with npm install -g --offline into
# a fresh prefix, with a PATH that has node, npm and a shell, and in place
# of every compiler and build tool a trap that notes it was run. Then no
# trap may have run, the package may hold no build/, and the installed
# tcpconnect and tcpaccept must pass their end-to-end tests.
set -eu
cd "$(dirname "$0")/.."

tgz=$(ls .output/release/tcpconnect-*.tgz)
prefix=$PWD/.output/installed
rm -rf "$prefix"
sandbox=$(mktemp -d)
trap 'rm -rf "$sandbox"' EXIT
for tool in node npm sh env; do ln -s "$(command -v "$tool")" "$sandbox/$tool"; done
for tool in cc gcc g++ c++ clang clang++ make node-gyp python3 ld; do
	printf '#!/bin/sh\necho "%s $*" >> "%s/ran"\nexit 1\n' "$tool" "$sandbox" > "$sandbox/$tool"
	chmod +x "$sandbox/$tool"
done

echo "install-test: npm install -g --offline --prefix $prefix $tgz (no compiler on PATH)"
PATH=$sandbox npm install -g --offline --no-audit --no-fund --prefix "$prefix" "$tgz"
if [ -s "$sandbox/ran" ]; then
	echo "install-test: a build tool was run:" >&2
	cat "$sandbox/ran" >&2
	exit 1
fi
package=$prefix/lib/node_modules/tcpconnect
[ ! -e "$package/build" ] || { echo "install-test: $package/build exists: something was built" >&2; exit 1; }
for page in tcpconnect tcpaccept; do
	[ -e "$prefix/share/man/man8/$page.8" ] || { echo "install-test: no man page $page(8) under $prefix" >&2; exit 1; }
done
version=$(node -p 'require("./package.json").version')
[ "$("$prefix/bin/tcpconnect" --version)" = "tcpconnect $version" ] || { echo "install-test: tcpconnect --version" >&2; exit 1; }

echo "install-test: the installed tools, end to end"
TCPCONNECT_TEST_INSTALLED=$prefix node node_modules/vitest/vitest.mjs run test/e2e/tcpconnect.test.ts test/e2e/tcpaccept.test.ts test/e2e/release.test.ts
