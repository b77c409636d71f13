#include "testing/temp_dir.h"

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace skeg::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/skeg-test-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) std::abort();
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string SharedDataDir() {
  if (const char* env = std::getenv("SKEG_SHARED_DATA"); env && *env) return env;
  std::filesystem::path p = std::filesystem::path(SKEG_SOURCE_DIR) / ".." / "shared" / "data";
  std::error_code ec;
  if (std::filesystem::exists(p, ec)) return std::filesystem::canonical(p, ec).string();
  return "";
}

}  // namespace skeg::testing
