// In-process command runner for tests (STYLE.md item 37): Run({"SET", "k", "v"}) encodes the
// request as a client would, pushes it through a RespSession (parser, gate, handler, RESP
// encoder) and decodes the reply into a RespValue tree.
//
// Ownership: the runner owns its Engine and Dispatcher; the Store is the caller's. Extra
// clients (NewClient) share the runner's Engine, so multi-client behaviour (CLIENT LIST/KILL,
// atomicity) can be tested.
// Thread-safety: a Client is single-threaded; distinct Clients may run on distinct threads.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/command/dispatcher.h"
#include "server/command/engine.h"
#include "server/resp_session.h"

namespace skeg::server::testing {

// One decoded RESP2/RESP3 value.
struct RespValue {
  enum class Type {
    kSimple,
    kError,
    kInteger,
    kBulk,
    kNull,
    kArray,
    kMap,
    kSet,
    kPush,
    kDouble,
    kBool,
    kVerbatim,
    kBigNumber,
  };
  Type type = Type::kNull;
  std::string str;      // simple, error, bulk, verbatim (text after "txt:"), double, bignum
  int64_t integer = 0;  // integer; bool as 0/1
  std::vector<RespValue> elems;  // array/set/push elements; map as key, value, key, value

  bool is_error() const { return type == Type::kError; }
  bool is_null() const { return type == Type::kNull; }
  // A compact rendering for test failure messages and EXPECT_EQ on strings:
  //   simple "OK" -> "OK", error -> "ERR ...", integer -> "(integer) 5", bulk -> "\"v\"",
  //   null -> "(nil)", arrays -> "[a, b]", maps -> "{k: v}".
  std::string ToString() const;
};

// Decodes one value at `*pos` of `in`, advancing *pos. False when incomplete or malformed.
bool DecodeResp(std::string_view in, size_t* pos, RespValue* out);

class CommandRunner {
 public:
  // REQUIRES: `store` outlives the runner.
  // `registry` (optional, the caller's) receives the dispatcher's per-command metrics.
  explicit CommandRunner(storage::Store* store, EngineOptions options = {},
                         telemetry::Registry* registry = nullptr);
  ~CommandRunner();

  class Client {
   public:
    Client(Dispatcher* dispatcher, const SessionOptions& options);
    // Runs one command; the reply decoded.
    RespValue Run(const std::vector<std::string>& args);
    RespValue Run(std::initializer_list<std::string_view> args);
    // Feeds raw bytes; returns every complete reply and whether the session asked to close.
    std::vector<RespValue> Feed(std::string_view bytes, bool* closed = nullptr);
    ConnectionContext& conn() { return session_.conn(); }

   private:
    RespSession session_;
    std::string input_;
    std::string output_;
  };

  RespValue Run(std::initializer_list<std::string_view> args) { return main_->Run(args); }
  RespValue Run(const std::vector<std::string>& args) { return main_->Run(args); }
  Client& main() { return *main_; }
  std::unique_ptr<Client> NewClient(const SessionOptions& options = {});
  Engine& engine() { return *engine_; }
  Dispatcher& dispatcher() { return *dispatcher_; }

 private:
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<Client> main_;
};

}  // namespace skeg::server::testing
