// UTF-8 text cut to a byte budget without splitting a character.
#ifndef PVEGW_COMMON_UTF8_H_
#define PVEGW_COMMON_UTF8_H_

#include <cstddef>
#include <string>

namespace pvegw {

// `text` cut to at most `max_bytes` bytes, on a character boundary (continuation bytes of
// the character the limit falls into go too).
inline std::string CutUtf8(std::string text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  text.resize(cut);
  return text;
}

}  // namespace pvegw

#endif  // PVEGW_COMMON_UTF8_H_
