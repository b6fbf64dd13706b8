// The condition language: grammar, precedence, errors with columns, evaluation.
#include "manager/storage/condition.h"

#include <gtest/gtest.h>

namespace hai::storage {
namespace {

Fields F(const std::string& user, const std::string& group) {
  return MakeFields({.user_name = user, .uid = 10001, .groups = {}},
                    {.chain_id = 7, .name = "run-1", .group = group});
}

bool Eval(const std::string& text, const Fields& f) {
  auto c = Condition::Parse(text);
  EXPECT_TRUE(c.ok()) << text << ": " << c.status();
  return c.ok() && c->Evaluate(f);
}

TEST(ConditionTest, EmptyIsAlwaysTrue) {
  for (const char* t : {"", "   ", "\n\t"}) {
    auto c = Condition::Parse(t);
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(c->Evaluate(F("x", "y")));
    EXPECT_EQ(c->ToString(), "true");
  }
}

TEST(ConditionTest, Operators) {
  const Fields f = F("lab_alice", "a100");
  EXPECT_TRUE(Eval(R"(task.group == "a100")", f));
  EXPECT_FALSE(Eval(R"(task.group == "a10")", f));
  EXPECT_TRUE(Eval(R"(task.group != "v100")", f));
  EXPECT_FALSE(Eval(R"(task.group != "a100")", f));
  EXPECT_TRUE(Eval(R"(user.user_name ^= "lab_")", f));
  EXPECT_TRUE(Eval(R"(user.user_name ^= "")", f));
  EXPECT_FALSE(Eval(R"(user.user_name ^= "lab_alice_")", f));
  EXPECT_TRUE(Eval(R"(user.uid == "10001" && task.id == "7" && task.chain_id == "7")", f));
  EXPECT_TRUE(Eval(R"(task.nb_name ^= "run-")", f));
}

TEST(ConditionTest, TheExampleFromTheDocs) {
  const std::string c = R"(task.group == "a100" && user.user_name ^= "lab_")";
  EXPECT_TRUE(Eval(c, F("lab_alice", "a100")));
  EXPECT_FALSE(Eval(c, F("bob", "a100")));
  EXPECT_FALSE(Eval(c, F("lab_alice", "v100")));
}

TEST(ConditionTest, AndBindsTighterThanOr) {
  auto c = Condition::Parse(
      R"(task.group == "a" || task.group == "b" && user.user_name == "x")");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->ToString(),
            R"((task.group == "a" || (task.group == "b" && user.user_name == "x")))");
  EXPECT_TRUE(c->Evaluate(F("nobody", "a")));
  EXPECT_FALSE(c->Evaluate(F("nobody", "b")));
  EXPECT_TRUE(c->Evaluate(F("x", "b")));
  auto p = Condition::Parse(
      R"((task.group == "a" || task.group == "b") && user.user_name == "x")");
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->Evaluate(F("nobody", "a")));
  EXPECT_TRUE(p->Evaluate(F("x", "a")));
}

TEST(ConditionTest, StringEscapes) {
  Fields f = F("u", "g");
  f["task.nb_name"] = R"(say "hi" \o/)";
  EXPECT_TRUE(Eval(R"(task.nb_name == "say \"hi\" \\o/")", f));
  auto c = Condition::Parse(R"(task.nb_name == "a\"b")");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->ToString(), R"(task.nb_name == "a\"b")");
}

// Each bad input and the error (with its 1-based column) it must produce.
TEST(ConditionTest, ParseErrorsNameTheColumn) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"(task.group = "a")", "column 12: unexpected character '='"},
      {R"(task.group == a100)", "column 15: expected a double-quoted string, found 'a100'"},
      {R"(task.grp == "a")", "column 1: unknown field 'task.grp'"},
      {R"(task.group == "a)", "column 15: unterminated string literal"},
      {R"(task.group == "a" &&)", "column 21: expected a field name or '(', found end of condition"},
      {R"((task.group == "a")", "column 19: expected ')' to close the '(' at column 1"},
      {R"(task.group == "a"))", "column 18: expected '&&', '||' or end of condition, found ')'"},
      {R"(task.group == "a" task.id == "1")", "column 19: expected '&&', '||' or end"},
      {R"(task.group == "\n")", "column 16: only \\\" and \\\\ escapes"},
      {R"(task.group)", "column 11: expected '==', '!=' or '^=' after task.group"},
      {R"("a" == task.group)", "column 1: expected a field name or '(', found a string literal"},
      {R"(task.group == "a" & task.id == "1")", "column 19: unexpected character '&'"},
      {R"(!(task.group == "a"))", "column 1: unexpected character '!'"},
      {"task.group == \"a\" \x01", "column 19: unexpected byte 0x1"},
      {"os.system(\"rm\")", "column 1: unknown field 'os.system'"},
  };
  for (const auto& [text, want] : cases) {
    auto c = Condition::Parse(text);
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_NE(c.status().message().find(want), std::string::npos)
        << text << "\n got: " << c.status().message() << "\nwant: " << want;
  }
}

TEST(ConditionTest, Limits) {
  std::string deep;
  for (int i = 0; i < 33; ++i) deep += "(";
  deep += R"(task.id == "1")";
  for (int i = 0; i < 33; ++i) deep += ")";
  auto c = Condition::Parse(deep);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("nested parentheses"), std::string::npos);
  std::string ok_depth(32, '(');
  ok_depth += R"(task.id == "7")" + std::string(32, ')');
  EXPECT_TRUE(Eval(ok_depth, F("u", "g")));
  EXPECT_FALSE(Condition::Parse(std::string(5000, ' ')).ok());
}

}  // namespace
}  // namespace hai::storage
