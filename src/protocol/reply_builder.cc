#include "protocol/reply_builder.h"

#include <string>

#include "protocol/errors.h"

namespace skeg::protocol {

void ReplyBuilder::WriteStatusError(const Status& status) {
  const std::string text = ErrorText(status);
  WriteError(text);
}

void ReplyBuilder::BulkArray(std::span<const std::string_view> values) {
  ArrayStart(values.size());
  for (std::string_view v : values) Bulk(v);
}

}  // namespace skeg::protocol
