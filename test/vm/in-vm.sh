#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs inside the VM (scripts/vm-stage.sh): the end-to-end tests with each
# attach method forced, and on 6.1 the differential test against bcc.
set -u
export CI=true
# Emulated CPUs are slow: lets timing-sensitive assertions allow for it.
export TCPCONNECT_TEST_SLOW=1
vitest() { node node_modules/vitest/vitest.mjs run "$@"; }
if [ ! -e /sys/bus/event_source/devices/kprobe ]; then
	echo "in-vm: this kernel ($(uname -r)) has no kprobes" >&2
	exit 1
fi
status=0
for method in kprobe tracepoint; do
	echo "== $(uname -r): end-to-end tests with --attach $method"
	TCPCONNECT_TEST_ATTACH=$method vitest test/e2e || status=1
done
if [ "$1" = 6.1 ]; then
	echo "== $(uname -r): side by side with bcc's tcpconnect"
	vitest --config test/vm/vitest.config.ts || status=1
fi
exit $status
