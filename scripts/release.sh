#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# npm run release: the tarball that installs on a host with no compiler.
#   .output/release/tcpconnect-VERSION.tgz, holding dist/bin (the bundled
#   JS), prebuilds/linux-x64/ (the addon, built here by prebuildify, with
#   the CO-RE objects beside it: they are also inside the addon, which is
#   what loads them; these are for bpftool and for audit), the man pages,
#   and the sources node-gyp-build needs to build where no prebuild fits.
#   Its two dependencies are bundled: it installs without a registry.
# From what is committed, every time the same way: run it after
# scripts/setup.sh, on a tree without uncommitted changes.
set -eu
cd "$(dirname "$0")/.."

# (npm install may rewrite package-lock.json's formatting: not a change.)
if [ -n "$(git status --porcelain --untracked-files=no -- . ':!package-lock.json' 2>/dev/null)" ]; then
	echo "release: the tree has uncommitted changes; commit or stash them first" >&2
	exit 1
fi
platform=$(node -p 'process.platform + "-" + process.arch')
rm -rf prebuilds dist .output/release
npm run build:ts
# prebuildify runs node-gyp (which builds bpf/ too) and moves the addon
# out of build/ into prebuilds/; N-API, so one build serves every Node >= 20.
npx prebuildify --napi --strip
cp .output/tcpconnect.bpf.o .output/tcpaccept.bpf.o "prebuilds/$platform/"
mkdir -p .output/release
npm pack --pack-destination .output/release >/dev/null
ls .output/release/tcpconnect-*.tgz
