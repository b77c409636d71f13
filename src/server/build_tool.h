// `skeg build`: the offline index builder (ARCHITECTURE.md section 5, docs/vectors.md "Building
// an index offline").
//
//   skeg build --input FILE --output DIR --name NAME [--kind K] [--tier T] [--metric M] [--R n]
//              [--L n] [--alpha x] [--build-memory-bytes BYTES] [--threads n] [--ids FILE]
//              [--durability TIER] [--progress auto|bar|lines|off]
//
// turns a vector file (.npy, .fvecs or .bvecs; index/vamana/vector_file.h) into a disk-backend
// (Vamana) index named NAME inside the skeg data directory DIR, which is created when absent
// and may already hold other indexes and keys. `skeg --mode serve --data-dir DIR` then serves
// it read-only.
//
// Steps: open and validate the input (before the data directory is touched, so a bad file
// changes nothing), read the ids file if any, open DIR as the server does (Store::Open, which
// takes the directory lock, then Collection::Open with index_dir DIR/indexes), create the index
// (Collection::Create; an existing name is an error) and fill it with Collection::BulkLoad,
// which streams the rows from the file. A failed load drops the half-created index again. The
// store is closed cleanly (synced) at the end.
//
// Output, all on stderr: the input description, progress per build phase (a redrawn bar when
// stderr is a terminal, otherwise one line per 10 % of each phase), and a summary line with
// rows, dimension, seconds, peak RSS and the bytes of the index files.
//
// Thread-safety: BuildToolMain and RunBuild are meant for main(); the build itself is
// multithreaded inside Collection::BulkLoad.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "index/collection/collection.h"
#include "storage/vlog/store.h"

namespace skeg::server {

// How progress is drawn. kAuto: kBar when stderr is a terminal, else kLines.
enum class ProgressStyle : uint8_t { kAuto, kBar, kLines, kOff };

struct BuildOptions {
  std::string input;                                 // .npy / .fvecs / .bvecs file
  std::string output;                                // the data directory
  std::string name;                                  // the index name (ValidateIndexName)
  std::string ids_file;                              // empty: ids are the row numbers 0..n-1
  index::VectorKind kind = index::VectorKind::kTq2;  // the navigation code
  index::QuantKind tier = index::QuantKind::kTq2;    // the code used when kind is f32
  index::Metric metric = index::Metric::kCosine;
  uint32_t r = 64;                  // graph degree R
  uint32_t l = 128;                 // build list size L
  float alpha = 1.2f;               // RobustPrune alpha
  uint64_t build_memory_bytes = 0;  // 0: the builder's default
  uint32_t threads = 0;             // 0: all cores
  storage::Durability durability = storage::Durability::kKernel;
  ProgressStyle progress = ProgressStyle::kAuto;
};

// Outcome of parsing a `skeg build` command line.
struct ParsedBuildCommandLine {
  BuildOptions options;
  // Non-empty for --help: print it to stdout and exit 0.
  std::string print_and_exit;
};

// Parses argv, where argv[0] is "build" (the word after `skeg`). Flags are not read from the
// environment or a config file. Errors: kInvalidArgument with CLI11's message or ours (missing
// required flag, unknown flag, bad value).
Result<ParsedBuildCommandLine> ParseBuildCommandLine(int argc, const char* const* argv);

// Runs the build described by `options` (see the file comment), printing progress and the
// summary to stderr. Errors: the input's (VectorFile::Open, ReadRows), a bad ids file
// (kInvalidArgument naming the line), IndexSpec::Validate's for the input's dimension,
// Store::Open's (kBusy when a server holds DIR), kAlreadyExists for an existing name,
// Collection::BulkLoad's, and the store's close.
[[nodiscard]] Status RunBuild(const BuildOptions& options);

// `skeg build ...` entry (main_skeg.cc): argv[0] is "build". Returns the process exit code:
// 0 after a successful build or --help, 2 for a bad command line ("skeg build: error: ..."
// plus a pointer to --help), 1 when the build fails ("skeg build: error: ...").
int BuildToolMain(int argc, char** argv);

}  // namespace skeg::server
