// SPDX-License-Identifier: Apache-2.0
#include "errors.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace {

// libbpf calls the print callback on the thread that calls libbpf, which is
// always the JS thread here; no lock needed.
constexpr size_t kLogLimit = 8192;
std::string g_log;

int PrintToBuffer(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char line[1024];
  int n = vsnprintf(line, sizeof(line), fmt, args);
  if (n <= 0) return n;
  g_log.append(line, std::min(static_cast<size_t>(n), sizeof(line) - 1));
  if (g_log.size() > kLogLimit) g_log.erase(0, g_log.size() - kLogLimit);
  return n;
}

}  // namespace

void CaptureLibbpfLog() { libbpf_set_print(PrintToBuffer); }

void ClearLibbpfLog() { g_log.clear(); }

void ThrowBpfError(Napi::Env env, int err, const std::string& what) {
  if (err < 0) err = -err;
  std::string message = "failed to " + what + ": " + strerror(err);
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("log", Napi::String::New(env, g_log));
  throw error;
}
