#include "telemetry/metrics.h"

#include <dirent.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string_view>

#include "common/check.h"

namespace skeg::telemetry {

namespace {

enum class Type : uint8_t { kCounter, kGauge, kHistogram };

std::string_view TypeName(Type type) {
  switch (type) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// Registration mistakes are bugs in the caller: print which metric before aborting, since
// SKEG_CHECK alone only names the condition.
void CheckRegistration(bool registration_is_consistent, const std::string& name,
                       std::string_view why) {
  if (registration_is_consistent) return;
  std::fprintf(stderr, "skeg telemetry: metric \"%s\": %.*s\n", name.c_str(),
               static_cast<int>(why.size()), why.data());
  SKEG_CHECK(registration_is_consistent);
}

bool IsValidName(std::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// Returns `labels` sorted by name (the series key), aborting on invalid or repeated names.
Labels Canonical(const std::string& metric, Labels labels, bool is_histogram) {
  std::sort(labels.begin(), labels.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < labels.size(); ++i) {
    const std::string& label = labels[i].first;
    CheckRegistration(IsValidName(label, /*allow_colon=*/false) && label.rfind("__", 0) != 0,
                      metric, "invalid label name \"" + label + "\"");
    CheckRegistration(i == 0 || labels[i - 1].first != label, metric,
                      "label \"" + label + "\" given twice");
    CheckRegistration(!is_histogram || label != "le", metric,
                      "histograms may not have a label named \"le\"");
  }
  return labels;
}

// Shortest text that parses back to `v`, laid out like Go's strconv.FormatFloat(v, 'g', -1, 64)
// (what the Prometheus Go client prints): exponent form when the decimal exponent is below -4
// or at least 6 ("1e-05", "1.234567e+06"), plain otherwise ("0.0001", "123456"). Matching it
// keeps histogram "le" label values identical to other exporters'.
void AppendDouble(std::string* out, double v) {
  if (std::isnan(v)) {
    out->append("NaN");
    return;
  }
  if (std::isinf(v)) {
    out->append(v > 0 ? "+Inf" : "-Inf");
    return;
  }
  // Big enough for either form: the fixed one is used only for exponents in [-4, 6).
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  SKEG_DCHECK(ec == std::errc());
  std::string_view sci(buf, static_cast<size_t>(end - buf));  // "-1.5e-07"
  size_t e = sci.find('e');
  int exponent = 0;
  std::string_view digits = sci.substr(e + 2);
  std::from_chars(digits.data(), digits.data() + digits.size(), exponent);
  if (sci[e + 1] == '-') exponent = -exponent;
  if (exponent < -4 || exponent >= 6) {
    out->append(sci);
  } else {
    auto fixed = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
    SKEG_DCHECK(fixed.ec == std::errc());
    out->append(buf, fixed.ptr);
  }
}

void AppendUint(std::string* out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  SKEG_DCHECK(ec == std::errc());
  out->append(buf, end);
}

// HELP text escapes backslash and newline; label values also escape the double quote.
void AppendEscaped(std::string* out, std::string_view text, bool escape_quote) {
  for (char c : text) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '"' && escape_quote) {
      out->append("\\\"");
    } else {
      out->push_back(c);
    }
  }
}

// Appends `name{labels}` (or `name{labels,le="..."}` when `le` is given) and a space.
void AppendSeriesName(std::string* out, std::string_view name, std::string_view suffix,
                      const Labels& labels, const double* le) {
  out->append(name);
  out->append(suffix);
  if (!labels.empty() || le != nullptr) {
    out->push_back('{');
    bool first = true;
    for (const auto& [key, value] : labels) {
      if (!first) out->push_back(',');
      first = false;
      out->append(key);
      out->append("=\"");
      AppendEscaped(out, value, /*escape_quote=*/true);
      out->push_back('"');
    }
    if (le != nullptr) {
      if (!first) out->push_back(',');
      out->append("le=\"");
      AppendDouble(out, *le);
      out->push_back('"');
    }
    out->push_back('}');
  }
  out->push_back(' ');
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Histogram

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    SKEG_CHECK(std::isfinite(bounds_[i]));
    SKEG_CHECK(i == 0 || bounds_[i - 1] < bounds_[i]);
  }
}

void Histogram::Observe(double value) {
  if (std::isnan(value)) return;
  // First bound >= value: "le" buckets are inclusive of their upper bound.
  size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) -
                                 bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  // Clamp so the conversion is defined for huge values and infinities; 9e12 units is far
  // beyond any latency or size this is used for.
  constexpr double kMaxUnits = 9e12;
  double micros = std::round(std::clamp(value, -kMaxUnits, kMaxUnits) * 1e6);
  sum_micros_.fetch_add(static_cast<uint64_t>(static_cast<int64_t>(micros)),
                        std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::BucketCounts() const {
  std::vector<uint64_t> counts(bounds_.size() + 1);
  for (size_t i = 0; i < counts.size(); ++i) {
    counts[i] = buckets_[i].load(std::memory_order_relaxed);
  }
  return counts;
}

double Histogram::sum() const {
  return static_cast<double>(static_cast<int64_t>(sum_micros_.load(std::memory_order_relaxed))) /
         1e6;
}

uint64_t Histogram::count() const {
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
  }
  return total;
}

std::vector<double> LatencyBuckets() {
  return {1e-5,  2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01,
          0.025, 0.05,   0.1,  0.25, 0.5,    1,    2.5,  5,      10};
}

// ---------------------------------------------------------------------------------------
// Registry

// Name, help, type and bounds never change after creation; `series` only grows (map nodes,
// and hence Series addresses, are stable) and is guarded by Registry::mu_.
struct Registry::Family {
  // One time series. Exactly one member is set, and none changes after registration, so a
  // scrape may read a Series without the registry mutex once it holds a pointer to it.
  struct Series {
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Histogram> histogram;
    std::function<double()> fn;
  };

  std::string help;
  Type type;
  std::vector<double> bounds;  // histograms only
  std::map<Labels, Series> series;
};

namespace {

// Finds or creates the family `name`, checking that it matches an earlier registration.
// REQUIRES: the registry mutex is held. (A template only because Registry::Family is private.)
template <typename FamilyT>
FamilyT* GetFamily(std::map<std::string, std::unique_ptr<FamilyT>>* families,
                   const std::string& name, const std::string& help, Type type,
                   const std::vector<double>* bounds) {
  CheckRegistration(IsValidName(name, /*allow_colon=*/true), name, "invalid metric name");
  auto it = families->find(name);
  if (it == families->end()) {
    auto family = std::make_unique<FamilyT>();
    family->help = help;
    family->type = type;
    if (bounds != nullptr) family->bounds = *bounds;
    it = families->emplace(name, std::move(family)).first;
  }
  FamilyT* family = it->second.get();
  CheckRegistration(family->type == type, name,
                    "registered as " + std::string(TypeName(family->type)) + ", now as " +
                        std::string(TypeName(type)));
  CheckRegistration(family->help == help, name,
                    "registered with help \"" + family->help + "\", now with \"" + help + "\"");
  CheckRegistration(bounds == nullptr || family->bounds == *bounds, name,
                    "registered with different histogram bounds");
  return family;
}

}  // namespace

// Out of line because Family is incomplete in the header.
Registry::Registry() = default;
Registry::~Registry() = default;

Counter* Registry::GetCounter(const std::string& name, const std::string& help,
                              const Labels& labels) {
  Labels key = Canonical(name, labels, /*is_histogram=*/false);
  std::lock_guard lock(mu_);
  Family* family = GetFamily(&families_, name, help, Type::kCounter, nullptr);
  Family::Series& series = family->series[std::move(key)];
  if (series.counter == nullptr) {
    CheckRegistration(!series.fn, name, "label set already registered as a counter callback");
    series.counter = std::make_unique<Counter>();
  }
  return series.counter.get();
}

Histogram* Registry::GetHistogram(const std::string& name, const std::string& help,
                                  const Labels& labels, std::vector<double> bounds) {
  Labels key = Canonical(name, labels, /*is_histogram=*/true);
  std::lock_guard lock(mu_);
  Family* family = GetFamily(&families_, name, help, Type::kHistogram, &bounds);
  Family::Series& series = family->series[std::move(key)];
  if (series.histogram == nullptr) series.histogram = std::make_unique<Histogram>(bounds);
  return series.histogram.get();
}

void Registry::AddGauge(const std::string& name, const std::string& help, const Labels& labels,
                        std::function<double()> fn) {
  SKEG_CHECK(fn != nullptr);
  Labels key = Canonical(name, labels, /*is_histogram=*/false);
  std::lock_guard lock(mu_);
  Family* family = GetFamily(&families_, name, help, Type::kGauge, nullptr);
  Family::Series& series = family->series[std::move(key)];
  CheckRegistration(!series.fn, name, "gauge callback registered twice for one label set");
  series.fn = std::move(fn);
}

void Registry::AddCounterCallback(const std::string& name, const std::string& help,
                                  const Labels& labels, std::function<double()> fn) {
  SKEG_CHECK(fn != nullptr);
  Labels key = Canonical(name, labels, /*is_histogram=*/false);
  std::lock_guard lock(mu_);
  Family* family = GetFamily(&families_, name, help, Type::kCounter, nullptr);
  Family::Series& series = family->series[std::move(key)];
  CheckRegistration(!series.fn && series.counter == nullptr, name,
                    "label set already registered for this counter");
  series.fn = std::move(fn);
}

std::string Registry::RenderPrometheus() const {
  // Collect pointers under the lock, then read values and run callbacks without it: a
  // callback may take locks of its own (Store::stats() does), and a component that
  // registers metrics while holding such a lock must not deadlock against a scrape.
  struct FamilyRef {
    const std::string* name;
    const Family* family;
    std::vector<std::pair<const Labels*, const Family::Series*>> series;
  };
  std::vector<FamilyRef> refs;
  {
    std::lock_guard lock(mu_);
    refs.reserve(families_.size());
    for (const auto& [name, family] : families_) {
      FamilyRef& ref = refs.emplace_back(FamilyRef{&name, family.get(), {}});
      ref.series.reserve(family->series.size());
      for (const auto& [labels, series] : family->series) {
        ref.series.emplace_back(&labels, &series);
      }
    }
  }

  std::string out;
  for (const FamilyRef& ref : refs) {
    const std::string& name = *ref.name;
    const Family& family = *ref.family;
    out.append("# HELP ").append(name).push_back(' ');
    AppendEscaped(&out, family.help, /*escape_quote=*/false);
    out.append("\n# TYPE ").append(name).push_back(' ');
    out.append(TypeName(family.type)).push_back('\n');
    for (const auto& [labels, series] : ref.series) {
      if (series->histogram != nullptr) {
        const Histogram& h = *series->histogram;
        std::vector<uint64_t> counts = h.BucketCounts();
        // _count is derived from the same snapshot as the buckets so that it always equals
        // the +Inf bucket, as Prometheus expects.
        uint64_t cumulative = 0;
        for (size_t i = 0; i < counts.size(); ++i) {
          cumulative += counts[i];
          double le =
              i < h.bounds().size() ? h.bounds()[i] : std::numeric_limits<double>::infinity();
          AppendSeriesName(&out, name, "_bucket", *labels, &le);
          AppendUint(&out, cumulative);
          out.push_back('\n');
        }
        AppendSeriesName(&out, name, "_sum", *labels, nullptr);
        AppendDouble(&out, h.sum());
        out.push_back('\n');
        AppendSeriesName(&out, name, "_count", *labels, nullptr);
        AppendUint(&out, cumulative);
        out.push_back('\n');
      } else {
        AppendSeriesName(&out, name, "", *labels, nullptr);
        if (series->counter != nullptr) {
          AppendUint(&out, series->counter->value());
        } else {
          AppendDouble(&out, series->fn());
        }
        out.push_back('\n');
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Process figures from /proc

RssBytes ReadRss() {
  RssBytes rss;
  std::FILE* f = std::fopen("/proc/self/status", "re");
  if (f == nullptr) return rss;
  char line[256];
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    // Lines look like "RssAnon:\t    1234 kB".
    uint64_t* target = nullptr;
    const char* rest = nullptr;
    for (auto [prefix, field] : {std::pair{"RssAnon:", &rss.anon}, std::pair{"RssFile:", &rss.file},
                                 std::pair{"RssShmem:", &rss.file}}) {
      size_t len = std::strlen(prefix);
      if (std::strncmp(line, prefix, len) == 0) {
        target = field;
        rest = line + len;
        break;
      }
    }
    if (target == nullptr) continue;
    while (*rest == ' ' || *rest == '\t') ++rest;
    uint64_t kib = 0;
    auto [end, ec] = std::from_chars(rest, line + std::strlen(line), kib);
    if (ec == std::errc() && end != rest) *target += kib * 1024;
  }
  std::fclose(f);
  return rss;
}

uint64_t CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  uint64_t n = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n > 0 ? n - 1 : 0;  // the directory stream's own descriptor
}

}  // namespace skeg::telemetry
