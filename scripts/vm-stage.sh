#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The kprobe stage (run by .ci/run): the machines this project is built on
# cannot attach kprobes, so the default path on most users' kernels is
# tested here, inside Debian 12's stock kernels under QEMU
# (scripts/vm-test.sh):
#   6.1  (linux-image-amd64, the one bcc's packaged tools run on) and
#   6.12 (linux-image-6.12.*+deb12-amd64).
# In each: the end-to-end tests with --attach kprobe, then with --attach
# tracepoint (both must give the same rows on that kernel); on 6.1 also the
# differential test against bcc's own tcpconnect (test/vm/). Takes about
# 25 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "vm-stage: run as root" >&2; exit 1; }

# bcc's tools and the headers of the 6.1 kernel they compile against.
headers=$(scripts/vm-test.sh --kernel 6.1 --package | sed 's/^linux-image-/linux-headers-/')
scripts/ensure-packages.sh vm-stage bpfcc-tools "$headers"

status=0
for kernel in 6.1 6.12; do
	start=$(date +%s)
	scripts/vm-test.sh --kernel "$kernel" -- bash test/vm/in-vm.sh "$kernel" || status=1
	echo "vm-stage: kernel $kernel took $(($(date +%s) - start)) s" >&2
done
exit $status
