#include "storage/vlog/manifest.h"

#include <charconv>
#include <cstdio>

#include "common/crc32c.h"

namespace skeg::storage {

namespace {
constexpr std::string_view kHeaderLine = "skeg-manifest\n";
constexpr std::string_view kCrcKey = "crc32c=";

template <typename T>
bool ParseInt(std::string_view s, T* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}
}  // namespace

std::string Manifest::Encode() const {
  std::string out(kHeaderLine);
  out += "format_version=" + std::to_string(format_version) + "\n";
  out += "created_unix_ms=" + std::to_string(created_unix_ms) + "\n";
  out += "partitions=" + std::to_string(partitions) + "\n";
  out += "catalog=" + catalog + "\n";
  for (const auto& [k, v] : extra) out += k + "=" + v + "\n";
  char crc[32];
  std::snprintf(crc, sizeof(crc), "0x%08x", crc32c::Mask(crc32c::Value(out)));
  out += std::string(kCrcKey) + crc + "\n";
  return out;
}

Result<Manifest> Manifest::Decode(std::string_view text) {
  if (!text.starts_with(kHeaderLine)) return Status::Corruption("MANIFEST: missing header line");
  size_t crc_pos = text.rfind(kCrcKey);
  if (crc_pos == std::string_view::npos || (crc_pos > 0 && text[crc_pos - 1] != '\n')) {
    return Status::Corruption("MANIFEST: missing checksum line");
  }
  std::string_view crc_text = text.substr(crc_pos + kCrcKey.size());
  if (crc_text.ends_with('\n')) crc_text.remove_suffix(1);
  uint32_t stored = 0;
  if (!crc_text.starts_with("0x")) return Status::Corruption("MANIFEST: unreadable checksum");
  {
    auto [p, ec] =
        std::from_chars(crc_text.data() + 2, crc_text.data() + crc_text.size(), stored, 16);
    if (ec != std::errc() || p != crc_text.data() + crc_text.size()) {
      return Status::Corruption("MANIFEST: unreadable checksum");
    }
  }
  std::string_view body = text.substr(0, crc_pos);
  if (crc32c::Mask(crc32c::Value(body)) != stored) {
    return Status::Corruption("MANIFEST: checksum mismatch");
  }
  Manifest m;
  bool have_version = false;
  std::string_view rest = body.substr(kHeaderLine.size());
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) return Status::Corruption("MANIFEST: unterminated line");
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl + 1);
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) return Status::Corruption("MANIFEST: bad line");
    std::string_view key = line.substr(0, eq), value = line.substr(eq + 1);
    bool ok = true;
    if (key == "format_version") {
      ok = ParseInt(value, &m.format_version);
      have_version = true;
    } else if (key == "created_unix_ms") {
      ok = ParseInt(value, &m.created_unix_ms);
    } else if (key == "partitions") {
      ok = ParseInt(value, &m.partitions) && m.partitions > 0;
    } else if (key == "catalog") {
      m.catalog = std::string(value);
    } else {
      m.extra.emplace(std::string(key), std::string(value));
    }
    if (!ok) return Status::Corruption("MANIFEST: bad value for " + std::string(key));
  }
  if (!have_version) return Status::Corruption("MANIFEST: no format_version");
  if (m.format_version != kManifestFormatVersion) {
    return Status::NotSupported("MANIFEST: format version " + std::to_string(m.format_version) +
                                " is not supported by this build (supports " +
                                std::to_string(kManifestFormatVersion) + ")");
  }
  return m;
}

Result<Manifest> ReadManifest(platform::Env* env, const std::string& dir) {
  std::string path = platform::JoinPath(dir, "MANIFEST");
  SKEG_ASSIGN_OR_RETURN(std::string text, platform::ReadFileToString(env, path));
  auto m = Manifest::Decode(text);
  if (!m) return m.error().WithContext(path);
  return m;
}

Status WriteManifest(platform::Env* env, const std::string& dir, const Manifest& manifest) {
  return platform::WriteFileAtomic(env, platform::JoinPath(dir, "MANIFEST"), manifest.Encode());
}

}  // namespace skeg::storage
