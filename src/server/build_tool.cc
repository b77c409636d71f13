#include "server/build_tool.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include "common/ascii.h"
#include "index/distance/distance.h"
#include "index/vamana/vector_file.h"
#include "platform/cpu_features.h"
#include "platform/env.h"
#include "server/options.h"

namespace skeg::server {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kTool = "skeg build";

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// "12", "3.1k", "2.4M": rates and counts in the progress line.
std::string HumanCount(double v) {
  if (v < 1e3) return fmt::format("{:.0f}", v);
  if (v < 1e6) return fmt::format("{:.1f}k", v / 1e3);
  if (v < 1e9) return fmt::format("{:.1f}M", v / 1e6);
  return fmt::format("{:.1f}G", v / 1e9);
}

// "0.4s", "45s", "3m12s", "2h05m".
std::string HumanDuration(double seconds) {
  if (seconds < 10) return fmt::format("{:.1f}s", seconds);
  const auto s = static_cast<uint64_t>(seconds + 0.5);
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
}

std::string HumanBytes(uint64_t bytes) {
  static constexpr std::pair<std::string_view, int> kUnits[] = {
      {"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}};
  for (const auto& [name, shift] : kUnits) {
    if (bytes >= (uint64_t{1} << shift)) {
      return fmt::format("{:.1f} {}", static_cast<double>(bytes) / (uint64_t{1} << shift), name);
    }
  }
  return fmt::format("{} bytes", bytes);
}

// Draws the builder's progress on stderr. Update() is called from the build threads.
//   bar    one line redrawn in place (at most every 100 ms):
//          build pass 1 [############..................]  42% 12345/29000 3.1k/s ETA 5s
//   lines  one line each time a phase crosses a multiple of 10 %, so logs stay readable.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(ProgressStyle style) : style_(style) {
    if (style_ == ProgressStyle::kAuto) {
      style_ = ::isatty(::fileno(stderr)) ? ProgressStyle::kBar : ProgressStyle::kLines;
    }
  }

  void Update(std::string_view phase, uint64_t done, uint64_t total) {
    if (style_ == ProgressStyle::kOff) return;
    std::lock_guard lock(mu_);
    const Clock::time_point now = Clock::now();
    const Clock::time_point previous = std::exchange(last_update_, now);
    if (phase != phase_ || !started_) {
      EndLine();
      phase_ = std::string(phase);
      // The first report of a phase comes after some of its work: date the phase from the
      // previous report (the end of the previous phase), not from now.
      phase_start_ = previous;
      last_draw_ = Clock::time_point();
      last_decile_ = 0;
      done_ = 0;
      finished_ = false;
      started_ = true;
    }
    // Threads report out of order: never move backwards within a phase.
    done_ = std::max(done_, done);
    total_ = total;
    const bool complete = total_ > 0 && done_ >= total_;
    if (finished_) return;
    finished_ = complete;
    if (style_ == ProgressStyle::kBar) {
      if (!complete && now - last_draw_ < std::chrono::milliseconds(100)) return;
      last_draw_ = now;
      std::fprintf(stderr, "\r%s\x1b[K", Line(now, true).c_str());
      line_open_ = true;
    } else {
      int decile = 0;
      if (total_ > 0) {
        decile = static_cast<int>(std::min<uint64_t>(done_, total_) * 10 / total_);
      } else if (now - last_draw_ >= std::chrono::seconds(10)) {
        decile = last_decile_ + 1;  // unknown total: a line every 10 s
        last_draw_ = now;
      }
      if (decile <= last_decile_) return;
      last_decile_ = decile;
      std::fprintf(stderr, "%s\n", Line(now, false).c_str());
    }
    std::fflush(stderr);
  }

  // Ends a bar line left open (call before printing anything else).
  void Finish() {
    std::lock_guard lock(mu_);
    EndLine();
  }

 private:
  void EndLine() {
    if (!line_open_) return;
    std::fputc('\n', stderr);
    std::fflush(stderr);
    line_open_ = false;
  }

  std::string Line(Clock::time_point now, bool bar) const {
    const double elapsed = Seconds(now - phase_start_);
    const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0;
    std::string line = phase_;
    if (total_ == 0) {
      return fmt::format("{}{} {} ({}/s)", line, bar ? "" : ":", done_, HumanCount(rate));
    }
    const uint64_t done = std::min(done_, total_);
    const double fraction = static_cast<double>(done) / static_cast<double>(total_);
    if (bar) {
      constexpr size_t kWidth = 30;
      const auto filled = static_cast<size_t>(fraction * kWidth);
      line += fmt::format(" [{}{}]", std::string(filled, '#'), std::string(kWidth - filled, '.'));
    } else {
      line += ":";
    }
    // Rounded down, so 100 % means done.
    line += fmt::format(" {:3}% {}/{} {}/s", done * 100 / total_, done, total_, HumanCount(rate));
    if (done >= total_) {
      line += " in " + HumanDuration(elapsed);
    } else if (rate > 0) {
      line += " ETA " + HumanDuration(static_cast<double>(total_ - done) / rate);
    }
    return line;
  }

  ProgressStyle style_;
  std::mutex mu_;
  // All guarded by mu_.
  std::string phase_;
  bool started_ = false;
  bool finished_ = false;   // this phase's 100 % line was drawn
  bool line_open_ = false;  // a bar line is on screen without its newline
  uint64_t done_ = 0;
  uint64_t total_ = 0;
  int last_decile_ = 0;
  Clock::time_point phase_start_;
  Clock::time_point last_draw_;
  Clock::time_point last_update_ = Clock::now();  // the construction time before any report
};

// Prints "skeg build: <text>" on stderr.
void Say(const std::string& text) {
  std::fprintf(stderr, "%.*s: %s\n", static_cast<int>(kTool.size()), kTool.data(), text.c_str());
  std::fflush(stderr);
}

// mkdir -p.
Status CreateDirs(platform::Env* env, const std::string& path) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i < path.size() && path[i] != '/') continue;
    SKEG_RETURN_IF_ERROR(env->CreateDir(path.substr(0, i)));
  }
  return Status::Ok();
}

// Bytes of the regular files under `path` (0 when it does not exist).
uint64_t TreeBytes(platform::Env* env, const std::string& path) {
  auto entries = env->ListDir(path);
  if (!entries) {
    auto size = env->FileSize(path);
    return size ? *size : 0;
  }
  uint64_t total = 0;
  for (const std::string& name : *entries) total += TreeBytes(env, platform::JoinPath(path, name));
  return total;
}

uint64_t PeakRssBytes() {
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<uint64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

// One decimal u64 per line (surrounding blanks and a final newline allowed); exactly `rows` of
// them, all distinct. Streams the file in 1 MiB reads.
Result<std::vector<uint64_t>> ReadIds(platform::Env* env, const std::string& path, size_t rows) {
  SKEG_ASSIGN_OR_RETURN(auto file, env->OpenFile(path, platform::OpenOptions{}));
  std::vector<uint64_t> ids;
  ids.reserve(rows);
  const std::string where = "ids file '" + path + "'";
  size_t line_no = 0;
  const auto parse_line = [&](std::string_view line) -> Status {
    ++line_no;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.remove_suffix(1);
    }
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    uint64_t id = 0;
    const auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), id);
    if (line.empty() || ec != std::errc() || ptr != line.data() + line.size()) {
      return Status::InvalidArgument(
          fmt::format("{} line {}: '{}' is not an unsigned 64-bit integer", where, line_no,
                      line.substr(0, 40)));
    }
    if (ids.size() == rows) {
      return Status::InvalidArgument(
          fmt::format("{} has more ids than the input has rows ({})", where, rows));
    }
    ids.push_back(id);
    return Status::Ok();
  };
  std::string pending;
  std::vector<char> buf(1 << 20);
  uint64_t offset = 0;
  while (true) {
    SKEG_ASSIGN_OR_RETURN(size_t got, file->ReadAt(offset, buf.size(), buf.data()));
    if (got == 0) break;
    offset += got;
    pending.append(buf.data(), got);
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      SKEG_RETURN_IF_ERROR(parse_line(std::string_view(pending).substr(start, nl - start)));
    }
    pending.erase(0, start);
  }
  if (!pending.empty()) SKEG_RETURN_IF_ERROR(parse_line(pending));
  if (ids.size() != rows) {
    return Status::InvalidArgument(
        fmt::format("{} has {} ids but the input has {} rows", where, ids.size(), rows));
  }
  std::vector<uint64_t> sorted = ids;
  std::sort(sorted.begin(), sorted.end());
  auto dup = std::adjacent_find(sorted.begin(), sorted.end());
  if (dup != sorted.end()) {
    return Status::InvalidArgument(fmt::format("{}: id {} appears more than once", where, *dup));
  }
  return ids;
}

// Picks the distance kernels as the server does (the best level, or a lower one named by
// SKEG_SIMD).
Status SelectKernels() {
  const char* simd_override = std::getenv("SKEG_SIMD");
  auto simd = platform::SelectSimdLevel(platform::DetectCpu(),
                                        simd_override != nullptr ? simd_override : "");
  if (!simd) return simd.error().WithContext("SKEG_SIMD");
  return index::SetSimdLevel(*simd).WithContext("SKEG_SIMD");
}

void ConfigureLogging() {
  // The store logs recovery details at info level; a build shows only warnings and errors.
  auto logger = std::make_shared<spdlog::logger>(
      "skeg-build", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  logger->set_level(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
}

// Wraps a Result-returning parser into a CLI11 validator whose message is ours.
template <typename Fn>
CLI::Validator Checked(Fn fn) {
  return CLI::Validator(
      [fn](std::string& value) -> std::string {
        Status status = internal::ToStatus(fn(value));
        return status.ok() ? std::string() : std::string(status.message());
      },
      "");
}

const std::vector<std::pair<std::string, ProgressStyle>> kProgressStyles = {
    {"auto", ProgressStyle::kAuto},
    {"bar", ProgressStyle::kBar},
    {"lines", ProgressStyle::kLines},
    {"off", ProgressStyle::kOff}};

constexpr std::string_view kFooter = R"(Input formats (chosen by extension, case-insensitive):
  .fvecs  per row: i32 dim, then dim f32 (texmex)
  .bvecs  per row: i32 dim, then dim u8 (texmex)
  .npy    a 2-D C-order NumPy array of <f4, <f8 or |u1 (converted to f32)
The file is streamed, never loaded whole. The index is a disk-backend (Vamana) index in the data
directory DIR (created if absent; other indexes and keys in it are kept). Serve it with
  skeg --mode serve --data-dir DIR
Exit codes: 0 built, 1 build failed, 2 bad command line.

Example:
  skeg build --input base.fvecs --output /srv/skeg --name sift --metric l2 --R 64 --L 128
)";

}  // namespace

Result<ParsedBuildCommandLine> ParseBuildCommandLine(int argc, const char* const* argv) {
  ParsedBuildCommandLine parsed;
  BuildOptions& out = parsed.options;
  std::string kind = "tq2";
  std::string tier = "tq2";
  std::string metric = "cosine";
  std::string memory = "0";
  std::string durability = "kernel";
  std::string progress = "auto";

  CLI::App app(
      "skeg build: builds a disk (Vamana) vector index from a .npy, .fvecs or .bvecs "
      "file into a skeg data directory, for `skeg --mode serve`",
      std::string(kTool));
  app.get_formatter()->column_width(32);
  app.footer(std::string(kFooter));
  app.add_option("--input", out.input, "Vector file: .npy, .fvecs or .bvecs")
      ->type_name("FILE")
      ->required();
  app.add_option("--output", out.output,
                 "skeg data directory to build into (created if absent; may hold other indexes)")
      ->type_name("DIR")
      ->required();
  app.add_option("--name", out.name, "Name of the new index (must not exist in DIR)")
      ->type_name("NAME")
      ->required()
      ->check(Checked([](const std::string& v) { return index::ValidateIndexName(v); }));
  app.add_option("--kind", kind,
                 "Navigation code stored with each node: tq2|tq1|tq4|int8|binary|pq, or f32 "
                 "for the --tier code")
      ->type_name("KIND")
      ->capture_default_str()
      ->check(Checked([](const std::string& v) { return index::ParseVectorKind(v); }));
  app.add_option("--tier", tier, "Navigation code of a kind f32 index: int8|tq1|tq2|tq4|pq")
      ->type_name("QUANTIZER")
      ->capture_default_str()
      ->check(CLI::IsMember({"int8", "tq1", "tq2", "tq4", "pq"}));
  app.add_option("--metric", metric, "Distance: cosine|l2|ip")
      ->type_name("METRIC")
      ->capture_default_str()
      ->check(Checked([](const std::string& v) { return index::ParseMetric(v); }));
  app.add_option("--R", out.r, "Graph degree R (maximum neighbours per node)")
      ->type_name("N")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1024u));
  app.add_option("--L", out.l, "Build candidate list size L")
      ->type_name("N")
      ->capture_default_str()
      ->check(CLI::Range(1u, 65536u));
  app.add_option("--alpha", out.alpha, "RobustPrune alpha of the second pass")
      ->type_name("X")
      ->capture_default_str()
      ->check(CLI::Range(1.0f, 16.0f));
  app.add_option("--build-memory-bytes", memory,
                 "Memory budget of the build; larger inputs are built in partitions (0 = the "
                 "builder's default; units K/KiB M/MiB G/GiB = 1024^n, KB/MB/GB = 1000^n)")
      ->type_name("BYTES")
      ->capture_default_str()
      ->check(Checked([](const std::string& v) { return ParseByteSize(v); }));
  app.add_option("--threads", out.threads, "Build threads (0 = all cores)")
      ->type_name("N")
      ->capture_default_str()
      ->check(CLI::Range(0u, 4096u));
  app.add_option("--ids", out.ids_file,
                 "File of ids, one decimal u64 per line, one per input row (default: the row "
                 "numbers 0..n-1)")
      ->type_name("FILE");
  app.add_option("--durability", durability,
                 "Durability tier of the data directory's writes: relaxed|kernel|power-loss "
                 "(the store is synced at the end either way)")
      ->type_name("TIER")
      ->capture_default_str()
      ->check(Checked([](const std::string& v) { return storage::ParseDurability(v); }));
  app.add_option("--progress", progress,
                 "auto (a bar on a terminal, else a line per 10 %), bar, lines or off")
      ->type_name("STYLE")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "bar", "lines", "off"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    parsed.print_and_exit = app.help();
    return parsed;
  } catch (const CLI::ParseError& e) {
    return Status::InvalidArgument(e.what());
  } catch (const std::exception& e) {
    return Status::InvalidArgument(e.what());
  }
  SKEG_ASSIGN_OR_RETURN(out.kind, index::ParseVectorKind(kind));
  SKEG_ASSIGN_OR_RETURN(out.tier, index::ParseQuantKind(tier));
  SKEG_ASSIGN_OR_RETURN(out.metric, index::ParseMetric(metric));
  SKEG_ASSIGN_OR_RETURN(out.build_memory_bytes, ParseByteSize(memory));
  SKEG_ASSIGN_OR_RETURN(out.durability, storage::ParseDurability(durability));
  for (const auto& [word, style] : kProgressStyles) {
    if (word == progress) out.progress = style;
  }
  if (out.input.empty()) return Status::InvalidArgument("--input must not be empty");
  if (out.output.empty()) return Status::InvalidArgument("--output must not be empty");
  return parsed;
}

Status RunBuild(const BuildOptions& options) {
  const Clock::time_point start = Clock::now();
  platform::Env* env = platform::Env::Default();
  SKEG_RETURN_IF_ERROR(SelectKernels());

  // 1. The input and the ids, before the data directory is touched.
  SKEG_ASSIGN_OR_RETURN(std::unique_ptr<index::vamana::VectorFile> input,
                        index::vamana::VectorFile::Open(env, options.input));
  Say(fmt::format("input {}: {}", options.input, input->Describe()));
  if (input->size() == 0)
    return Status::InvalidArgument("input '" + options.input + "' has no rows");
  std::vector<uint64_t> ids;
  if (!options.ids_file.empty()) {
    SKEG_ASSIGN_OR_RETURN(ids, ReadIds(env, options.ids_file, input->size()));
  }
  index::IndexSpec spec;
  spec.name = options.name;
  spec.dim = static_cast<uint32_t>(std::min<size_t>(input->dim(), UINT32_MAX));
  spec.kind = options.kind;
  spec.backend = index::Backend::kDisk;
  spec.metric = options.metric;
  spec.m = options.r;
  spec.ef_construction = options.l;
  spec.alpha = options.alpha;
  SKEG_RETURN_IF_ERROR(spec.Validate().WithContext("input '" + options.input + "'"));

  // 2. The data directory, opened as the server opens it.
  SKEG_RETURN_IF_ERROR(CreateDirs(env, options.output));
  storage::StoreOptions store_options;
  store_options.data_dir = options.output;
  store_options.env = env;
  store_options.durability = options.durability;
  store_options.create_if_missing = true;
  SKEG_ASSIGN_OR_RETURN(std::unique_ptr<storage::Store> store, storage::Store::Open(store_options));
  const std::string index_dir = platform::JoinPath(options.output, "indexes");
  SKEG_RETURN_IF_ERROR(env->CreateDir(index_dir));
  const uint64_t index_bytes_before = TreeBytes(env, index_dir);

  index::CollectionOptions co;
  co.store = store.get();
  co.env = env;
  co.index_dir = index_dir;
  co.default_tier = options.tier;
  co.build_memory_bytes = options.build_memory_bytes;
  co.build_threads = options.threads;
  co.background_merge = false;
  Status status;
  {
    auto opened = index::Collection::Open(co);
    if (!opened) {
      status = opened.error();
    } else {
      std::unique_ptr<index::Collection> collection = std::move(opened).value();
      status = collection->Create(spec);
      if (status.code() == StatusCode::kAlreadyExists) {
        status = Status::AlreadyExists(
            fmt::format("{} in {} (choose another --name)", status.message(), options.output));
      }
      if (status.ok()) {
        Say(fmt::format(
            "building index '{}' in {}: disk backend, kind {}{}, metric {}, R={} L={} "
            "alpha={}, memory budget {}, threads {}",
            spec.name, options.output, index::VectorKindName(spec.kind),
            spec.kind == index::VectorKind::kF32
                ? fmt::format(" (navigation code {})", index::QuantKindName(options.tier))
                : "",
            index::MetricName(spec.metric), spec.m, spec.ef_construction, spec.alpha,
            options.build_memory_bytes == 0 ? std::string("builder default")
                                            : FormatByteSize(options.build_memory_bytes),
            options.threads == 0
                ? fmt::format("{} (all cores)", std::thread::hardware_concurrency())
                : std::to_string(options.threads)));
        ProgressPrinter printer(options.progress);
        index::BulkLoadOptions load;
        load.progress = [&printer](std::string_view phase, uint64_t done, uint64_t total) {
          printer.Update(phase, done, total);
        };
        status = collection->BulkLoad(spec.name, *input, ids, load);
        printer.Finish();
        if (!status.ok()) {
          // Leave the directory as it was: a retry with the same name must not find a
          // half-built index.
          Status dropped = collection->Drop(spec.name);
          if (!dropped.ok()) {
            Say("warning: could not drop the half-built index: " + dropped.ToString());
          }
        }
      }
    }
  }
  Status closed = store->Close();
  SKEG_RETURN_IF_ERROR(status);
  SKEG_RETURN_IF_ERROR(closed.WithContext("closing " + options.output));

  const double seconds = Seconds(Clock::now() - start);
  const uint64_t index_bytes = TreeBytes(env, index_dir) - index_bytes_before;
  Say(fmt::format(
      "built index '{}' in {}: n={} dim={} in {:.2f} s ({} vectors/s); peak RSS {}; index files "
      "{} ({} bytes)",
      spec.name, options.output, input->size(), input->dim(), seconds,
      HumanCount(seconds > 0 ? static_cast<double>(input->size()) / seconds : 0),
      HumanBytes(PeakRssBytes()), HumanBytes(index_bytes), index_bytes));
  return Status::Ok();
}

int BuildToolMain(int argc, char** argv) {
  const int name_len = static_cast<int>(kTool.size());
  auto parsed = ParseBuildCommandLine(argc, argv);
  if (!parsed) {
    std::fprintf(stderr, "%.*s: error: %.*s\n", name_len, kTool.data(),
                 static_cast<int>(parsed.error().message().size()),
                 parsed.error().message().data());
    std::fprintf(stderr, "Run '%.*s --help' for the list of flags.\n", name_len, kTool.data());
    return 2;
  }
  if (!parsed->print_and_exit.empty()) {
    std::fputs(parsed->print_and_exit.c_str(), stdout);
    return 0;
  }
  ConfigureLogging();
  Status status = RunBuild(parsed->options);
  spdlog::default_logger()->flush();
  if (!status.ok()) {
    std::fprintf(stderr, "%.*s: error: %.*s\n", name_len, kTool.data(),
                 static_cast<int>(status.message().size()), status.message().data());
    return 1;
  }
  return 0;
}

}  // namespace skeg::server
