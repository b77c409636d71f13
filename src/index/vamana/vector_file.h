// Vector files: the input formats of the offline builder (`skeg build`), read as a RowSource.
//
// Formats, chosen by the file name's extension (ASCII case-insensitive):
//   .fvecs  texmex format: per row, a little-endian i32 dimension d, then d little-endian f32.
//   .bvecs  texmex format: per row, a little-endian i32 dimension d, then d u8 (read as 0..255).
//   .npy    NumPy format version 1.0, 2.0 or 3.0: the magic "\x93NUMPY", the version, a header
//           length (u16 for 1.x, u32 for 2.x and 3.x), then a Python dict literal
//           {'descr': ..., 'fortran_order': False, 'shape': (n, d)} and the array data. Accepted:
//           2-D shapes, C order, dtypes '<f4' (read as is), '<f8' (rounded to f32) and
//           '|u1' / '<u1' / '>u1' (u8, read as 0..255).
// Every row is returned as d f32 values, as stored (no normalisation); NaN and Inf pass through
// (the builder rejects them).
//
// Memory: the file is never loaded. Open() reads the header (and, for .fvecs/.bvecs, the first
// row's dimension) and checks that the file size matches; ReadRows() preads the requested rows
// (File::ReadAt) into the caller's buffer, with a bounded temporary buffer (at most about 1 MiB
// per call) where the rows need converting or carry dimension prefixes. A build can therefore
// stream a file much larger than its memory budget.
//
// Validation: Open() rejects a file whose size is not the header plus a whole number of rows
// (kCorruption "truncated ..."), and ReadRows() checks the dimension prefix of every row it reads
// (kCorruption naming the file and the row). Errors name the file.
//
// Thread-safety: a VectorFile is immutable after Open(); ReadRows may be called from any number
// of threads at once (positioned reads share no file offset).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "index/vamana/graph.h"
#include "platform/env.h"

namespace skeg::index::vamana {

enum class VectorFileFormat : uint8_t { kFvecs, kBvecs, kNpy };

// How the values are stored in the file (each is converted to f32 by ReadRows).
enum class VectorElementType : uint8_t { kF32, kF64, kU8 };

// "fvecs", "bvecs", "npy" / "f32", "f64", "u8".
std::string_view VectorFileFormatName(VectorFileFormat format);
std::string_view VectorElementTypeName(VectorElementType type);

// The format implied by `path`'s extension (.fvecs, .bvecs, .npy; case-insensitive).
// Errors: kInvalidArgument "unsupported input file '<path>': expected a .npy, .fvecs or .bvecs
// file".
Result<VectorFileFormat> VectorFileFormatFromPath(std::string_view path);

class VectorFile final : public RowSource {
 public:
  // Opens `path` (env null: Env::Default()) and validates its header and size.
  // Errors: kInvalidArgument for an unknown extension, an empty .fvecs/.bvecs file, an .npy array
  // that is not 2-D or has dimension 0; kNotSupported for an .npy dtype outside the list above,
  // big-endian data or Fortran order; kCorruption for a malformed header, a row dimension <= 0,
  // or a size that does not match the header (the message says "truncated" when bytes are
  // missing); Env::OpenFile's errors (kNotFound, kPermissionDenied, kIOError).
  static Result<std::unique_ptr<VectorFile>> Open(platform::Env* env, const std::string& path);

  ~VectorFile() override;
  VectorFile(const VectorFile&) = delete;
  VectorFile& operator=(const VectorFile&) = delete;

  // Rows and values per row.
  size_t size() const override { return rows_; }
  size_t dim() const override { return dim_; }

  // Copies rows [begin, begin + n) into out (n * dim() floats, row-major), converting to f32.
  // I/O: one pread per call for .npy f32 data (straight into `out`), else one pread per chunk of
  // about 1 MiB. Errors: kInvalidArgument when the range exceeds size(); kCorruption when a
  // row's dimension prefix differs from dim() ("'<path>': row 17 has dimension 64, expected
  // 128") or the file got shorter since Open(); kIOError from the read.
  [[nodiscard]] Status ReadRows(size_t begin, size_t n, float* out) const override;

  VectorFileFormat format() const { return format_; }
  VectorElementType element_type() const { return type_; }
  const std::string& path() const { return path_; }
  // Bytes of the file (at Open()).
  uint64_t file_bytes() const { return file_bytes_; }

  // A one-line description for logs: "fvecs, 5000 rows x 128 dims (f32), 2.5 MiB".
  std::string Describe() const;

 private:
  VectorFile() = default;
  Status ReadConverted(size_t begin, size_t n, float* out) const;

  std::unique_ptr<platform::File> file_;
  std::string path_;
  VectorFileFormat format_ = VectorFileFormat::kFvecs;
  VectorElementType type_ = VectorElementType::kF32;
  size_t rows_ = 0;
  size_t dim_ = 0;
  uint64_t file_bytes_ = 0;
  uint64_t data_offset_ = 0;  // first byte of row 0
  size_t row_bytes_ = 0;      // bytes per row in the file, dimension prefix included
  bool dim_prefix_ = false;   // .fvecs/.bvecs: every row starts with its i32 dimension
};

// VectorFile::Open as a plain RowSource (what the builder consumes).
Result<std::unique_ptr<RowSource>> OpenVectorFile(platform::Env* env, const std::string& path);

}  // namespace skeg::index::vamana
