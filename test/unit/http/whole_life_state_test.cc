// The body of PUT/POST /v1/task/<attempt>/whole_life_state: a 32-bit integer or a typed
// refusal, whatever JSON the task sends.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "scheduler/http/http_server.h"

namespace hai {
namespace {

TEST(WholeLifeState, IntegersThatFitIn32BitsAreAccepted) {
  EXPECT_EQ(*ParseWholeLifeState(R"({"whole_life_state": 7})"), 7);
  EXPECT_EQ(*ParseWholeLifeState(R"({"whole_life_state": -2147483648})"), INT32_MIN);
  EXPECT_EQ(*ParseWholeLifeState(R"({"whole_life_state": 2147483647})"), INT32_MAX);
}

TEST(WholeLifeState, EverythingElseIsInvalidArgument) {
  for (const std::string& body : std::vector<std::string>{
           R"({"whole_life_state": 2147483648})", R"({"whole_life_state": -2147483649})",
           // Past int64: read as int64 it would wrap to -1 and pass a 32-bit range check.
           R"({"whole_life_state": 18446744073709551615})",
           R"({"whole_life_state": 9223372036854775808})", R"({"whole_life_state": 1.5})",
           R"({"whole_life_state": "3"})", R"({"other": 3})", "[3]", "", "{"}) {
    auto v = ParseWholeLifeState(body);
    EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument) << body;
  }
}

}  // namespace
}  // namespace hai
