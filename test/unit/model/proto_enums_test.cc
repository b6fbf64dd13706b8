// The API's enums against the task model: every state and tier converts both ways, and the
// proto's name is the model's name in upper case (so --json output and hai-cli's tables
// name the same states).
#include "common/model/proto_enums.h"

#include <gtest/gtest.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace hai::model {
namespace {

template <typename Model, size_t N, typename NameFn>
void ExpectSameStates(const std::array<Model, N>& all, NameFn proto_name) {
  for (Model s : all) {
    const auto p = ToProto(s);
    EXPECT_EQ(proto_name(p), absl::AsciiStrToUpper(std::string(Name(s))));
    EXPECT_EQ(FromProto(p), s);
  }
}

TEST(ProtoEnumsTest, StatesAgreeByNameAndRoundTrip) {
  ExpectSameStates(kAttemptStates, [](auto p) { return hai::v1::Attempt::State_Name(p); });
  ExpectSameStates(kPodStates, [](auto p) { return hai::v1::Pod::State_Name(p); });
  ExpectSameStates(kChainStates, [](auto p) { return hai::v1::Task::State_Name(p); });
  ExpectSameStates(kNodeStates, [](auto p) { return hai::v1::Node::State_Name(p); });
}

TEST(ProtoEnumsTest, TheProtoHasNoStateTheModelLacks) {
  EXPECT_EQ(hai::v1::Attempt::State_ARRAYSIZE, static_cast<int>(kAttemptStates.size()) + 1);
  EXPECT_EQ(hai::v1::Pod::State_ARRAYSIZE, static_cast<int>(kPodStates.size()) + 1);
  EXPECT_EQ(hai::v1::Task::State_ARRAYSIZE, static_cast<int>(kChainStates.size()) + 1);
  EXPECT_EQ(hai::v1::Node::State_ARRAYSIZE, static_cast<int>(kNodeStates.size()) + 1);
}

TEST(ProtoEnumsTest, UnspecifiedAndUnknownNumbersAreNoState) {
  EXPECT_FALSE(FromProto(hai::v1::Attempt::STATE_UNSPECIFIED).has_value());
  EXPECT_FALSE(FromProto(static_cast<hai::v1::Task::State>(99)).has_value());
  EXPECT_FALSE(FromProto(static_cast<hai::v1::Node::State>(-1)).has_value());
}

TEST(ProtoEnumsTest, PrioritiesAreTierNumbersAndAuto) {
  for (Tier t : kTiersDescending) {
    const hai::v1::Priority p = PriorityToProto(static_cast<int>(t));
    EXPECT_EQ(hai::v1::Priority_Name(p), absl::StrCat("PRIORITY_", std::string(TierName(t))));
    EXPECT_EQ(PriorityFromProto(p), static_cast<int>(t));
  }
  EXPECT_EQ(PriorityFromProto(hai::v1::PRIORITY_AUTO), kAutoPriority);
  EXPECT_FALSE(PriorityFromProto(static_cast<hai::v1::Priority>(31)).has_value());
}

}  // namespace
}  // namespace hai::model
