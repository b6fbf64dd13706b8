// libcurl transport, retries and error mapping; see kube_client.h.
#include "manager/runtime/kubernetes/kube_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace hai::manager::kube {
namespace {

// Service account tokens rotate (bound tokens live about an hour); re-reading the file this
// often keeps a long-running manager authenticated.
constexpr absl::Duration kTokenReread = absl::Minutes(1);

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

size_t AppendBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

struct HeaderSink {
  absl::Duration retry_after = absl::ZeroDuration();
};
size_t ReadHeader(char* data, size_t size, size_t n, void* user) {
  std::string_view line(data, size * n);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size() &&
      absl::AsciiStrToLower(std::string(line.substr(0, kName.size()))) == kName) {
    int seconds = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(std::string(line.substr(kName.size()))),
                         &seconds) &&
        seconds >= 0) {
      static_cast<HeaderSink*>(user)->retry_after = absl::Seconds(std::min(seconds, 30));
    }
  }
  return size * n;
}

// TLS and authentication options shared by requests and streams.
void ApplyEndpoint(CURL* c, const KubeEndpoint& ep) {
  if (!ep.ca_pem.empty()) {
    curl_blob blob{const_cast<char*>(ep.ca_pem.data()), ep.ca_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
  } else if (!ep.ca_file.empty()) {
    curl_easy_setopt(c, CURLOPT_CAINFO, ep.ca_file.c_str());
  }
  if (ep.insecure_skip_tls_verify) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!ep.client_cert_pem.empty()) {
    curl_blob cert{const_cast<char*>(ep.client_cert_pem.data()), ep.client_cert_pem.size(),
                   CURL_BLOB_COPY};
    curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cert);
    curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
  } else if (!ep.client_cert_file.empty()) {
    curl_easy_setopt(c, CURLOPT_SSLCERT, ep.client_cert_file.c_str());
  }
  if (!ep.client_key_pem.empty()) {
    curl_blob key{const_cast<char*>(ep.client_key_pem.data()), ep.client_key_pem.size(),
                  CURL_BLOB_COPY};
    curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &key);
    curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
  } else if (!ep.client_key_file.empty()) {
    curl_easy_setopt(c, CURLOPT_SSLKEY, ep.client_key_file.c_str());
  }
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM-based DNS timeouts
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
}

}  // namespace

bool Retryable(int http_code) { return http_code == 0 || http_code == 429 || http_code >= 500; }

absl::Status StatusFromHttp(int http_code, const std::string& body) {
  if (http_code >= 200 && http_code < 300) return absl::OkStatus();
  std::string message = body.substr(0, 512);
  std::string reason;
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.value("kind", "") == "Status") {
    message = j.value("message", message);
    reason = j.value("reason", "");
  }
  const std::string text =
      absl::StrCat("kubernetes API ", http_code, reason.empty() ? "" : " ", reason, ": ", message);
  switch (http_code) {
    case 400:
    case 422: return absl::InvalidArgumentError(text);
    case 401: return absl::UnauthenticatedError(text);
    case 403: return absl::PermissionDeniedError(text);
    case 404: return absl::NotFoundError(text);
    case 409:
      return reason == "Conflict" ? absl::AbortedError(text) : absl::AlreadyExistsError(text);
    case 410: return absl::OutOfRangeError(text);
    case 429: return absl::ResourceExhaustedError(text);
    default:
      if (http_code >= 500) return absl::UnavailableError(text);
      return absl::UnknownError(text);
  }
}

std::string QueryEscape(std::string_view value) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : value) {
    if (absl::ascii_isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out.push_back(static_cast<char>(ch));
    } else {
      out.push_back('%');
      out.push_back(kHex[ch >> 4]);
      out.push_back(kHex[ch & 15]);
    }
  }
  return out;
}

KubeClient::KubeClient(KubeEndpoint endpoint, ClientOptions options)
    : ep_(std::move(endpoint)), opt_(options) {
  GlobalInit();
}

std::string KubeClient::Token() {
  if (ep_.token_file.empty()) return ep_.token;
  absl::MutexLock lock(&token_mu_);
  const absl::Time now = absl::Now();
  if (now - token_read_at_ >= kTokenReread) {
    std::ifstream in(ep_.token_file);
    std::stringstream ss;
    ss << in.rdbuf();
    if (in) {
      token_ = std::string(absl::StripAsciiWhitespace(ss.str()));
      token_read_at_ = now;
    }
  }
  return token_.empty() ? ep_.token : token_;
}

KubeClient::Raw KubeClient::Once(std::string_view method, const std::string& path,
                                 const std::string* body) {
  Raw raw;
  std::unique_ptr<CURL, CurlDeleter> c(curl_easy_init());
  if (!c) {
    raw.error = "curl_easy_init failed";
    return raw;
  }
  const std::string url = ep_.server + path;
  const std::string m(method);
  curl_easy_setopt(c.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(c.get(), CURLOPT_CUSTOMREQUEST, m.c_str());
  ApplyEndpoint(c.get(), ep_);
  curl_easy_setopt(c.get(), CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(opt_.request_timeout)));
  curl_slist* headers = curl_slist_append(nullptr, "Accept: application/json");
  headers = curl_slist_append(headers, "Content-Type: application/json");
  const std::string token = Token();
  if (!token.empty())
    headers = curl_slist_append(headers, ("Authorization: Bearer " + token).c_str());
  std::unique_ptr<curl_slist, SlistDeleter> header_list(headers);
  curl_easy_setopt(c.get(), CURLOPT_HTTPHEADER, headers);
  if (body != nullptr) {
    curl_easy_setopt(c.get(), CURLOPT_POSTFIELDS, body->c_str());
    curl_easy_setopt(c.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(body->size()));
  }
  curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &raw.body);
  HeaderSink sink;
  curl_easy_setopt(c.get(), CURLOPT_HEADERFUNCTION, ReadHeader);
  curl_easy_setopt(c.get(), CURLOPT_HEADERDATA, &sink);
  const CURLcode rc = curl_easy_perform(c.get());
  if (rc != CURLE_OK) {
    raw.error = curl_easy_strerror(rc);
    return raw;
  }
  long code = 0;
  curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &code);
  raw.code = static_cast<int>(code);
  raw.retry_after = sink.retry_after;
  return raw;
}

absl::StatusOr<nlohmann::json> KubeClient::Call(std::string_view method, const std::string& path,
                                                const nlohmann::json* body) {
  const std::string text = body != nullptr ? body->dump() : std::string();
  absl::Duration backoff = opt_.backoff_initial;
  for (int attempt = 0;; ++attempt) {
    Raw raw = Once(method, path, body != nullptr ? &text : nullptr);
    if (raw.code >= 200 && raw.code < 300) {
      if (raw.body.empty()) return nlohmann::json::object();
      nlohmann::json j = nlohmann::json::parse(raw.body, nullptr, false);
      if (j.is_discarded()) {
        return absl::InternalError(absl::StrCat("kubernetes API ", std::string(method), " ", path,
                                                ": response is not JSON"));
      }
      return j;
    }
    if (!Retryable(raw.code) || attempt >= opt_.max_retries) {
      absl::Status s =
          raw.code == 0
              ? absl::UnavailableError(absl::StrCat("kubernetes API ", ep_.server, ": ", raw.error))
              : StatusFromHttp(raw.code, raw.body);
      return absl::Status(
          s.code(),
          absl::StrCat(std::string(method), " ", path, ": ", s.message(),
                       attempt > 0 ? absl::StrCat(" (after ", attempt, " retries)") : ""));
    }
    // Jittered exponential backoff; the server's Retry-After wins when it asks for longer.
    const absl::Duration jitter = backoff * (static_cast<double>(attempt % 3) / 10.0);
    absl::SleepFor(std::max(backoff + jitter, raw.retry_after));
    backoff = std::min(backoff * 2, opt_.backoff_max);
  }
}

namespace {

struct StreamState {
  std::string partial;
  size_t max_line = 0;  // 0: unbounded
  const std::function<bool(std::string_view)>* on_line;
  const std::function<bool()>* cancelled;
  bool stopped = false;  // on_line returned false
  bool was_cancelled = false;
  int http_code = 0;
  std::string error_body;  // the body of a non-2xx answer
  CURL* curl = nullptr;
};

size_t StreamWrite(char* data, size_t size, size_t n, void* user) {
  auto* st = static_cast<StreamState*>(user);
  if (st->http_code == 0) {
    long code = 0;
    curl_easy_getinfo(st->curl, CURLINFO_RESPONSE_CODE, &code);
    st->http_code = static_cast<int>(code);
  }
  if (st->http_code < 200 || st->http_code >= 300) {
    if (st->error_body.size() < 4096) st->error_body.append(data, size * n);
    return size * n;
  }
  st->partial.append(data, size * n);
  size_t start = 0;
  while (true) {
    const size_t nl = st->partial.find('\n', start);
    size_t end, next;
    if (nl != std::string::npos && (st->max_line == 0 || nl - start < st->max_line)) {
      end = nl;
      next = nl + 1;
    } else if (st->max_line > 0 && st->partial.size() - start >= st->max_line) {
      end = start + st->max_line;  // an overlong line: hand on a piece of it
      next = end;
    } else {
      break;
    }
    if (!(*st->on_line)(std::string_view(st->partial).substr(start, end - start))) {
      st->stopped = true;
      return 0;  // aborts the transfer
    }
    start = next;
  }
  st->partial.erase(0, start);
  return size * n;
}

int StreamProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* st = static_cast<StreamState*>(user);
  if ((*st->cancelled)()) {
    st->was_cancelled = true;
    return 1;
  }
  return 0;
}

}  // namespace

absl::Status KubeClient::Stream(const std::string& path, absl::Duration max_time,
                                const std::function<bool(std::string_view)>& on_line,
                                const std::function<bool()>& cancelled, size_t max_line_bytes) {
  std::unique_ptr<CURL, CurlDeleter> c(curl_easy_init());
  if (!c) return absl::InternalError("curl_easy_init failed");
  const std::string url = ep_.server + path;
  curl_easy_setopt(c.get(), CURLOPT_URL, url.c_str());
  ApplyEndpoint(c.get(), ep_);
  curl_easy_setopt(c.get(), CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(max_time)));
  curl_slist* headers = curl_slist_append(nullptr, "Accept: application/json");
  const std::string token = Token();
  if (!token.empty())
    headers = curl_slist_append(headers, ("Authorization: Bearer " + token).c_str());
  std::unique_ptr<curl_slist, SlistDeleter> header_list(headers);
  curl_easy_setopt(c.get(), CURLOPT_HTTPHEADER, headers);
  StreamState st;
  st.on_line = &on_line;
  st.cancelled = &cancelled;
  st.max_line = max_line_bytes;
  st.curl = c.get();
  curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, StreamWrite);
  curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &st);
  curl_easy_setopt(c.get(), CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c.get(), CURLOPT_XFERINFOFUNCTION, StreamProgress);
  curl_easy_setopt(c.get(), CURLOPT_XFERINFODATA, &st);
  const CURLcode rc = curl_easy_perform(c.get());
  if (st.was_cancelled) return absl::CancelledError("stream cancelled");
  if (st.stopped) return absl::OkStatus();
  long code = 0;
  curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &code);
  if (code != 0 && (code < 200 || code >= 300)) {
    absl::Status s = StatusFromHttp(static_cast<int>(code), st.error_body);
    return absl::Status(s.code(), absl::StrCat("GET ", path, ": ", s.message()));
  }
  if (rc == CURLE_OPERATION_TIMEDOUT && code >= 200 && code < 300) {
    // The stream lasted its whole budget: a normal end, the caller resumes.
    if (!st.partial.empty()) on_line(st.partial);
    return absl::OkStatus();
  }
  if (rc != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat("GET ", path, ": ", curl_easy_strerror(rc)));
  }
  if (!st.partial.empty()) on_line(st.partial);
  return absl::OkStatus();
}

}  // namespace hai::manager::kube
