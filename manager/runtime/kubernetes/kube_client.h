// KubeClient: the Kubernetes REST API over libcurl (HTTPS with the endpoint's CA, bearer
// token or client certificate). Plain requests have a timeout and are retried with
// exponential backoff (honouring Retry-After) on 429, 5xx and transport errors; the final
// answer is a typed status: 400/422 InvalidArgument, 401 Unauthenticated, 403
// PermissionDenied, 404 NotFound, 409 AlreadyExists (or Aborted for an update conflict),
// 410 OutOfRange (resourceVersion expired), 429 ResourceExhausted, 5xx/transport Unavailable,
// each with the API server's own message. Streams (watch, log follow) deliver lines as they
// arrive and can be cancelled. Thread-safe: every call uses its own curl handle.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "manager/runtime/kubernetes/kube_config.h"
#include "nlohmann/json.hpp"

namespace hai::manager::kube {

struct ClientOptions {
  absl::Duration request_timeout = absl::Seconds(10);
  int max_retries = 5;
  absl::Duration backoff_initial = absl::Milliseconds(100);
  absl::Duration backoff_max = absl::Seconds(5);
};

// The status for a non-2xx answer; `body` is the API's Status object when it is one.
absl::Status StatusFromHttp(int http_code, const std::string& body);
// Whether a request that got this answer may succeed when repeated (429, 5xx, transport).
bool Retryable(int http_code);

class KubeClient {
 public:
  KubeClient(KubeEndpoint endpoint, ClientOptions options);

  // One request; `body` (JSON) when non-null. The parsed 2xx body, else the typed error.
  absl::StatusOr<nlohmann::json> Call(std::string_view method, const std::string& path,
                                      const nlohmann::json* body = nullptr);

  // A long GET (watch, log follow): `on_line` gets each complete line (without '\n') and
  // returns false to stop. Returns OK when the server ended the stream or on_line stopped it,
  // Cancelled when `cancelled()` became true (libcurl checks about once a second), else the
  // error.
  // Not retried: the caller decides how to resume (re-list, sinceTime).
  // `max_line_bytes` > 0 bounds the partial line kept: whole lines handed on are shorter,
  // and a line of that size or longer comes in pieces of exactly that size (the last one
  // shorter), so a pod log line without newline cannot grow memory; 0 = whole lines however
  // long (watch events, which must parse as JSON).
  absl::Status Stream(const std::string& path, absl::Duration max_time,
                      const std::function<bool(std::string_view)>& on_line,
                      const std::function<bool()>& cancelled, size_t max_line_bytes = 0);

  const KubeEndpoint& endpoint() const { return ep_; }

 private:
  struct Raw {
    int code = 0;  // 0: transport error (in `error`)
    std::string body;
    std::string error;
    absl::Duration retry_after = absl::ZeroDuration();
  };
  Raw Once(std::string_view method, const std::string& path, const std::string* body);
  std::string Token();

  KubeEndpoint ep_;
  ClientOptions opt_;
  absl::Mutex token_mu_;
  std::string token_ ABSL_GUARDED_BY(token_mu_);
  absl::Time token_read_at_ ABSL_GUARDED_BY(token_mu_) = absl::InfinitePast();
};

// Percent-encodes a query parameter value (label selectors contain '=' and ',').
std::string QueryEscape(std::string_view value);

}  // namespace hai::manager::kube
