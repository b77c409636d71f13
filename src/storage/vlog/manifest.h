// MANIFEST: the data directory's identity and everything that affects how data is found.
//
// A small text file, replaced atomically (write MANIFEST.tmp, fsync, rename, fsync the
// directory), so the same directory opens on any machine with any core count
// (docs/formats/manifest.md):
//
//   skeg-manifest
//   format_version=1
//   created_unix_ms=1763731200000
//   partitions=1
//   catalog=
//   crc32c=0x1a2b3c4d        masked CRC32C of every preceding byte
//
// Unknown keys are preserved on rewrite (forward compatibility within a major version).
//
// Thread-safety: pure functions over a value type.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/status.h"
#include "platform/env.h"

namespace skeg::storage {

inline constexpr uint32_t kManifestFormatVersion = 1;

struct Manifest {
  uint32_t format_version = kManifestFormatVersion;
  int64_t created_unix_ms = 0;
  uint32_t partitions = 1;
  std::string catalog;  // relative path of the vector-index catalog; empty until one exists
  std::map<std::string, std::string> extra;  // unknown keys, kept verbatim

  std::string Encode() const;
  // Errors: kCorruption (missing header, bad line, checksum mismatch, unsupported version).
  static Result<Manifest> Decode(std::string_view text);
};

// Reads DIR/MANIFEST. Errors: kNotFound when absent, otherwise as Decode.
Result<Manifest> ReadManifest(platform::Env* env, const std::string& dir);
// Atomically replaces DIR/MANIFEST.
Status WriteManifest(platform::Env* env, const std::string& dir, const Manifest& manifest);

}  // namespace skeg::storage
