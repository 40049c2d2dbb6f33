// SPDX-License-Identifier: Apache-2.0
#include "rows.h"

#include <arpa/inet.h>
#include <linux/types.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <vector>

#include "batch.h"
#include "stamps.h"

namespace {

struct FieldName {
  const char* name;
  char conv;       // the one conversion that prints it
  size_t longest;  // its longest text, before padding (the suffix's is the caller's)
};

// In the order of RowWriter::Field, after kText.
constexpr FieldName kFields[] = {
    {"pid", 'd', 20},
    {"uid", 'd', 20},
    {"task", 's', 4 * TASK_COMM_LEN},
    {"ip", 'd', 20},
    {"saddr", 's', 46},
    {"daddr", 's', 46},
    {"lport", 'd', 20},
    {"dport", 'd', 20},
    {"seconds", 'f', 64},
    {"clock", 's', 15},
    {"suffix", 's', 0},
    // JSON: the thread, RFC 3339 UTC from the record's stamp, COMM as a JSON string.
    {"tid", 'd', 20},
    {"isotime", 's', 27},
    {"taskjson", 's', 6 * TASK_COMM_LEN + 2},
    // Who: the caller's text for the record's cgroup, and the namespaces' inodes.
    {"who", 's', 0},
    {"mntns", 'd', 20},
    {"netns", 'd', 20},
    // The outcome (-R, -x): milliseconds from the SYN, OK or the errno's name, the errno.
    {"latency", 'f', 16},
    {"result", 's', 32},
    {"errno", 'd', 20},
};

// Cgroups whose 'who' text is kept at once: a host has hundreds.
constexpr size_t kWhoKept = 65536;
const std::string kNoText;

// n bytes from s to at, returning at + n. A row is a dozen copies of 1 to
// 16 bytes: done here with a few fixed-size moves (two overlapping ones
// cover any length in a range), not a call into libc's memcpy for each.
inline char* Put(char* at, const char* s, size_t n) {
  if (n >= 16) return static_cast<char*>(memcpy(at, s, n)) + n;
  if (n >= 8) {
    uint64_t head, tail;
    memcpy(&head, s, 8);
    memcpy(&tail, s + n - 8, 8);
    memcpy(at, &head, 8);
    memcpy(at + n - 8, &tail, 8);
  } else if (n >= 4) {
    uint32_t head, tail;
    memcpy(&head, s, 4);
    memcpy(&tail, s + n - 4, 4);
    memcpy(at, &head, 4);
    memcpy(at + n - 4, &tail, 4);
  } else if (n > 0) {
    at[0] = s[0];
    at[n / 2] = s[n / 2];
    at[n - 1] = s[n - 1];
  }
  return at + n;
}

// The length of the valid UTF-8 character at s (n bytes left), or 0 if
// there is none there: a lone or cut sequence, an overlong form, a
// surrogate, or one of the C1 controls (U+0080-U+009F, which terminals
// act on as they do on ESC).
size_t Utf8Char(const uint8_t* s, size_t n) {
  uint8_t b = s[0];
  size_t len = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
  if (len == 0 || len > n) return 0;
  for (size_t i = 1; i < len; i++)
    if ((s[i] & 0xc0) != 0x80) return 0;
  if (b == 0xc2 && s[1] < 0xa0) return 0;  // C1 controls
  if ((b == 0xe0 && s[1] < 0xa0) || (b == 0xed && s[1] > 0x9f) || (b == 0xf0 && s[1] < 0x90) ||
      (b == 0xf4 && s[1] > 0x8f))
    return 0;
  return len;
}

// A task name as a row prints it: printable ASCII and valid UTF-8 as they
// are (so ordinary names are bcc's bytes), any other byte as \xNN, so that
// no name can move the cursor, colour the terminal or start a line of its
// own. out holds 4 bytes per byte of s. Returns the length.
size_t EscapeText(const char* text, size_t n, char* out) {
  auto* s = reinterpret_cast<const uint8_t*>(text);
  char* q = out;
  for (size_t i = 0; i < n;) {
    if (s[i] >= 0x20 && s[i] < 0x7f) {
      *q++ = static_cast<char>(s[i++]);
      continue;
    }
    size_t len = s[i] >= 0x80 ? Utf8Char(s + i, n - i) : 0;
    if (len) {
      memcpy(q, s + i, len);
      q += len;
      i += len;
      continue;
    }
    static const char kHex[] = "0123456789abcdef";
    *q++ = '\\';
    *q++ = 'x';
    *q++ = kHex[s[i] >> 4];
    *q++ = kHex[s[i] & 15];
    i++;
  }
  return q - out;
}

// A task name as a JSON string, quotes included: valid JSON whatever its
// bytes. Quote and backslash escaped, control characters (C0, DEL, C1) as
// \u00XX, valid UTF-8 as it is, any other byte as U+FFFD. out holds 6
// bytes per byte of s, and 2. Returns the length.
size_t JsonString(const char* text, size_t n, char* out) {
  auto* s = reinterpret_cast<const uint8_t*>(text);
  static const char kHex[] = "0123456789abcdef";
  char* q = out;
  *q++ = '"';
  for (size_t i = 0; i < n;) {
    uint8_t b = s[i];
    if (b >= 0x20 && b < 0x7f) {
      if (b == '"' || b == '\\') *q++ = '\\';
      *q++ = static_cast<char>(b);
      i++;
      continue;
    }
    size_t len = b >= 0x80 ? Utf8Char(s + i, n - i) : 0;
    if (len) {
      memcpy(q, s + i, len);
      q += len;
      i += len;
      continue;
    }
    bool c1 = b == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] < 0xa0;
    if (b < 0x80 || c1) {
      uint8_t c = c1 ? s[i + 1] : b;
      memcpy(q, "\\u00", 4);
      q[4] = kHex[c >> 4];
      q[5] = kHex[c & 15];
      q += 6;
      i += c1 ? 2 : 1;
      continue;
    }
    memcpy(q, "\xef\xbf\xbd", 3);  // U+FFFD
    q += 3;
    i++;
  }
  *q++ = '"';
  return q - out;
}

// A connect's outcome as RESULT prints it: OK, PENDING, or the errno's
// name (ECONNREFUSED), as connect(2) names it; a number if glibc has none.
size_t ResultText(int32_t err, char (&out)[32]) {
  const char* name = err == 0 ? "OK" : err == RESULT_PENDING ? "PENDING" : err > 0 ? strerrorname_np(err) : nullptr;
  if (!name) return std::min<size_t>(snprintf(out, sizeof out, "%d", err), sizeof out - 1);
  size_t n = strnlen(name, sizeof out - 1);
  memcpy(out, name, n);
  return n;
}

// thousandths / 1000 with three decimals: "%llu.%03llu", without printf.
// out holds 24 bytes. Returns the length.
size_t Thousandths(uint64_t thousandths, char* out) {
  char digits[24];
  char* end = digits + sizeof digits;
  char* q = end;
  for (int i = 0; i < 3; i++, thousandths /= 10) *--q = static_cast<char>('0' + thousandths % 10);
  *--q = '.';
  do {
    *--q = static_cast<char>('0' + thousandths % 10);
    thousandths /= 10;
  } while (thousandths);
  memcpy(out, q, end - q);
  return end - q;
}

// Whole microseconds as milliseconds with `precision` decimals (3: exact),
// as %.3f would print them.
size_t Millis(uint32_t us, int precision, char (&out)[24]) {
  if (precision != 3) return snprintf(out, sizeof out, "%.*f", precision < 0 ? 6 : precision, us / 1000.0);
  return Thousandths(us, out);
}

// Microseconds as seconds, as "%.*f" prints the double us / 1e6 (bcc's -t).
// With three decimals that is us rounded to the nearest thousand, done in
// integers: the double is within far less than a microsecond of us / 1e6,
// so only an exact tie (a remainder of 500) depends on its binary digits,
// and goes to printf.
size_t Seconds(int64_t us, int precision, char (&out)[64]) {
  if (precision == 3 && us >= 0 && us % 1000 != 500) return Thousandths(us / 1000 + (us % 1000 > 500), out);
  return snprintf(out, sizeof out, "%.*f", precision < 0 ? 6 : precision, static_cast<double>(us) / 1e6);
}

// bcc's ts_us: whole microseconds of bpf_ktime_get_ns().
uint64_t Micros(const event& e) { return e.ts_ns / 1000; }

// Dotted decimal, as inet_ntop(AF_INET) writes it (which goes through
// sprintf: most of a row's cost). Returns the length.
size_t FormatIPv4(const uint8_t* a, char* out) {
  char* q = out;
  for (int i = 0; i < 4; i++) {
    unsigned v = a[i];
    if (v >= 100) *q++ = static_cast<char>('0' + v / 100);
    if (v >= 10) *q++ = static_cast<char>('0' + v / 10 % 10);
    *q++ = static_cast<char>('0' + v % 10);
    if (i < 3) *q++ = '.';
  }
  return q - out;
}

// An address as the rows print it: IPv4 dotted, IPv6 as glibc's inet_ntop
// (RFC 5952). Returns the length.
size_t FormatAddress(uint8_t ip, const uint8_t* a, char (&out)[INET6_ADDRSTRLEN]) {
  if (ip == 4) return FormatIPv4(a, out);
  inet_ntop(AF_INET6, a, out, sizeof out);
  return strlen(out);
}

// HH:MM:SS of the local wall clock at nowMs, as Python's strftime("%H:%M:%S").
void WallClock(double now_ms, char (&out)[16]) {
  time_t t = static_cast<time_t>(now_ms / 1000);
  struct tm tm;
  localtime_r(&t, &tm);
  snprintf(out, sizeof out, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

}  // namespace

Napi::Function RowWriter::Define(Napi::Env env) {
  return DefineClass(env, "RowWriter",
                     {
                         InstanceMethod("format", &RowWriter::Format),
                     });
}

RowWriter::RowWriter(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RowWriter>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "expected (pieces)");
  Napi::Array pieces = info[0].As<Napi::Array>();
  for (uint32_t i = 0; i < pieces.Length(); i++) {
    Napi::Object p = pieces.Get(i).As<Napi::Object>();
    if (p.Has("text")) {
      pieces_.push_back({Field::kText, 0, 0, -1, false, p.Get("text").As<Napi::String>().Utf8Value()});
      longest_ += pieces_.back().text.size();
      continue;
    }
    std::string name = p.Get("field").As<Napi::String>();
    std::string conv = p.Get("conv").As<Napi::String>();
    size_t f = 0;
    while (f < std::size(kFields) && name != kFields[f].name) f++;
    if (f == std::size(kFields)) throw Napi::TypeError::New(env, "no row field named " + name);
    if (conv.size() != 1 || conv[0] != kFields[f].conv)
      throw Napi::TypeError::New(
          env, "row field " + name + " prints with %" + std::string(1, kFields[f].conv) + ", not %" + conv);
    pieces_.push_back({static_cast<Field>(f + 1), conv[0], p.Get("width").As<Napi::Number>().Int32Value(),
                       p.Get("precision").As<Napi::Number>().Int32Value(), p.Get("left").ToBoolean().Value(),
                       std::string()});
    longest_ += std::max<size_t>(kFields[f].longest, std::max(0, pieces_.back().width));
  }
  has_who_ = std::any_of(pieces_.begin(), pieces_.end(), [](const Piece& p) { return p.field == Field::kWho; });
  if (has_who_) {
    if (info.Length() < 2 || !info[1].IsFunction())
      throw Napi::TypeError::New(env, "a row with the 'who' field needs who(cgroupId)");
    who_ = Napi::Persistent(info[1].As<Napi::Function>());
  }
  padded_ = std::any_of(pieces_.begin(), pieces_.end(), [](const Piece& p) { return p.width > 0; });
  wall_offset_ns_ = WallOffsetNs();
}

// Whether a piece's text changes from row to row of one process's connects
// to one address: a time, the local port, the latency. A kept row has a
// hole for each, and is found by a key that leaves their bytes out.
bool RowWriter::Changing(Field f) {
  return f == Field::kSeconds || f == Field::kClock || f == Field::kIsoTime || f == Field::kLport ||
         f == Field::kLatency;
}

// What a kept row is found by: the record after its timestamp, but for the
// other fields Changing's pieces print, the local port and the latency
// (last, so left out). Compared where it lies, without a copy per row.
static_assert(offsetof(event, lat_us) + sizeof(event::lat_us) == sizeof(event), "the latency must be last");
constexpr size_t kLportAt = offsetof(event, lport) - offsetof(event, kind);
constexpr size_t kAfterLport = kLportAt + sizeof(event::lport);

void RowWriter::KeyOf(const event& e, RowKey& key) {
  memcpy(key.data(), reinterpret_cast<const char*>(&e) + offsetof(event, kind), key.size());
}

bool RowWriter::Matches(const RowKey& key, const event& e) {
  const char* record = reinterpret_cast<const char*>(&e) + offsetof(event, kind);
  return memcmp(key.data(), record, kLportAt) == 0 &&
         memcmp(key.data() + kAfterLport, record + kAfterLport, key.size() - kAfterLport) == 0;
}

// %s: the first `precision` bytes of s, padded to width.
void RowWriter::Str(const Piece& p, const char* s, size_t n) {
  if (p.precision >= 0 && n > static_cast<size_t>(p.precision)) n = p.precision;
  Pad(p, s, n);
}

// s, padded to the piece's width (the row's room is spaces already).
void RowWriter::Pad(const Piece& p, const char* s, size_t n) {
  size_t pad = p.width > 0 && n < static_cast<size_t>(p.width) ? p.width - n : 0;
  if (!p.left) at_ += pad;
  at_ = Put(at_, s, n);
  if (p.left) at_ += pad;
}

// %d of an unsigned field.
void RowWriter::Int(const Piece& p, uint64_t v) {
  char digits[20];
  char* end = digits + sizeof digits;
  char* q = end;
  do {
    *--q = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  Pad(p, q, end - q);
}

// The 'who' text of a cgroup: kept from an earlier row, or asked of JS
// (once per cgroup, unless its answer is not to be kept).
const std::string& RowWriter::Who(Napi::Env env, uint64_t cgroup_id) {
  auto kept = who_kept_.find(cgroup_id);
  if (kept != who_kept_.end()) return kept->second;
  Napi::Value answer = who_.Call({Napi::BigInt::New(env, cgroup_id)});
  if (!answer.IsArray()) throw Napi::TypeError::New(env, "who() must return [text, keep]");
  Napi::Array pair = answer.As<Napi::Array>();
  std::string text;
  Latin1(pair.Get(uint32_t{0}), text);
  if (!pair.Get(uint32_t{1}).ToBoolean().Value()) {
    // Not kept (a name not found yet): asked again, and no row with it is kept.
    who_asked_ = std::move(text);
    return who_asked_;
  }
  if (who_kept_.size() >= kWhoKept) who_kept_.clear();
  return who_kept_.emplace(cgroup_id, std::move(text)).first->second;
}

// Room for one more row (and its newline) in out_, and at_ where it goes;
// extra: the caller's texts in it (suffix, who).
void RowWriter::Reserve(size_t extra) {
  size_t used = at_ ? at_ - out_->data() : 0;
  size_t need = used + longest_ + extra + 1;
  if (need > out_->size()) out_->resize(std::max(need, out_->size() * 2));
  at_ = out_->data() + used;
}

// A row: a kept one with its holes filled, or field by field (and kept).
void RowWriter::Write(Napi::Env env, const event& e, const std::string& suffix, const char* clock) {
  if (looking_) {
    written_++;
    for (const Recent& r : recent_) {
      if (!r.valid || !Matches(r.key, e)) continue;
      Reserve(r.text.size());
      size_t from = 0;
      for (auto [offset, piece] : r.holes) {
        at_ = Put(at_, r.text.data() + from, offset - from);
        from = offset;
        const Piece& p = pieces_[piece];
        if (p.width > 0) memset(at_, ' ', p.width);
        WritePiece(p, e, suffix, kNoText, clock);  // no hole is the cgroup's text
      }
      at_ = Put(at_, r.text.data() + from, r.text.size() - from);
      found_++;
      return;
    }
  }
  // The cgroup's text is asked only here: a kept row has it already.
  const std::string& who = has_who_ ? Who(env, e.cgroup_id) : kNoText;
  Reserve(suffix.size() + who.size());
  if (!looking_) return WriteFields(e, suffix, who, clock, nullptr);
  Recent& r = recent_[recent_next_++ % recent_.size()];
  WriteFields(e, suffix, who, clock, &r);
  KeyOf(e, r.key);
  r.valid = &who != &who_asked_;  // a who() text not kept is asked again by the next row
}

// A row, field by field; keep: where to keep its text, with holes for the
// pieces that change.
void RowWriter::WriteFields(const event& e, const std::string& suffix, const std::string& who, const char* clock,
                            Recent* keep) {
  // Spaces, so that padding is only a step over them: one fill per row,
  // not one per field.
  if (padded_) memset(at_, ' ', longest_ + suffix.size() + who.size());
  if (keep) {
    keep->text.clear();
    keep->holes.clear();
  }
  char* kept = at_;  // the row's text from here on is not kept yet
  for (size_t i = 0; i < pieces_.size(); i++) {
    const Piece& p = pieces_[i];
    if (!keep || !Changing(p.field)) {
      WritePiece(p, e, suffix, who, clock);
      continue;
    }
    keep->text.append(kept, at_ - kept);
    keep->holes.emplace_back(keep->text.size(), i);
    WritePiece(p, e, suffix, who, clock);
    kept = at_;
  }
  if (keep) keep->text.append(kept, at_ - kept);
}

void RowWriter::WritePiece(const Piece& p, const event& e, const std::string& suffix, const std::string& who,
                           const char* clock) {
  switch (p.field) {
    case Field::kText:
      at_ = Put(at_, p.text.data(), p.text.size());
      break;
    case Field::kPid:
      Int(p, e.pid);
      break;
    case Field::kUid:
      Int(p, e.uid);
      break;
    case Field::kTask: {
      // The name's first `precision` bytes (bcc's 12), escaped: an
      // escaped name is wider, and pushes the row as a wide address does.
      size_t n = strnlen(e.task, sizeof e.task);
      if (p.precision >= 0 && n > static_cast<size_t>(p.precision)) n = p.precision;
      char task[4 * TASK_COMM_LEN];
      Pad(p, task, EscapeText(e.task, n, task));
      break;
    }
    case Field::kIp:
      Int(p, e.ip);
      break;
    case Field::kSaddr:
    case Field::kDaddr: {
      char addr[INET6_ADDRSTRLEN];
      Str(p, addr, FormatAddress(e.ip, p.field == Field::kSaddr ? e.saddr : e.daddr, addr));
      break;
    }
    case Field::kLport:
      Int(p, e.lport);
      break;
    case Field::kDport:
      Int(p, e.dport);
      break;
    case Field::kSeconds: {
      uint64_t us = Micros(e);
      if (!started_) {
        started_ = true;
        start_us_ = us;
      }
      char text[64];
      Pad(p, text, Seconds(static_cast<int64_t>(us - start_us_), p.precision, text));
      break;
    }
    case Field::kClock:
      Str(p, clock, strlen(clock));
      break;
    case Field::kSuffix:
      Str(p, suffix.data(), suffix.size());
      break;
    case Field::kTid:
      Int(p, e.tid);
      break;
    case Field::kIsoTime: {
      int64_t ns = static_cast<int64_t>(e.ts_ns) + wall_offset_ns_;
      int64_t second = ns / 1000000000;
      if (second != iso_second_) {
        time_t t = static_cast<time_t>(second);
        struct tm tm;
        gmtime_r(&t, &tm);
        snprintf(iso_prefix_, sizeof iso_prefix_, "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        iso_second_ = second;
      }
      char text[32];
      memcpy(text, iso_prefix_, 20);
      uint32_t us = static_cast<uint32_t>(ns % 1000000000 / 1000);
      for (int i = 25; i >= 20; i--, us /= 10) text[i] = static_cast<char>('0' + us % 10);
      text[26] = 'Z';
      Str(p, text, 27);
      break;
    }
    case Field::kTaskJson: {
      char task[6 * TASK_COMM_LEN + 2];
      Str(p, task, JsonString(e.task, strnlen(e.task, sizeof e.task), task));
      break;
    }
    case Field::kWho:
      Str(p, who.data(), who.size());
      break;
    case Field::kMntns:
      Int(p, e.mntns);
      break;
    case Field::kNetns:
      Int(p, e.netns);
      break;
    case Field::kLatency: {
      char text[24];
      Pad(p, text, Millis(e.lat_us, p.precision, text));
      break;
    }
    case Field::kResult: {
      char text[32];
      Str(p, text, ResultText(e.err, text));
      break;
    }
    case Field::kErrno:
      // JSON's errno: 0 for OK, null while still pending.
      if (e.err == RESULT_PENDING)
        Str(p, "null", 4);
      else
        Int(p, static_cast<uint32_t>(e.err));
      break;
  }
}

Napi::Value RowWriter::Format(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsBuffer() || !info[1].IsNumber() ||
      (info.Length() > 2 && !info[2].IsUndefined() && !info[2].IsArray()))
    throw Napi::TypeError::New(env, "expected (batch, nowMs, suffixes?)");
  if (!lent_.IsEmpty()) {
    Napi::Value last = lent_.Value();
    if (!last.IsEmpty()) last.As<Napi::Buffer<char>>().ArrayBuffer().Detach();
    lent_.Reset();
  }
  auto batch = info[0].As<Napi::Buffer<uint8_t>>();
  const uint8_t* data = batch.Data();
  size_t size = batch.Length();
  char clock[16];
  WallClock(info[1].As<Napi::Number>().DoubleValue(), clock);

  bool suffixed = info.Length() > 2 && info[2].IsArray();
  Napi::Array suffixes = suffixed ? info[2].As<Napi::Array>() : Napi::Array();
  uint32_t connects = 0;
  if (suffixed)
    for (RecordCursor c(data, size); c.Next();) connects += c.kind() == RECORD_CONNECT;
  if (suffixed && suffixes.Length() != connects)
    throw Napi::RangeError::New(env, "expected a suffix for each of the " + std::to_string(connects) +
                                         " connect records, got " + std::to_string(suffixes.Length()));
  std::string suffix;
  at_ = nullptr;
  if (look_up_) look_up_ = found_ * 4 >= written_;        // as the last batch that looked found
  if (!look_up_ && ++batches_ % 8 == 0) look_up_ = true;  // and now and then again
  found_ = written_ = 0;
  looking_ = look_up_ && !suffixed;  // a suffix (-d's QUERY) is not in the record
  uint32_t n_row = 0;
  for (RecordCursor c(data, size); c.Next();) {
    // -d's answers are read by TypeScript. (The size is the reader's to
    // check; a batch from anywhere else must not make this read past it.)
    if (c.kind() != RECORD_CONNECT || c.size() < sizeof(event)) continue;
    event e;
    memcpy(&e, c.data(), sizeof e);
    if (suffixed) Latin1(suffixes.Get(n_row++), suffix);
    Write(env, e, suffix, clock);
    *at_++ = '\n';
  }
  size_t n = at_ ? at_ - out_->data() : 0;
  // Lent, not copied: the text is out_ itself until the next format() call,
  // which detaches it first. The Buffer holds out_, so that it cannot
  // outlive the memory even if this writer is collected first.
  auto* hold = new std::shared_ptr<std::string>(out_);
  auto text = Napi::Buffer<char>::New(
      env, out_->data(), n, [](Napi::Env, char*, std::shared_ptr<std::string>* h) { delete h; }, hold);
  lent_ = Napi::Weak(text);
  return text;
}

// A JS string's latin1 bytes (one per char, as the rows), or its text for anything else.
void RowWriter::Latin1(Napi::Value v, std::string& out) {
  napi_env env = v.Env();
  napi_value text = v.IsString() ? static_cast<napi_value>(v) : static_cast<napi_value>(v.ToString());
  size_t n = 0;
  napi_get_value_string_latin1(env, text, nullptr, 0, &n);
  out.resize(n + 1);
  napi_get_value_string_latin1(env, text, out.data(), n + 1, &n);
  out.resize(n);
}

Napi::Value AddressText(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBuffer()) throw Napi::TypeError::New(env, "expected (bytes)");
  auto bytes = info[0].As<Napi::Buffer<uint8_t>>();
  if (bytes.Length() != 4 && bytes.Length() != 16) throw Napi::RangeError::New(env, "expected 4 or 16 bytes");
  char text[INET6_ADDRSTRLEN];
  size_t n = FormatAddress(bytes.Length() == 4 ? 4 : 6, bytes.Data(), text);
  return Napi::String::New(env, text, n);
}
