// libFuzzer target for index/filter (the FILTER expression parser and payload attributes).
//
// Input layout: the bytes up to the first NUL are a FILTER expression, the bytes after it a
// payload (no NUL: the whole input is both). Checks, each a crash on failure:
//   * parsing and evaluation never crash, hang or read out of bounds (ASan/UBSan), and the
//     parse tree stays proportional to the input;
//   * a parse error always carries a reason;
//   * "(e)" matches exactly what e matches and "NOT (e)" exactly the opposite, whenever the
//     wrapped expression still fits the depth limit;
//   * payload parsing yields at most one attribute per whitespace-separated token.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "index/filter/filter.h"

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string_view expr = input.substr(0, nul);
  const std::string_view payload = nul == std::string_view::npos ? input : input.substr(nul + 1);

  std::vector<skeg::index::PayloadToken> tokens;
  skeg::index::ParsePayload(payload, &tokens);
  Check(tokens.size() <= payload.size() / 2 + 1);

  skeg::Result<skeg::index::Filter> f = skeg::index::Filter::Parse(expr);
  if (!f.ok()) {
    Check(!f.status().message().empty());
    return 0;
  }
  Check(f->node_count() >= 1 && f->node_count() <= expr.size());
  const bool match = f->Matches(tokens);
  Check(f->Matches(tokens) == match);

  const std::string wrapped = "(" + std::string(expr) + ")";
  skeg::Result<skeg::index::Filter> w = skeg::index::Filter::Parse(wrapped);
  if (w.ok()) Check(w->Matches(tokens) == match);
  const std::string negated = "NOT (" + std::string(expr) + ")";
  skeg::Result<skeg::index::Filter> n = skeg::index::Filter::Parse(negated);
  if (n.ok()) Check(n->Matches(tokens) == !match);
  return 0;
}
