// Test helpers for the native codec tests: the shared spec fixture (frames.json, also read by
// the Python client's tests) and hex helpers. Test-only; not part of the library.
#pragma once

#include <cctype>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace skeg::protocol::native::testing {

// "4b56 01" -> "\x4b\x56\x01" (whitespace ignored). Aborts the test on odd or bad digits.
inline std::string Unhex(std::string_view hex) {
  std::string digits;
  for (char c : hex) {
    if (!std::isspace(static_cast<unsigned char>(c))) digits.push_back(c);
  }
  EXPECT_EQ(digits.size() % 2, 0u) << hex;
  std::string out;
  for (size_t i = 0; i + 1 < digits.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(digits.substr(i, 2), nullptr, 16)));
  }
  return out;
}

inline std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    out.push_back(kDigits[(static_cast<unsigned char>(c) >> 4) & 0xF]);
    out.push_back(kDigits[static_cast<unsigned char>(c) & 0xF]);
  }
  return out;
}

struct FixtureFrame {
  std::string name;
  std::string kind;    // "request" / "response"
  std::string shape;   // responses: "empty", "value", ...
  std::string expect;  // malformed: "fatal", "invalid_request", "need_more", "ok"
  bool encode = true;
  std::string bytes;
};

struct Fixture {
  std::map<std::string, FixtureFrame> frames;
  std::map<std::string, FixtureFrame> malformed;
};

// Loads clients/python/tests/frames.json (path baked in by CMake). Non-throwing parse.
inline const Fixture& LoadFixture() {
  static const Fixture fixture = [] {
    Fixture f;
    std::ifstream in(SKEG_NATIVE_FRAMES_JSON);
    std::stringstream text;
    text << in.rdbuf();
    const auto json = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(json.is_discarded()) << "cannot parse " << SKEG_NATIVE_FRAMES_JSON;
    if (json.is_discarded()) return f;
    for (const char* section : {"frames", "malformed"}) {
      for (const auto& item : json[section]) {
        FixtureFrame frame;
        frame.name = item.value("name", "");
        frame.kind = item.value("kind", "");
        frame.shape = item.value("shape", "");
        frame.expect = item.value("expect", "");
        frame.encode = item.value("encode", true);
        frame.bytes = Unhex(item.value("hex", ""));
        (std::string_view(section) == "frames" ? f.frames : f.malformed)[frame.name] = frame;
      }
    }
    return f;
  }();
  return fixture;
}

}  // namespace skeg::protocol::native::testing
