// The condition language of storage rows: a small predicate over the fields of fields.h,
// parsed into a tree and interpreted (never evaluated as code).
//
//   condition  := "" | or
//   or         := and ( "||" and )*
//   and        := primary ( "&&" primary )*
//   primary    := "(" or ")" | comparison
//   comparison := FIELD ( "==" | "!=" | "^=" ) STRING
//   FIELD      := task.chain_id | task.group | task.id | task.nb_name | user.uid | user.user_name
//   STRING     := '"' ( any byte but '"' and '\' | '\"' | '\\' )* '"'
//
// `a ^= "p"` is true when a starts with p. && binds tighter than ||. Whitespace (space, tab,
// CR, LF) separates tokens. An empty (or all-whitespace) condition is always true. Limits:
// 4096 bytes, 32 levels of parentheses. Errors are InvalidArgument naming the 1-based column.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "manager/storage/fields.h"

namespace hai::storage {

class Condition {
 public:
  // Always true.
  Condition() = default;

  static absl::StatusOr<Condition> Parse(std::string_view text);

  // A field missing from `fields` reads as "".
  bool Evaluate(const Fields& fields) const;

  // Canonical form, every && and || group parenthesised; "true" for the empty condition.
  std::string ToString() const;

  struct Node {
    enum class Kind { kEq, kNe, kPrefix, kAnd, kOr };
    Kind kind = Kind::kEq;
    std::string field;                               // comparisons
    std::string literal;                             // comparisons
    std::vector<std::shared_ptr<const Node>> children;  // kAnd, kOr
  };

 private:
  explicit Condition(std::shared_ptr<const Node> root) : root_(std::move(root)) {}
  std::shared_ptr<const Node> root_;  // null: always true
};

}  // namespace hai::storage
