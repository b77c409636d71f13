#include "index/vamana/vector_file.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "common/ascii.h"
#include "common/coding.h"

namespace skeg::index::vamana {
namespace {

// Upper bound of the temporary buffer of one ReadRows call (rows that need converting or carry
// a dimension prefix go through it).
constexpr size_t kChunkBytes = 1 << 20;
// Sanity bounds on what a header may claim, so that products of them cannot overflow 64 bits
// and a garbage dimension prefix is reported as such rather than as a size mismatch.
constexpr uint64_t kMaxFileDim = 1 << 24;
constexpr uint64_t kMaxNpyHeaderBytes = 16 << 20;

constexpr char kNpyMagic[] = "\x93NUMPY";
constexpr size_t kNpyMagicBytes = 6;

std::string Quoted(std::string_view path) { return "'" + std::string(path) + "'"; }

std::string FormatBytes(uint64_t bytes) {
  static constexpr std::pair<const char*, int> kUnits[] = {
      {"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}};
  for (const auto& [name, shift] : kUnits) {
    if (bytes >= (uint64_t{1} << shift)) {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%.1f %s",
                    static_cast<double>(bytes) / static_cast<double>(uint64_t{1} << shift), name);
      return buf;
    }
  }
  return std::to_string(bytes) + " bytes";
}

size_t ElementBytes(VectorElementType type) {
  switch (type) {
    case VectorElementType::kF32:
      return 4;
    case VectorElementType::kF64:
      return 8;
    case VectorElementType::kU8:
      break;
  }
  return 1;
}

// ---- .npy header --------------------------------------------------------------------------
//
// Layout (numpy.lib.format, versions 1.0 / 2.0 / 3.0):
//   offset 0  6 bytes  magic "\x93NUMPY"
//          6  1 byte   major version (1, 2 or 3)
//          7  1 byte   minor version (0)
//          8  u16 LE   header length H (version 1) | u32 LE (versions 2 and 3)
//   10 | 12   H bytes  ASCII (v3: UTF-8) Python dict literal, padded with spaces, ending in '\n':
//                      {'descr': '<f4', 'fortran_order': False, 'shape': (5000, 128), }
//   10+H | 12+H        the array data, rows * dim elements

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<uint64_t> shape;
  bool has_descr = false;
  bool has_order = false;
  bool has_shape = false;
};

// A recursive-descent parser of the header dict. It accepts exactly the literal forms NumPy
// writes (quoted strings, True/False, tuples of integers, optional trailing commas) and fails on
// anything else, returning a message for a kCorruption status.
class NpyHeaderParser {
 public:
  explicit NpyHeaderParser(std::string_view text) : text_(text) {}

  Result<NpyHeader> Parse() {
    NpyHeader h;
    SkipSpace();
    if (!Eat('{')) return Error("expected '{'");
    while (true) {
      SkipSpace();
      if (Eat('}')) break;
      std::string key;
      if (!ParseString(&key)) return Error("expected a quoted key");
      SkipSpace();
      if (!Eat(':')) return Error("expected ':' after '" + key + "'");
      SkipSpace();
      if (key == "descr") {
        if (Peek() == '[') return Status::NotSupported("structured dtypes are not supported");
        if (!ParseString(&h.descr)) return Error("expected a quoted dtype for 'descr'");
        h.has_descr = true;
      } else if (key == "fortran_order") {
        if (!ParseBool(&h.fortran_order))
          return Error("expected True or False for 'fortran_order'");
        h.has_order = true;
      } else if (key == "shape") {
        if (!ParseTuple(&h.shape)) return Error("expected a tuple of integers for 'shape'");
        h.has_shape = true;
      } else {
        return Error("unexpected key '" + key + "'");
      }
      SkipSpace();
      if (Eat(',')) continue;
      if (Eat('}')) break;
      return Error("expected ',' or '}'");
    }
    SkipSpace();
    if (pos_ != text_.size()) return Error("unexpected bytes after the dict");
    if (!h.has_descr || !h.has_order || !h.has_shape) {
      return Error("missing one of the keys 'descr', 'fortran_order', 'shape'");
    }
    return h;
  }

 private:
  Status Error(const std::string& what) const {
    return Status::Corruption("bad header at offset " + std::to_string(pos_) + ": " + what);
  }
  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  bool Eat(char c) {
    if (Peek() != c) return false;
    ++pos_;
    return true;
  }
  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool ParseString(std::string* out) {
    const char quote = Peek();
    if (quote != '\'' && quote != '"') return false;
    const size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) return false;
    std::string_view body = text_.substr(pos_ + 1, end - pos_ - 1);
    if (body.find('\\') != std::string_view::npos) return false;  // NumPy never escapes
    *out = std::string(body);
    pos_ = end + 1;
    return true;
  }
  bool ParseBool(bool* out) {
    for (const auto& [word, value] : {std::pair{"True", true}, std::pair{"False", false}}) {
      const std::string_view w(word);
      if (text_.substr(pos_, w.size()) == w) {
        pos_ += w.size();
        *out = value;
        return true;
      }
    }
    return false;
  }
  bool ParseUint(uint64_t* out) {
    const size_t start = pos_;
    uint64_t v = 0;
    while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
      const uint64_t digit = static_cast<uint64_t>(text_[pos_] - '0');
      if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10) return false;
      v = v * 10 + digit;
      ++pos_;
    }
    if (pos_ == start) return false;
    Eat('L');  // Python 2 longs, in files written long ago
    *out = v;
    return true;
  }
  bool ParseTuple(std::vector<uint64_t>* out) {
    out->clear();
    if (!Eat('(')) return false;
    SkipSpace();
    if (Eat(')')) return true;
    while (true) {
      uint64_t v;
      if (!ParseUint(&v)) return false;
      out->push_back(v);
      SkipSpace();
      if (Eat(')')) return true;
      if (!Eat(',')) return false;
      SkipSpace();
      if (Eat(')')) return true;
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
};

std::string ShapeText(const std::vector<uint64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

Result<VectorElementType> NpyElementType(const std::string& descr) {
  if (descr == "<f4") return VectorElementType::kF32;
  if (descr == "<f8") return VectorElementType::kF64;
  if (descr == "|u1" || descr == "<u1" || descr == ">u1" || descr == "=u1") {
    return VectorElementType::kU8;
  }
  if (descr == ">f4" || descr == ">f8") {
    return Status::NotSupported("dtype '" + descr +
                                "' is big-endian; convert it with "
                                "arr.astype('<f4') (expected <f4, <f8 or |u1)");
  }
  return Status::NotSupported("dtype '" + descr + "' is not supported (expected <f4, <f8 or |u1)");
}

}  // namespace

std::string_view VectorFileFormatName(VectorFileFormat format) {
  switch (format) {
    case VectorFileFormat::kFvecs:
      return "fvecs";
    case VectorFileFormat::kBvecs:
      return "bvecs";
    case VectorFileFormat::kNpy:
      break;
  }
  return "npy";
}

std::string_view VectorElementTypeName(VectorElementType type) {
  switch (type) {
    case VectorElementType::kF32:
      return "f32";
    case VectorElementType::kF64:
      return "f64";
    case VectorElementType::kU8:
      break;
  }
  return "u8";
}

Result<VectorFileFormat> VectorFileFormatFromPath(std::string_view path) {
  const size_t slash = path.rfind('/');
  const size_t dot = path.rfind('.');
  if (dot != std::string_view::npos && (slash == std::string_view::npos || dot > slash)) {
    const std::string ext = AsciiLower(path.substr(dot + 1));
    if (ext == "fvecs") return VectorFileFormat::kFvecs;
    if (ext == "bvecs") return VectorFileFormat::kBvecs;
    if (ext == "npy") return VectorFileFormat::kNpy;
  }
  return Status::InvalidArgument("unsupported input file " + Quoted(path) +
                                 ": expected a .npy, .fvecs or .bvecs file");
}

VectorFile::~VectorFile() = default;

Result<std::unique_ptr<VectorFile>> VectorFile::Open(platform::Env* env, const std::string& path) {
  if (env == nullptr) env = platform::Env::Default();
  SKEG_ASSIGN_OR_RETURN(VectorFileFormat format, VectorFileFormatFromPath(path));
  std::unique_ptr<VectorFile> f(new VectorFile());
  f->path_ = path;
  f->format_ = format;
  SKEG_ASSIGN_OR_RETURN(f->file_, env->OpenFile(path, platform::OpenOptions{}));
  SKEG_ASSIGN_OR_RETURN(f->file_bytes_, f->file_->Size());
  const uint64_t size = f->file_bytes_;
  const std::string name = Quoted(path);

  if (format != VectorFileFormat::kNpy) {
    const char* ext = format == VectorFileFormat::kFvecs ? ".fvecs" : ".bvecs";
    f->type_ =
        format == VectorFileFormat::kFvecs ? VectorElementType::kF32 : VectorElementType::kU8;
    f->dim_prefix_ = true;
    if (size == 0) return Status::InvalidArgument(std::string(ext) + " file " + name + " is empty");
    char prefix[4];
    SKEG_ASSIGN_OR_RETURN(size_t got, f->file_->ReadAt(0, sizeof(prefix), prefix));
    if (got < sizeof(prefix)) {
      return Status::Corruption("truncated " + std::string(ext) + " file " + name + ": " +
                                std::to_string(size) + " bytes, shorter than one row header");
    }
    const auto d = static_cast<int32_t>(DecodeFixed32(prefix));
    if (d <= 0 || static_cast<uint64_t>(d) > kMaxFileDim) {
      return Status::Corruption(name + ": row 0 has dimension " + std::to_string(d) +
                                " (not a valid " + ext + " file?)");
    }
    f->dim_ = static_cast<size_t>(d);
    f->row_bytes_ = 4 + f->dim_ * ElementBytes(f->type_);
    f->data_offset_ = 0;
    f->rows_ = static_cast<size_t>(size / f->row_bytes_);
    if (size % f->row_bytes_ != 0) {
      return Status::Corruption("truncated " + std::string(ext) + " file " + name + ": " +
                                std::to_string(size) + " bytes is not a whole number of " +
                                std::to_string(f->row_bytes_) + "-byte rows (dimension " +
                                std::to_string(d) + " from row 0): " + std::to_string(f->rows_) +
                                " whole rows and " + std::to_string(size % f->row_bytes_) +
                                " bytes more");
    }
    return f;
  }

  // .npy
  char pre[12];
  SKEG_ASSIGN_OR_RETURN(size_t got, f->file_->ReadAt(0, sizeof(pre), pre));
  if (got < 10 || std::memcmp(pre, kNpyMagic, kNpyMagicBytes) != 0) {
    return Status::Corruption(name + " is not a .npy file (no \\x93NUMPY magic)");
  }
  const auto major = static_cast<uint8_t>(pre[6]);
  uint64_t header_bytes = 0;
  uint64_t header_at = 0;
  if (major == 1) {
    header_bytes = DecodeFixed16(pre + 8);
    header_at = 10;
  } else if (major == 2 || major == 3) {
    if (got < 12) return Status::Corruption("truncated .npy file " + name + ": no header length");
    header_bytes = DecodeFixed32(pre + 8);
    header_at = 12;
  } else {
    return Status::NotSupported(name + ": .npy format version " + std::to_string(major) + "." +
                                std::to_string(static_cast<uint8_t>(pre[7])) +
                                " is not supported (expected 1.0, 2.0 or 3.0)");
  }
  if (header_bytes > kMaxNpyHeaderBytes) {
    return Status::Corruption(name + ": .npy header length " + std::to_string(header_bytes) +
                              " is implausible");
  }
  if (header_at + header_bytes > size) {
    return Status::Corruption("truncated .npy file " + name + ": the header needs " +
                              std::to_string(header_at + header_bytes) + " bytes, the file has " +
                              std::to_string(size));
  }
  std::string text(header_bytes, '\0');
  SKEG_ASSIGN_OR_RETURN(got, f->file_->ReadAt(header_at, text.size(), text.data()));
  if (got < text.size()) return Status::Corruption("truncated .npy file " + name);
  auto parsed = NpyHeaderParser(text).Parse();
  if (!parsed) return parsed.error().WithContext(name);
  const NpyHeader& h = *parsed;
  auto type = NpyElementType(h.descr);
  if (!type) return type.error().WithContext(name);
  f->type_ = *type;
  if (h.fortran_order) {
    return Status::NotSupported(name +
                                ": Fortran-order arrays are not supported; save a C-order array "
                                "(np.ascontiguousarray)");
  }
  if (h.shape.size() != 2) {
    return Status::InvalidArgument(name + ": expected a 2-D array (rows, dim), got shape " +
                                   ShapeText(h.shape));
  }
  if (h.shape[1] == 0 || h.shape[1] > kMaxFileDim) {
    return Status::InvalidArgument(name + ": unsupported dimension " + std::to_string(h.shape[1]) +
                                   " in shape " + ShapeText(h.shape));
  }
  f->dim_ = static_cast<size_t>(h.shape[1]);
  f->row_bytes_ = f->dim_ * ElementBytes(f->type_);
  f->data_offset_ = header_at + header_bytes;
  const uint64_t room = size - f->data_offset_;
  if (h.shape[0] > std::numeric_limits<uint64_t>::max() / f->row_bytes_) {
    return Status::Corruption(name + ": shape " + ShapeText(h.shape) + " is implausible");
  }
  const uint64_t data_bytes = h.shape[0] * f->row_bytes_;
  if (room < data_bytes) {
    return Status::Corruption("truncated .npy file " + name + ": shape " + ShapeText(h.shape) +
                              " of " + h.descr + " needs " + std::to_string(data_bytes) +
                              " data bytes, the file has " + std::to_string(room) + " (" +
                              std::to_string(room / f->row_bytes_) + " whole rows)");
  }
  if (room > data_bytes) {
    return Status::Corruption(name + ": " + std::to_string(room - data_bytes) +
                              " bytes after the array data of shape " + ShapeText(h.shape));
  }
  f->rows_ = static_cast<size_t>(h.shape[0]);
  return f;
}

Status VectorFile::ReadRows(size_t begin, size_t n, float* out) const {
  if (begin > rows_ || n > rows_ - begin) {
    return Status::InvalidArgument(Quoted(path_) + ": rows [" + std::to_string(begin) + ", " +
                                   std::to_string(begin + n) + ") out of bounds (" +
                                   std::to_string(rows_) + " rows)");
  }
  if (n == 0) return Status::Ok();
  if (!dim_prefix_ && type_ == VectorElementType::kF32) {
    // Stored exactly as the caller wants them: read straight into `out`.
    const size_t bytes = n * row_bytes_;
    SKEG_ASSIGN_OR_RETURN(size_t got, file_->ReadAt(data_offset_ + begin * row_bytes_, bytes,
                                                    reinterpret_cast<char*>(out)));
    if (got < bytes) {
      return Status::Corruption("truncated file " + Quoted(path_) + ": row " +
                                std::to_string(begin + got / row_bytes_) +
                                " is past its end (the file shrank after it was opened)");
    }
    return Status::Ok();
  }
  return ReadConverted(begin, n, out);
}

Status VectorFile::ReadConverted(size_t begin, size_t n, float* out) const {
  const size_t chunk_rows = std::max<size_t>(1, kChunkBytes / row_bytes_);
  std::unique_ptr<char[]> buf(new char[std::min(n, chunk_rows) * row_bytes_]);
  const size_t skip = dim_prefix_ ? 4 : 0;
  for (size_t done = 0; done < n;) {
    const size_t rows = std::min(n - done, chunk_rows);
    const size_t first = begin + done;
    const size_t bytes = rows * row_bytes_;
    SKEG_ASSIGN_OR_RETURN(size_t got,
                          file_->ReadAt(data_offset_ + first * row_bytes_, bytes, buf.get()));
    if (got < bytes) {
      return Status::Corruption("truncated file " + Quoted(path_) + ": row " +
                                std::to_string(first + got / row_bytes_) +
                                " is past its end (the file shrank after it was opened)");
    }
    for (size_t r = 0; r < rows; ++r) {
      const char* row = buf.get() + r * row_bytes_;
      if (dim_prefix_) {
        const auto d = static_cast<int32_t>(DecodeFixed32(row));
        if (d < 0 || static_cast<size_t>(d) != dim_) {
          return Status::Corruption(Quoted(path_) + ": row " + std::to_string(first + r) +
                                    " has dimension " + std::to_string(d) + ", expected " +
                                    std::to_string(dim_));
        }
      }
      const char* values = row + skip;
      float* dst = out + (done + r) * dim_;
      switch (type_) {
        case VectorElementType::kF32:
          std::memcpy(dst, values, dim_ * sizeof(float));
          break;
        case VectorElementType::kF64:
          for (size_t j = 0; j < dim_; ++j) {
            double v;
            std::memcpy(&v, values + j * sizeof(double), sizeof(double));
            // Out-of-range doubles become +-Inf explicitly (a plain cast would be undefined);
            // the builder then rejects them as non-finite.
            constexpr double kMax = std::numeric_limits<float>::max();
            dst[j] = v > kMax    ? std::numeric_limits<float>::infinity()
                     : v < -kMax ? -std::numeric_limits<float>::infinity()
                                 : static_cast<float>(v);
          }
          break;
        case VectorElementType::kU8:
          for (size_t j = 0; j < dim_; ++j) {
            dst[j] = static_cast<float>(static_cast<uint8_t>(values[j]));
          }
          break;
      }
    }
    done += rows;
  }
  return Status::Ok();
}

std::string VectorFile::Describe() const {
  return std::string(VectorFileFormatName(format_)) + ", " + std::to_string(rows_) + " rows x " +
         std::to_string(dim_) + " dims (" + std::string(VectorElementTypeName(type_)) + "), " +
         FormatBytes(file_bytes_);
}

Result<std::unique_ptr<RowSource>> OpenVectorFile(platform::Env* env, const std::string& path) {
  SKEG_ASSIGN_OR_RETURN(std::unique_ptr<VectorFile> f, VectorFile::Open(env, path));
  return std::unique_ptr<RowSource>(std::move(f));
}

}  // namespace skeg::index::vamana
