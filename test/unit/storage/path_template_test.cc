// Path templates: substitution, and every way a value could try to leave its component.
#include "manager/storage/path_template.h"

#include <gtest/gtest.h>

namespace hai::storage {
namespace {

Fields Alice() {
  return MakeFields({.user_name = "alice", .uid = 10001, .groups = {"lab"}},
                    {.chain_id = 42, .name = "train-bert", .group = "a100"});
}

TEST(PathTemplateTest, SubstitutesEveryField) {
  auto p = ExpandPath(
      "/ws/{user.user_name}/{user.uid}/{task.id}/{task.chain_id}/{task.nb_name}/{task.group}",
      Alice());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*p, "/ws/alice/10001/42/42/train-bert/a100");
}

TEST(PathTemplateTest, PlaceholderInsideAComponent) {
  auto p = ExpandPath("/ws/u_{user.user_name}.d", Alice());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*p, "/ws/u_alice.d");
}

TEST(PathTemplateTest, NormalisesSlashes) {
  EXPECT_EQ(*ExpandPath("//data///x/", Alice()), "/data/x");
  EXPECT_EQ(*ExpandPath("/", Alice()), "/");
}

TEST(PathTemplateTest, ValuesCannotEscapeTheirDirectory) {
  for (const char* bad : {"../x", "..", ".", "", "a/b", "/etc", "x/../../etc"}) {
    Fields f = Alice();
    f["user.user_name"] = bad;
    auto p = ExpandPath("/ws/{user.user_name}", f);
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << "value '" << bad << "'";
  }
  Fields f = Alice();
  f["task.nb_name"] = std::string("a\0b", 3);
  EXPECT_FALSE(ExpandPath("/ws/{task.nb_name}", f).ok());
  // A chain name with a slash (names are free text) makes the row invalid, not a subdir.
  f = Alice();
  f["task.nb_name"] = "exp/1";
  auto p = ExpandPath("/ckpt/{task.nb_name}", f);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("{task.nb_name} = 'exp/1' contains '/'"), std::string::npos)
      << p.status();
}

TEST(PathTemplateTest, DotDotInTheTemplateItselfIsRejected) {
  EXPECT_FALSE(ExpandPath("/ws/../etc", Alice()).ok());
  EXPECT_FALSE(ExpandPath("/ws/./x", Alice()).ok());
  // "..." and "..x" are ordinary names.
  EXPECT_EQ(*ExpandPath("/ws/.../..x", Alice()), "/ws/.../..x");
}

TEST(PathTemplateTest, MustBeAbsolute) {
  EXPECT_FALSE(ExpandPath("ws/{user.user_name}", Alice()).ok());
  EXPECT_FALSE(ExpandPath("{user.user_name}", Alice()).ok());
  EXPECT_FALSE(ExpandPath("", Alice()).ok());
}

TEST(PathTemplateTest, SyntaxErrors) {
  auto unknown = ExpandPath("/ws/{user.home}", Alice());
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown placeholder {user.home} at column 5"),
            std::string::npos)
      << unknown.status();
  EXPECT_NE(CheckTemplate("/ws/{user.user_name").message().find("unclosed '{' at column 5"),
            std::string::npos);
  EXPECT_NE(CheckTemplate("/ws/}").message().find("unmatched '}' at column 5"),
            std::string::npos);
  EXPECT_FALSE(CheckTemplate("/ws/{}").ok());
  EXPECT_FALSE(CheckTemplate("/ws/{ user.uid }").ok());
  EXPECT_FALSE(CheckTemplate("/ws/${HOME}").ok());  // {HOME} is not a field
  EXPECT_TRUE(CheckTemplate("/ws/{user.uid}/{task.group}").ok());
}

TEST(PathTemplateTest, ShellSyntaxIsLiteral) {
  auto p = ExpandPath("/ws/$(id)`x`", Alice());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, "/ws/$(id)`x`");
}

TEST(PathTemplateTest, PathIsWithin) {
  EXPECT_TRUE(PathIsWithin("/proc", "/proc"));
  EXPECT_TRUE(PathIsWithin("/proc/1", "/proc"));
  EXPECT_FALSE(PathIsWithin("/procx", "/proc"));
  EXPECT_TRUE(PathIsWithin("/anything", "/"));
}

}  // namespace
}  // namespace hai::storage
