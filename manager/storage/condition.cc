// Recursive-descent parser and interpreter for storage conditions; grammar in condition.h.
#include "manager/storage/condition.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace hai::storage {
namespace {

constexpr size_t kMaxLength = 4096;
constexpr int kMaxDepth = 32;

using Node = Condition::Node;
using NodePtr = std::shared_ptr<const Node>;

enum class Tok { kEnd, kIdent, kString, kEq, kNe, kPrefix, kAnd, kOr, kLParen, kRParen };

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;  // identifier, or the unescaped string literal
  size_t pos = 0;    // 0-based byte offset
};

std::string Describe(const Token& t) {
  switch (t.kind) {
    case Tok::kEnd: return "end of condition";
    case Tok::kIdent: return absl::StrCat("'", t.text, "'");
    case Tok::kString: return "a string literal";
    case Tok::kEq: return "'=='";
    case Tok::kNe: return "'!='";
    case Tok::kPrefix: return "'^='";
    case Tok::kAnd: return "'&&'";
    case Tok::kOr: return "'||'";
    case Tok::kLParen: return "'('";
    case Tok::kRParen: return "')'";
  }
  return "?";
}

absl::Status ErrorAt(size_t pos, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("condition: column ", pos + 1, ": ", std::string(what)));
}

bool IsIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsIdentChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9') || c == '.'; }

absl::StatusOr<std::vector<Token>> Lex(std::string_view s) {
  std::vector<Token> out;
  size_t i = 0;
  auto two = [&](std::string_view op) { return s.substr(i, 2) == op; };
  while (i < s.size()) {
    const char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++i;
      continue;
    }
    Token t;
    t.pos = i;
    if (IsIdentStart(c)) {
      size_t j = i;
      while (j < s.size() && IsIdentChar(s[j])) ++j;
      t.kind = Tok::kIdent;
      t.text = std::string(s.substr(i, j - i));
      i = j;
    } else if (c == '"') {
      size_t j = i + 1;
      bool closed = false;
      while (j < s.size()) {
        const char d = s[j];
        if (d == '"') {
          closed = true;
          ++j;
          break;
        }
        if (d == '\0') return ErrorAt(j, "NUL byte in string literal");
        if (d == '\\') {
          if (j + 1 < s.size() && (s[j + 1] == '"' || s[j + 1] == '\\')) {
            t.text.push_back(s[j + 1]);
            j += 2;
            continue;
          }
          return ErrorAt(j, "only \\\" and \\\\ escapes are allowed in a string literal");
        }
        t.text.push_back(d);
        ++j;
      }
      if (!closed) return ErrorAt(i, "unterminated string literal");
      t.kind = Tok::kString;
      i = j;
    } else if (two("==")) {
      t.kind = Tok::kEq;
      i += 2;
    } else if (two("!=")) {
      t.kind = Tok::kNe;
      i += 2;
    } else if (two("^=")) {
      t.kind = Tok::kPrefix;
      i += 2;
    } else if (two("&&")) {
      t.kind = Tok::kAnd;
      i += 2;
    } else if (two("||")) {
      t.kind = Tok::kOr;
      i += 2;
    } else if (c == '(') {
      t.kind = Tok::kLParen;
      ++i;
    } else if (c == ')') {
      t.kind = Tok::kRParen;
      ++i;
    } else {
      const unsigned char u = static_cast<unsigned char>(c);
      return ErrorAt(i, u >= 0x20 && u < 0x7f
                            ? absl::StrCat("unexpected character '", std::string(1, c), "'")
                            : absl::StrCat("unexpected byte 0x", absl::Hex(u)));
    }
    out.push_back(std::move(t));
  }
  Token end;
  end.pos = s.size();
  out.push_back(end);
  return out;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> toks) : toks_(std::move(toks)) {}

  absl::StatusOr<NodePtr> ParseAll() {
    auto n = Or(0);
    if (!n.ok()) return n;
    if (Peek().kind != Tok::kEnd) {
      return ErrorAt(Peek().pos, absl::StrCat("expected '&&', '||' or end of condition, found ",
                                              Describe(Peek())));
    }
    return n;
  }

 private:
  const Token& Peek() const { return toks_[i_]; }
  const Token& Next() { return toks_[i_++]; }

  absl::StatusOr<NodePtr> Or(int depth) { return Chain(depth, Tok::kOr, Node::Kind::kOr); }

  absl::StatusOr<NodePtr> And(int depth) { return Chain(depth, Tok::kAnd, Node::Kind::kAnd); }

  // op-separated list of the next-tighter level; a single item stays unwrapped.
  absl::StatusOr<NodePtr> Chain(int depth, Tok op, Node::Kind kind) {
    std::vector<NodePtr> items;
    while (true) {
      auto item = kind == Node::Kind::kOr ? And(depth) : Primary(depth);
      if (!item.ok()) return item;
      items.push_back(*std::move(item));
      if (Peek().kind != op) break;
      Next();
    }
    if (items.size() == 1) return items[0];
    auto n = std::make_shared<Node>();
    n->kind = kind;
    n->children = std::move(items);
    return NodePtr(n);
  }

  absl::StatusOr<NodePtr> Primary(int depth) {
    const Token& t = Next();
    if (t.kind == Tok::kLParen) {
      if (depth + 1 > kMaxDepth) {
        return ErrorAt(t.pos, absl::StrCat("more than ", kMaxDepth, " nested parentheses"));
      }
      auto inner = Or(depth + 1);
      if (!inner.ok()) return inner;
      const Token& close = Next();
      if (close.kind != Tok::kRParen) {
        return ErrorAt(close.pos, absl::StrCat("expected ')' to close the '(' at column ",
                                               t.pos + 1, ", found ", Describe(close)));
      }
      return inner;
    }
    if (t.kind != Tok::kIdent) {
      return ErrorAt(t.pos, absl::StrCat("expected a field name or '(', found ", Describe(t)));
    }
    if (!IsKnownField(t.text)) {
      return ErrorAt(t.pos, absl::StrCat("unknown field '", t.text, "' (known: ",
                                         absl::StrJoin(FieldNames(), ", "), ")"));
    }
    const Token& op = Next();
    auto n = std::make_shared<Node>();
    n->field = t.text;
    switch (op.kind) {
      case Tok::kEq: n->kind = Node::Kind::kEq; break;
      case Tok::kNe: n->kind = Node::Kind::kNe; break;
      case Tok::kPrefix: n->kind = Node::Kind::kPrefix; break;
      default:
        return ErrorAt(op.pos,
                       absl::StrCat("expected '==', '!=' or '^=' after ", t.text, ", found ",
                                    Describe(op)));
    }
    const Token& lit = Next();
    if (lit.kind != Tok::kString) {
      return ErrorAt(lit.pos, absl::StrCat("expected a double-quoted string, found ",
                                           Describe(lit)));
    }
    n->literal = lit.text;
    return NodePtr(n);
  }

  std::vector<Token> toks_;
  size_t i_ = 0;
};

bool Eval(const Node& n, const Fields& fields) {
  switch (n.kind) {
    case Node::Kind::kAnd:
      for (const auto& c : n.children) {
        if (!Eval(*c, fields)) return false;
      }
      return true;
    case Node::Kind::kOr:
      for (const auto& c : n.children) {
        if (Eval(*c, fields)) return true;
      }
      return false;
    default:
      break;
  }
  auto it = fields.find(n.field);
  const std::string_view v = it == fields.end() ? std::string_view() : it->second;
  switch (n.kind) {
    case Node::Kind::kEq: return v == n.literal;
    case Node::Kind::kNe: return v != n.literal;
    case Node::Kind::kPrefix: return v.substr(0, n.literal.size()) == n.literal;
    default: return false;
  }
}

std::string Print(const Node& n) {
  switch (n.kind) {
    case Node::Kind::kAnd:
    case Node::Kind::kOr: {
      std::vector<std::string> parts;
      for (const auto& c : n.children) parts.push_back(Print(*c));
      return absl::StrCat("(", absl::StrJoin(parts, n.kind == Node::Kind::kAnd ? " && " : " || "),
                          ")");
    }
    default:
      break;
  }
  const char* op = n.kind == Node::Kind::kEq ? "==" : n.kind == Node::Kind::kNe ? "!=" : "^=";
  const std::string lit =
      absl::StrReplaceAll(n.literal, {{"\\", "\\\\"}, {"\"", "\\\""}});
  return absl::StrCat(n.field, " ", op, " \"", lit, "\"");
}

}  // namespace

absl::StatusOr<Condition> Condition::Parse(std::string_view text) {
  if (text.size() > kMaxLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("condition: longer than ", kMaxLength, " bytes"));
  }
  auto toks = Lex(text);
  if (!toks.ok()) return toks.status();
  if (toks->size() == 1) return Condition();  // only whitespace
  Parser p(*std::move(toks));
  auto root = p.ParseAll();
  if (!root.ok()) return root.status();
  return Condition(*std::move(root));
}

bool Condition::Evaluate(const Fields& fields) const {
  return root_ == nullptr || Eval(*root_, fields);
}

std::string Condition::ToString() const { return root_ == nullptr ? "true" : Print(*root_); }

}  // namespace hai::storage
