// Metrics registry and Prometheus text exposition.
//
// Each component registers its metrics once, when it is built, and keeps the returned
// pointers; updating a counter or histogram is a relaxed atomic add (no lock, no allocation).
// Gauges are callbacks evaluated when /metrics is scraped, so they are always live (never a
// value refreshed by some command).
//
// Naming: a metric family is identified by its name; every registration of that name must use
// the same type (counter, gauge, histogram), the same help text and, for histograms, the same
// bucket bounds. Breaking that rule, an invalid metric or label name, a repeated label name,
// a histogram label called "le", or registering a callback twice for the same name and label
// set are programming errors: the process aborts through SKEG_CHECK with a message naming the
// metric. Label order does not matter: {a,b} and {b,a} are the same series (rendered sorted by
// label name).
//
// Ownership: the Registry owns every metric; pointers it returns stay valid for its lifetime.
// Thread-safety: registration and rendering take an internal mutex; Counter::Inc and
// Histogram::Observe are lock-free and may be called from any thread. Gauge callbacks run on
// the scraping thread and must be thread-safe themselves.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace skeg::telemetry {

// Label set, e.g. {{"cmd", "get"}}. Names follow Prometheus rules ([a-zA-Z_][a-zA-Z0-9_]*).
using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// Cumulative histogram with fixed upper bounds (seconds for latencies).
//
// A value v lands in the first bucket whose upper bound b satisfies v <= b (Prometheus "le"
// semantics: a value equal to a bound counts in that bound's bucket), or in the implicit +Inf
// bucket. The sum is kept in integer millionths of the unit (microseconds for seconds), so it
// is exact up to that resolution and never drifts; each observation is rounded to it. NaN
// observations are ignored.
// Thread-safety: Observe() is lock-free (two relaxed atomic adds) and may race with readers;
// a reader may see an observation's bucket but not yet its sum.
class Histogram {
 public:
  // `bounds` strictly ascending and finite (SKEG_CHECKed); an implicit +Inf bucket follows.
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);
  const std::vector<double>& bounds() const { return bounds_; }
  // Per-bucket (non-cumulative) counts, bounds().size() + 1 entries (the last is +Inf).
  std::vector<uint64_t> BucketCounts() const;
  // Sum of the observed values, at the resolution of 1e-6.
  double sum() const;
  // Number of observations: the total of BucketCounts().
  uint64_t count() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  // Sum in millionths of the unit, as two's complement (negative observations wrap and come
  // back when read as int64_t).
  std::atomic<uint64_t> sum_micros_{0};
};

// Default latency buckets: 10 us .. 10 s.
std::vector<double> LatencyBuckets();

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Returns the counter `name`{labels}, creating it on first use; later calls with the same
  // name and labels return the same pointer. The same name must always be registered with
  // the same help text and type.
  Counter* GetCounter(const std::string& name, const std::string& help, const Labels& labels = {});
  // Same for a histogram; `bounds` must equal those of the family's first registration.
  Histogram* GetHistogram(const std::string& name, const std::string& help,
                          const Labels& labels = {}, std::vector<double> bounds = LatencyBuckets());
  // Registers a live gauge: `fn` is called at every scrape, on the scraping thread, without
  // the registry's mutex held (so it may take its own locks, but must be thread-safe).
  // REQUIRES: everything `fn` captures outlives the last RenderPrometheus() call.
  // A second callback for the same name and labels is a programming error.
  void AddGauge(const std::string& name, const std::string& help, const Labels& labels,
                std::function<double()> fn);
  // Same, exposed with Prometheus type "counter" (for monotonic values owned elsewhere, such
  // as the value log's commit-group count). May share a family with GetCounter() series.
  void AddCounterCallback(const std::string& name, const std::string& help, const Labels& labels,
                          std::function<double()> fn);

  // Prometheus text exposition format 0.0.4, families sorted by name, series sorted by label
  // set. Values print as the shortest text that parses back to the same double ("+Inf",
  // "-Inf", "NaN" for the special values); counters and bucket counts print as integers.
  std::string RenderPrometheus() const;

 private:
  struct Family;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Family>> families_;
};

// Resident memory of this process from /proc/self/status: RssAnon and RssFile (+ RssShmem
// counted as file-backed), in bytes. Zeros where unavailable.
struct RssBytes {
  uint64_t anon = 0;
  uint64_t file = 0;
};
RssBytes ReadRss();

// Number of file descriptors this process has open (entries of /proc/self/fd, not counting
// the one used to list them). 0 where unavailable.
uint64_t CountOpenFds();

}  // namespace skeg::telemetry
