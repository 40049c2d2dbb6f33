// SPDX-License-Identifier: Apache-2.0
//
// Errors cross into JS as data: a lower-case message, the errno, and the
// tail of what libbpf logged. TypeScript gives them meaning.
#pragma once

#include <napi.h>

#include <string>

// Route libbpf's log into a bounded buffer instead of stderr.
void CaptureLibbpfLog();
// Forget what libbpf logged so far (before an operation whose log we want).
void ClearLibbpfLog();

[[noreturn]] void ThrowBpfError(Napi::Env env, int err, const std::string& what);
