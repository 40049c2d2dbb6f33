#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Installs what tcpconnect needs on Debian 12 / Ubuntu, as root, then builds
# it and puts `tcpconnect` on PATH (and its man page on MANPATH):
#   - Debian packages: clang and llvm (compile bpf/), clang-format (npm run
#     lint), libbpf-dev, libelf-dev
#     and zlib1g-dev (the addon links libbpf), pkg-config, make and g++
#     (node-gyp), bpftool and iproute2 (the tests), groff-base (man pages);
#   - the npm dependencies (npm install), then the build (npm run build: the
#     addon, the BPF objects inside it, and dist/bin);
#   - a global link to this checkout (npm install -g .).
# Safe to run again; it installs only what is missing.
set -eu
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
	echo "setup: run as root (sudo $0)" >&2
	exit 1
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "setup: Node.js 20 or later with npm is required" >&2
	exit 1
fi
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || {
	echo "setup: Node.js 20 or later is required (found $(node --version))" >&2
	exit 1
}

scripts/ensure-packages.sh setup clang clang-format llvm libbpf-dev libelf-dev zlib1g-dev pkg-config make g++ python3 bpftool iproute2 groff-base

# npm install, not npm ci: the registry reachable here lists only some of
# rollup's per-platform optional packages, and npm ci refuses a lock file
# without the others. With the lock file present, npm install follows it.
npm install --no-audit --no-fund
# The install step (node-gyp-build) builds the addon only when none is
# there; after a change to native/ or bpf/ that one would be stale.
npm run build
npm install -g --no-audit --no-fund . >/dev/null
echo "setup: done; run: tcpconnect or tcpaccept (and: man tcpconnect)"
