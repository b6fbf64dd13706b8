// Image references: what docker, containerd and the kubelet accept passes; what they would
// reject (or misread) is refused at submit with a message.
#include "scheduler/api/image_ref.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hai::api {
namespace {

TEST(ImageReference, AcceptsTheGrammarsForms) {
  for (const std::string& image : std::vector<std::string>{
           "", "ubuntu", "ubuntu:22.04", "pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime",
           "nvcr.io/nvidia/pytorch:24.05-py3", "registry.lab:5000/team/train",
           "localhost:5000/a__b/c-d.e_f:v1",
           "ghcr.io/org/"
           "img@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
           "[::1]:5000/img:latest", "quay.io/x/y:tag@sha256:0123456789abcdef0123456789abcdef"}) {
    EXPECT_TRUE(CheckImageReference(image).ok()) << image << ": " << CheckImageReference(image);
  }
}

TEST(ImageReference, RefusesWhatRuntimesWouldRejectWithAMessage) {
  for (const std::string& image :
       std::vector<std::string>{"Ubuntu", "ubuntu:", "ubuntu:-tag", "-ubuntu", "a//b", "a/b/",
                                "ubuntu latest", "ubuntu;rm -rf /", "$(id)", "img@sha256:short",
                                "img@sha256", "img:" + std::string(129, 't'), "a..b",
                                "reg:port/img", std::string("img\0", 4), "img\n"}) {
    absl::Status s = CheckImageReference(image);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << image;
  }
  EXPECT_THAT(std::string(CheckImageReference(std::string(600, 'a')).message()),
              ::testing::HasSubstr("longer than 512"));
  EXPECT_THAT(std::string(CheckImageReference(std::string(300, 'a')).message()),
              ::testing::HasSubstr("longer than 255"));
}

TEST(ControlCharacters, NulTabNewlineEscapeAndDelAreControl) {
  EXPECT_FALSE(HasControlCharacter("/work/train.py"));
  EXPECT_FALSE(HasControlCharacter("/work/données"));  // UTF-8 bytes >= 0x80 are fine
  for (const std::string& s : {std::string("a\0b", 3), std::string("a\tb"), std::string("a\nb"),
                               std::string("a\x1b"), std::string("a\x7f")}) {
    EXPECT_TRUE(HasControlCharacter(s)) << s.size();
  }
}

}  // namespace
}  // namespace hai::api
