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

# CI keeps only the tail of a run, and 6.12's output comes after 6.1's: what
# failed in either kernel is repeated at the very end.
logs=$(mktemp -d /tmp/vm-stage.XXXXXX)
trap 'rm -rf "$logs"' EXIT
failed=()
for kernel in 6.1 6.12; do
	start=$(date +%s)
	scripts/vm-test.sh --kernel "$kernel" --timeout 3000 -- bash test/vm/in-vm.sh "$kernel" 2>&1 | tee "$logs/$kernel" ||
		failed+=("$kernel")
	echo "vm-stage: kernel $kernel took $(($(date +%s) - start)) s" >&2
done
for kernel in "${failed[@]}"; do
	echo "vm-stage: FAILED on kernel $kernel; its failures again:"
	# Each failure's block (FAIL … message and diff … source line), the
	# failed tests' names, and the harness's own lines.
	sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\r$//' "$logs/$kernel" |
		awk '/^ *FAIL /{block=1} block||/^ *×|^in-vm:|^vm-test:|^== /{print} /^ *❯ .*:[0-9]+:[0-9]+/{block=0}' |
		head -n 80 || true
done
[ ${#failed[@]} -eq 0 ]
