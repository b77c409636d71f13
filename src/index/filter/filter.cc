#include "index/filter/filter.h"

#include <charconv>
#include <limits>
#include <optional>
#include <string>

#include "common/hash.h"

namespace skeg::index {
namespace {

// Seed separating keyword hashes from field hashes (not needed for correctness, but it keeps
// a field named like a keyword from sharing its bits).
constexpr uint64_t kKeywordSeed = 0x6b6579776f7264ULL;  // "keyword"

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::optional<int64_t> ParseInt(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int64_t v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

uint64_t KeywordHash(std::string_view s) { return HashKey(s, kKeywordSeed); }

bool EqualsIgnoreCaseAscii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 32);
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 32);
    if (x != y) return false;
  }
  return true;
}

}  // namespace

uint64_t FieldKey(std::string_view name) { return HashKey(name) & ~uint64_t{1}; }

void ParsePayload(std::string_view payload, std::vector<PayloadToken>* out) {
  size_t i = 0;
  while (i < payload.size()) {
    while (i < payload.size() && IsSpace(payload[i])) ++i;
    const size_t start = i;
    while (i < payload.size() && !IsSpace(payload[i])) ++i;
    const std::string_view token = payload.substr(start, i - start);
    const size_t eq = token.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    const std::string_view value = token.substr(eq + 1);
    PayloadToken t;
    t.field_and_type = FieldKey(token.substr(0, eq));
    if (std::optional<int64_t> n = ParseInt(value)) {
      t.field_and_type |= 1;
      t.value = static_cast<uint64_t>(*n);
    } else {
      t.value = KeywordHash(value);
    }
    out->push_back(t);
  }
}

// ---- parser ----------------------------------------------------------------------------------

// Recursive descent over the grammar in filter.h. Errors name the byte offset of the token.
class FilterParser {
 public:
  explicit FilterParser(std::string_view text) : text_(text) {}

  Result<Filter> Run() {
    if (text_.size() > kMaxFilterBytes) {
      return Status::InvalidArgument("expression longer than " + std::to_string(kMaxFilterBytes) +
                                     " bytes");
    }
    SKEG_RETURN_IF_ERROR(Next());
    if (tok_.kind == Kind::kEnd) return Status::InvalidArgument("empty expression");
    SKEG_ASSIGN_OR_RETURN(uint32_t root, ParseOr(0));
    if (tok_.kind != Kind::kEnd) return Unexpected("end of expression");
    f_.root_ = root;
    return std::move(f_);
  }

 private:
  enum class Kind : uint8_t { kEnd, kWord, kLParen, kRParen, kComma, kEq, kGt, kGe, kLt, kLe };
  struct Token {
    Kind kind = Kind::kEnd;
    bool quoted = false;
    std::string text;  // kWord: the unescaped word
    size_t offset = 0;
  };

  // Reads the next token into tok_.
  Status Next() {
    size_t i = pos_;
    while (i < text_.size() && IsSpace(text_[i])) ++i;
    tok_ = Token{};
    tok_.offset = i;
    if (i == text_.size()) {
      pos_ = i;
      return Status::Ok();
    }
    const char c = text_[i];
    const auto single = [&](Kind k, size_t len) {
      tok_.kind = k;
      pos_ = i + len;
      return Status::Ok();
    };
    switch (c) {
      case '(':
        return single(Kind::kLParen, 1);
      case ')':
        return single(Kind::kRParen, 1);
      case ',':
        return single(Kind::kComma, 1);
      case '=':
        // "==" is accepted as a synonym of "=".
        return single(Kind::kEq, i + 1 < text_.size() && text_[i + 1] == '=' ? 2 : 1);
      case '>':
        if (i + 1 < text_.size() && text_[i + 1] == '=') return single(Kind::kGe, 2);
        return single(Kind::kGt, 1);
      case '<':
        if (i + 1 < text_.size() && text_[i + 1] == '=') return single(Kind::kLe, 2);
        return single(Kind::kLt, 1);
      case '"': {
        std::string word;
        for (size_t j = i + 1; j < text_.size(); ++j) {
          char ch = text_[j];
          if (ch == '\\' && j + 1 < text_.size()) {
            word.push_back(text_[++j]);
          } else if (ch == '"') {
            tok_.kind = Kind::kWord;
            tok_.quoted = true;
            tok_.text = std::move(word);
            pos_ = j + 1;
            return Status::Ok();
          } else {
            word.push_back(ch);
          }
        }
        return Status::InvalidArgument("unterminated string at offset " + std::to_string(i));
      }
      default:
        break;
    }
    size_t j = i;
    while (j < text_.size() && !IsSpace(text_[j]) && !IsSpecial(text_[j])) ++j;
    tok_.kind = Kind::kWord;
    tok_.text.assign(text_.substr(i, j - i));
    pos_ = j;
    return Status::Ok();
  }

  static bool IsSpecial(char c) {
    return c == '(' || c == ')' || c == ',' || c == '=' || c == '<' || c == '>' || c == '"';
  }

  bool IsKeyword(std::string_view kw) const {
    return tok_.kind == Kind::kWord && !tok_.quoted && EqualsIgnoreCaseAscii(tok_.text, kw);
  }
  bool IsAnyKeyword() const {
    for (std::string_view kw : {"AND", "OR", "NOT", "IN", "BETWEEN", "EXISTS"}) {
      if (IsKeyword(kw)) return true;
    }
    return false;
  }

  std::string Describe() const {
    switch (tok_.kind) {
      case Kind::kEnd:
        return "end of expression";
      case Kind::kWord:
        return "'" + (tok_.text.size() > 32 ? tok_.text.substr(0, 32) + "..." : tok_.text) + "'";
      case Kind::kLParen:
        return "'('";
      case Kind::kRParen:
        return "')'";
      case Kind::kComma:
        return "','";
      case Kind::kEq:
        return "'='";
      case Kind::kGt:
        return "'>'";
      case Kind::kGe:
        return "'>='";
      case Kind::kLt:
        return "'<'";
      case Kind::kLe:
        return "'<='";
    }
    return "?";
  }

  Status Unexpected(std::string_view expected) const {
    if (tok_.kind == Kind::kEnd) {
      return Status::InvalidArgument("expected " + std::string(expected) +
                                     " but the expression ended");
    }
    return Status::InvalidArgument("expected " + std::string(expected) + " at offset " +
                                   std::to_string(tok_.offset) + ", got " + Describe());
  }

  uint32_t Add(const Filter::Node& node) {
    f_.nodes_.push_back(node);
    return static_cast<uint32_t>(f_.nodes_.size() - 1);
  }

  uint32_t AddParent(Filter::Op op, const std::vector<uint32_t>& children) {
    Filter::Node n;
    n.op = op;
    n.first = static_cast<uint32_t>(f_.children_.size());
    n.count = static_cast<uint32_t>(children.size());
    f_.children_.insert(f_.children_.end(), children.begin(), children.end());
    return Add(n);
  }

  Result<uint32_t> ParseOr(size_t depth) {
    if (depth >= kMaxFilterDepth) {
      return Status::InvalidArgument("nesting deeper than " + std::to_string(kMaxFilterDepth));
    }
    std::vector<uint32_t> children;
    SKEG_ASSIGN_OR_RETURN(uint32_t first, ParseAnd(depth));
    children.push_back(first);
    while (IsKeyword("OR")) {
      SKEG_RETURN_IF_ERROR(Next());
      SKEG_ASSIGN_OR_RETURN(uint32_t next, ParseAnd(depth));
      children.push_back(next);
    }
    return children.size() == 1 ? children[0] : AddParent(Filter::Op::kOr, children);
  }

  Result<uint32_t> ParseAnd(size_t depth) {
    std::vector<uint32_t> children;
    SKEG_ASSIGN_OR_RETURN(uint32_t first, ParseNot(depth));
    children.push_back(first);
    while (IsKeyword("AND")) {
      SKEG_RETURN_IF_ERROR(Next());
      SKEG_ASSIGN_OR_RETURN(uint32_t next, ParseNot(depth));
      children.push_back(next);
    }
    return children.size() == 1 ? children[0] : AddParent(Filter::Op::kAnd, children);
  }

  Result<uint32_t> ParseNot(size_t depth) {
    if (!IsKeyword("NOT")) return ParseAtom(depth);
    SKEG_RETURN_IF_ERROR(Next());
    SKEG_ASSIGN_OR_RETURN(uint32_t child, ParseAtom(depth));
    return AddParent(Filter::Op::kNot, {child});
  }

  Result<uint32_t> ParseAtom(size_t depth) {
    if (tok_.kind == Kind::kLParen) {
      SKEG_RETURN_IF_ERROR(Next());
      SKEG_ASSIGN_OR_RETURN(uint32_t inner, ParseOr(depth + 1));
      if (tok_.kind != Kind::kRParen) return Unexpected("')'");
      SKEG_RETURN_IF_ERROR(Next());
      return inner;
    }
    if (tok_.kind != Kind::kWord || IsAnyKeyword()) return Unexpected("a field name or '('");
    const std::string field = tok_.text;
    Filter::Node leaf;
    leaf.field = FieldKey(field);
    SKEG_RETURN_IF_ERROR(Next());
    const auto integer_after = [&](std::string_view what) -> Result<int64_t> {
      if (tok_.kind != Kind::kWord) return Unexpected("an integer after " + std::string(what));
      std::optional<int64_t> v = ParseInt(tok_.text);
      if (!v) {
        return Status::InvalidArgument("expected an integer after " + std::string(what) +
                                       " at offset " + std::to_string(tok_.offset) + ", got " +
                                       Describe());
      }
      SKEG_RETURN_IF_ERROR(Next());
      return *v;
    };
    constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
    constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
    leaf.op = Filter::Op::kBetween;
    switch (tok_.kind) {
      case Kind::kEq: {
        SKEG_RETURN_IF_ERROR(Next());
        if (tok_.kind != Kind::kWord) return Unexpected("a value after '='");
        SetValue(&leaf.is_int, &leaf.value);
        leaf.op = Filter::Op::kEq;
        SKEG_RETURN_IF_ERROR(Next());
        return Add(leaf);
      }
      case Kind::kGt:
      case Kind::kGe:
      case Kind::kLt:
      case Kind::kLe: {
        const Kind op = tok_.kind;
        const std::string what = Describe();
        SKEG_RETURN_IF_ERROR(Next());
        SKEG_ASSIGN_OR_RETURN(int64_t n, integer_after(what));
        leaf.lo = kMin;
        leaf.hi = kMax;
        if (op == Kind::kGt) {
          leaf.lo = n == kMax ? kMax : n + 1;
          if (n == kMax) leaf.hi = kMax - 1;  // empty range
        } else if (op == Kind::kGe) {
          leaf.lo = n;
        } else if (op == Kind::kLt) {
          leaf.hi = n == kMin ? kMin : n - 1;
          if (n == kMin) leaf.lo = kMin + 1;  // empty range
        } else {
          leaf.hi = n;
        }
        return Add(leaf);
      }
      default:
        break;
    }
    if (IsKeyword("EXISTS")) {
      SKEG_RETURN_IF_ERROR(Next());
      leaf.op = Filter::Op::kExists;
      return Add(leaf);
    }
    if (IsKeyword("BETWEEN")) {
      SKEG_RETURN_IF_ERROR(Next());
      SKEG_ASSIGN_OR_RETURN(leaf.lo, integer_after("BETWEEN"));
      if (!IsKeyword("AND")) return Unexpected("AND in BETWEEN a AND b");
      SKEG_RETURN_IF_ERROR(Next());
      SKEG_ASSIGN_OR_RETURN(leaf.hi, integer_after("BETWEEN a AND"));
      return Add(leaf);
    }
    if (IsKeyword("IN")) {
      SKEG_RETURN_IF_ERROR(Next());
      if (tok_.kind != Kind::kLParen) return Unexpected("'(' after IN");
      SKEG_RETURN_IF_ERROR(Next());
      leaf.op = Filter::Op::kIn;
      leaf.first = static_cast<uint32_t>(f_.values_.size());
      while (true) {
        if (tok_.kind != Kind::kWord) return Unexpected("a value in IN (...)");
        Filter::InValue v{};
        SetValue(&v.is_int, &v.value);
        f_.values_.push_back(v);
        ++leaf.count;
        SKEG_RETURN_IF_ERROR(Next());
        if (tok_.kind == Kind::kRParen) break;
        if (tok_.kind != Kind::kComma) return Unexpected("',' or ')' in IN (...)");
        SKEG_RETURN_IF_ERROR(Next());
      }
      SKEG_RETURN_IF_ERROR(Next());
      return Add(leaf);
    }
    return Unexpected("=, IN, >, >=, <, <=, BETWEEN or EXISTS after field '" +
                      (field.size() > 32 ? field.substr(0, 32) + "..." : field) + "'");
  }

  // The current word as a comparison value: an integer when it parses as one.
  void SetValue(bool* is_int, uint64_t* value) const {
    if (std::optional<int64_t> n = ParseInt(tok_.text)) {
      *is_int = true;
      *value = static_cast<uint64_t>(*n);
    } else {
      *is_int = false;
      *value = KeywordHash(tok_.text);
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
  Token tok_;
  Filter f_;
};

Result<Filter> Filter::Parse(std::string_view text) { return FilterParser(text).Run(); }

bool Filter::Matches(std::span<const PayloadToken> tokens) const { return Eval(root_, tokens); }

bool Filter::Eval(uint32_t index, std::span<const PayloadToken> tokens) const {
  const Node& n = nodes_[index];
  switch (n.op) {
    case Op::kOr:
      for (uint32_t i = 0; i < n.count; ++i) {
        if (Eval(children_[n.first + i], tokens)) return true;
      }
      return false;
    case Op::kAnd:
      for (uint32_t i = 0; i < n.count; ++i) {
        if (!Eval(children_[n.first + i], tokens)) return false;
      }
      return true;
    case Op::kNot:
      return !Eval(children_[n.first], tokens);
    case Op::kEq:
      for (const PayloadToken& t : tokens) {
        if (t.field() == n.field && t.is_int() == n.is_int && t.value == n.value) return true;
      }
      return false;
    case Op::kIn:
      for (const PayloadToken& t : tokens) {
        if (t.field() != n.field) continue;
        for (uint32_t i = 0; i < n.count; ++i) {
          const InValue& v = values_[n.first + i];
          if (t.is_int() == v.is_int && t.value == v.value) return true;
        }
      }
      return false;
    case Op::kBetween:
      for (const PayloadToken& t : tokens) {
        if (t.field() != n.field || !t.is_int()) continue;
        const auto v = static_cast<int64_t>(t.value);
        if (v >= n.lo && v <= n.hi) return true;
      }
      return false;
    case Op::kExists:
      for (const PayloadToken& t : tokens) {
        if (t.field() == n.field) return true;
      }
      return false;
  }
  return false;
}

}  // namespace skeg::index
