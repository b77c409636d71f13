// Test helpers shared by every test binary.
#pragma once

#include <string>

namespace skeg::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its content when destroyed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Directory holding the shared datasets (../shared/data relative to the source tree), or
// $SKEG_SHARED_DATA when set. Empty when neither exists.
std::string SharedDataDir();

}  // namespace skeg::testing
