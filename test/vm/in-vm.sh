#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs inside the VM (scripts/vm-stage.sh): the end-to-end tests with each
# attach method forced, the installed release's tools, and on 6.1 the
# differential test against bcc.
set -u
export CI=true
# Emulated CPUs are slow: lets timing-sensitive assertions allow for it.
export TCPCONNECT_TEST_SLOW=1
vitest() { node node_modules/vitest/vitest.mjs run "$@"; }
if [ ! -e /sys/bus/event_source/devices/kprobe ]; then
	echo "in-vm: this kernel ($(uname -r)) has no kprobes" >&2
	exit 1
fi
failed=
for method in kprobe tracepoint; do
	echo "== $(uname -r): end-to-end tests with --attach $method"
	TCPCONNECT_TEST_ATTACH=$method vitest test/e2e || failed="$failed e2e-$method"
done
# The release as installed by scripts/install-test.sh (.ci/run runs it first).
installed=$PWD/.output/installed
if [ -x "$installed/bin/tcpconnect" ]; then
	echo "== $(uname -r): the installed release's tools, end to end"
	TCPCONNECT_TEST_INSTALLED=$installed vitest test/e2e/tcpconnect.test.ts test/e2e/tcpaccept.test.ts test/e2e/release.test.ts ||
		failed="$failed installed-release"
elif [ "${CI:-}" = true ]; then
	echo "in-vm: no installed release at $installed (scripts/install-test.sh)" >&2
	failed="$failed installed-release"
fi
if [ "$1" = 6.1 ]; then
	echo "== $(uname -r): side by side with bcc's tcpconnect"
	vitest --config test/vm/vitest.config.ts || failed="$failed bcc-differential"
fi
[ -z "$failed" ] || { echo "in-vm: $(uname -r): failed:$failed"; exit 1; }
