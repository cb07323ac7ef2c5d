#include "pvemock/multipart.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace pvegw::pvemock {
namespace {

absl::Status Bad(absl::string_view why) { return absl::InvalidArgumentError(why); }

bool IsBchar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::string_view("'()+_,-./:=? ").find(c) != absl::string_view::npos;
}

bool IsTokenChar(char c) {
  return c > 0x20 && c < 0x7f &&
         absl::string_view("()<>@,;:\\\"/[]?={}").find(c) == absl::string_view::npos;
}

// One `; key=value` list (value a token or a quoted string with backslash escapes), after
// the leading value. Calls `fn(key, value)`; a malformed list is an error.
template <typename Fn>
absl::Status ParseParameters(absl::string_view s, Fn fn) {
  while (true) {
    s = absl::StripLeadingAsciiWhitespace(s);
    if (s.empty()) return absl::OkStatus();
    if (!absl::ConsumePrefix(&s, ";")) return Bad("expected ';' between parameters");
    s = absl::StripLeadingAsciiWhitespace(s);
    if (s.empty()) return absl::OkStatus();  // a trailing ';'
    std::size_t n = 0;
    while (n < s.size() && IsTokenChar(s[n])) ++n;
    if (n == 0) return Bad("a parameter without a name");
    const std::string key = absl::AsciiStrToLower(s.substr(0, n));
    s.remove_prefix(n);
    s = absl::StripLeadingAsciiWhitespace(s);
    if (!absl::ConsumePrefix(&s, "="))
      return Bad(absl::StrCat("parameter '", key, "' has no value"));
    s = absl::StripLeadingAsciiWhitespace(s);
    std::string value;
    if (absl::ConsumePrefix(&s, "\"")) {
      bool closed = false;
      while (!s.empty()) {
        const char c = s.front();
        s.remove_prefix(1);
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\') {
          if (s.empty()) break;
          value.push_back(s.front());
          s.remove_prefix(1);
        } else {
          value.push_back(c);
        }
      }
      if (!closed) return Bad(absl::StrCat("parameter '", key, "' has an unterminated quote"));
    } else {
      std::size_t m = 0;
      while (m < s.size() && IsTokenChar(s[m])) ++m;
      if (m == 0) return Bad(absl::StrCat("parameter '", key, "' has an empty value"));
      value = std::string(s.substr(0, m));
      s.remove_prefix(m);
    }
    if (absl::Status st = fn(key, std::move(value)); !st.ok()) return st;
  }
}

// After a delimiter at `pos`: "--" closes; otherwise optional padding and a line end.
// Returns the position after it, or npos when `pos` does not end a delimiter line.
std::size_t AfterDelimiter(absl::string_view body, std::size_t pos, bool* close) {
  *close = false;
  if (body.substr(pos, 2) == "--") {
    *close = true;
    return pos + 2;
  }
  while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
  if (body.substr(pos, 2) == "\r\n") return pos + 2;
  if (body.substr(pos, 1) == "\n") return pos + 1;
  return absl::string_view::npos;
}

// Finds a delimiter line ("--boundary" at the start of a line, `from` counting as one,
// followed by "--" or a line end; anything else is data, as in pveproxy), or npos. Sets
// `next` to the position after it and `close` for the closing delimiter.
std::size_t FindDelimiter(absl::string_view body, absl::string_view delim, std::size_t from,
                          std::size_t* next, bool* close) {
  std::size_t pos = from;
  while ((pos = body.find(delim, pos)) != absl::string_view::npos) {
    if (pos == from || body[pos - 1] == '\n') {
      *next = AfterDelimiter(body, pos + delim.size(), close);
      if (*next != absl::string_view::npos) return pos;
    }
    ++pos;
  }
  return absl::string_view::npos;
}

}  // namespace

absl::StatusOr<std::string> MultipartBoundary(absl::string_view content_type) {
  const std::size_t semi = content_type.find(';');
  if (semi == absl::string_view::npos) return Bad("no boundary in the Content-Type");
  std::optional<std::string> boundary;
  absl::Status st =
      ParseParameters(content_type.substr(semi), [&](const std::string& k, std::string v) {
        if (k == "boundary") {
          if (boundary) return Bad("duplicate boundary parameter");
          boundary = std::move(v);
        }
        return absl::OkStatus();
      });
  if (!st.ok()) return Bad(absl::StrCat("malformed Content-Type: ", st.message()));
  if (!boundary) return Bad("no boundary in the Content-Type");
  if (boundary->empty() || boundary->size() > 70 || boundary->back() == ' ') {
    return Bad("the boundary must have 1 to 70 characters and not end with a space");
  }
  for (char c : *boundary) {
    if (!IsBchar(c)) return Bad("the boundary has a character RFC 2046 does not allow");
  }
  return *boundary;
}

absl::StatusOr<std::vector<MultipartPart>> ParseMultipart(absl::string_view body,
                                                          absl::string_view boundary) {
  if (boundary.empty()) return Bad("empty boundary");
  const std::string delim = absl::StrCat("--", boundary);
  std::size_t next = 0;
  bool close = false;
  std::size_t pos = FindDelimiter(body, delim, 0, &next, &close);
  if (pos == absl::string_view::npos) return Bad("no boundary line in the body");
  std::vector<MultipartPart> parts;
  while (!close) {
    if (parts.size() == kMaxMultipartParts) {
      return Bad(absl::StrCat("more than ", kMaxMultipartParts, " parts"));
    }
    pos = next;
    MultipartPart part;
    std::optional<std::string> field_name;
    bool have_disposition = false;
    // Headers, up to an empty line.
    const std::size_t headers_start = pos;
    while (true) {
      const std::size_t eol = body.find('\n', pos);
      if (eol == absl::string_view::npos || eol - headers_start > kMaxMultipartHeaderBytes) {
        return Bad(eol == absl::string_view::npos ? "a part's headers do not end"
                                                  : "a part's headers are too long");
      }
      absl::string_view line = body.substr(pos, eol - pos);
      absl::ConsumeSuffix(&line, "\r");
      pos = eol + 1;
      if (line.empty()) break;
      if (line.front() == ' ' || line.front() == '\t') return Bad("folded part headers");
      const std::size_t colon = line.find(':');
      if (colon == absl::string_view::npos || colon == 0) {
        return Bad("a part header without a name and ':'");
      }
      const absl::string_view name = line.substr(0, colon);
      const absl::string_view value = absl::StripAsciiWhitespace(line.substr(colon + 1));
      if (absl::EqualsIgnoreCase(name, "Content-Disposition")) {
        if (have_disposition) return Bad("duplicate Content-Disposition");
        have_disposition = true;
        const std::size_t semi = value.find(';');
        part.disposition = std::string(absl::StripAsciiWhitespace(value.substr(0, semi)));
        if (part.disposition.empty()) return Bad("an empty Content-Disposition");
        if (semi != absl::string_view::npos) {
          absl::Status st =
              ParseParameters(value.substr(semi), [&](const std::string& k, std::string v) {
                if (k == "name" || k == "filename") {
                  std::optional<std::string>& slot = k == "name" ? field_name : part.filename;
                  if (slot) return Bad(absl::StrCat("duplicate '", k, "' in Content-Disposition"));
                  slot = std::move(v);
                }
                return absl::OkStatus();
              });
          if (!st.ok()) return Bad(absl::StrCat("malformed Content-Disposition: ", st.message()));
        }
      } else if (absl::EqualsIgnoreCase(name, "Content-Type")) {
        part.content_type = std::string(value);
      }
    }
    if (!have_disposition) return Bad("a part without Content-Disposition");
    if (!field_name) return Bad("a part's Content-Disposition has no name");
    part.name = *std::move(field_name);
    // Data, up to the next boundary line (its line end belongs to the boundary).
    const std::size_t end = FindDelimiter(body, delim, pos, &next, &close);
    if (end == absl::string_view::npos) return Bad("no closing boundary");
    std::size_t data_end = end;
    if (data_end > pos && body[data_end - 1] == '\n') --data_end;
    if (data_end > pos && body[data_end - 1] == '\r') --data_end;
    part.data = body.substr(pos, data_end - pos);
    parts.push_back(std::move(part));
  }
  return parts;
}

}  // namespace pvegw::pvemock
