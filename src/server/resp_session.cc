#include "server/resp_session.h"

#include "server/command/engine.h"

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
    // A pipelined request behind this one: start loading its key's directory slot now, so
    // its lookup does not stall (the cache miss overlaps this request's work).
    if (const std::string_view next = protocol::resp::RespParser::PeekKey(rest.substr(r.consumed));
        !next.empty()) {
      dispatcher_->engine()->store()->PrefetchKey(next);
    }
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

}  // namespace skeg::server
