#include "server/resp_session.h"

#include <array>
#include <span>

#include "server/command/engine.h"
#include "storage/vlog/store.h"

namespace skeg::server {

RespSession::RespSession(Dispatcher* dispatcher, std::string addr, std::string laddr,
                         const SessionOptions& options)
    : dispatcher_(dispatcher),
      options_(options),
      parser_(options.parser),
      conn_(dispatcher->OpenConnection(std::move(addr), std::move(laddr))) {
  conn_->resp_builder = &builder_;
}

RespSession::~RespSession() { dispatcher_->CloseConnection(conn_.get()); }

RespSession::Outcome RespSession::Process(std::string* input, std::string* output) {
  builder_.set_output(output);
  conn_->clock_mark.reset();  // new input: the time before it arrived is not a request's
  size_t offset = 0;
  size_t prefetched_to = 0;  // requests before this input offset had their keys prefetched
  Outcome outcome = Outcome::kNeedInput;
  while (true) {
    const std::string_view rest = std::string_view(*input).substr(offset);
    const protocol::resp::ParseResult r = parser_.Parse(rest, &request_);
    if (r.status == protocol::resp::ParseStatus::kError) {
      builder_.Error("ERR " + std::string(parser_.error()));
      outcome = Outcome::kClose;
      break;
    }
    if (r.status == protocol::resp::ParseStatus::kNeedMore) {
      offset += r.consumed;
      break;
    }
    if (offset >= prefetched_to) prefetched_to = PrefetchWindow(*input, offset, r.consumed);
    // Dispatch before dropping the bytes: the request's views point into them.
    if (options_.defer_durability) {
      DeferredAcks deferred(&durability_ticket_);
      dispatcher_->Dispatch(request_, conn_.get(), &builder_);
    } else {
      dispatcher_->Dispatch(request_, conn_.get(), &builder_);
    }
    offset += r.consumed;
    if (output->size() > options_.output_limit_bytes) {
      outcome = Outcome::kAbort;
      break;
    }
    if (conn_->close_after_reply) {
      outcome = Outcome::kClose;
      break;
    }
    if (output->size() >= options_.yield_output_bytes) {
      outcome = Outcome::kYield;
      break;
    }
  }
  input->erase(0, offset);
  request_.Clear();
  builder_.set_output(&scratch_);
  return outcome;
}

size_t RespSession::PrefetchWindow(std::string_view input, size_t offset, size_t consumed) {
  std::array<std::string_view, storage::Store::kMaxPrefetchKeys> keys;
  size_t n = 0;
  if (request_.size() >= 2 && !request_[1].empty()) keys[n++] = request_[1];
  size_t pos = offset + consumed;
  while (n < keys.size() && pos < input.size()) {
    const protocol::resp::RespParser::Peeked next =
        protocol::resp::RespParser::Peek(input.substr(pos));
    if (next.size == 0) break;  // partial, inline or too long: the window ends here
    if (!next.key.empty()) keys[n++] = next.key;
    pos += next.size;
  }
  // A request alone has nothing to overlap its misses with: its own lookup takes them anyway.
  if (n >= 2) dispatcher_->engine()->store()->PrefetchKeys(std::span(keys.data(), n));
  return pos;
}

}  // namespace skeg::server
