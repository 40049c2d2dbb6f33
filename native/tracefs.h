// SPDX-License-Identifier: Apache-2.0
//
// Classic tracepoints (SEC("tracepoint/CATEGORY/NAME")) are attached by
// their id, which only tracefs tells. Where tracefs is not mounted (a
// minimal system, a container), the id is read from a tracefs mounted in a
// private mount namespace of a short-lived child, so the host's mounts are
// never touched, and the program is attached to a perf event for that id.
#pragma once

#include <bpf/libbpf.h>

// True when libbpf can find tracepoint ids itself (tracefs is mounted).
bool TracefsMounted();

// Attaches a tracepoint program without a mounted tracefs. Returns NULL and
// sets errno on failure, as libbpf does.
bpf_link* AttachTracepointByPrivateTracefs(bpf_program* prog);
