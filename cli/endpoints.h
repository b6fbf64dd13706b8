// Several haid replicas behind one hai-cli config (docs/deploy.md, high availability): the
// url may be a comma list of HOST:PORT, and a host may be a DNS name with several addresses.
// Every replica serves the whole API, so the client only needs one that answers.
#pragma once

#include <string>

namespace hai::cli {

// The gRPC channel target for a normalized url (client_config.h NormalizeUrl). One endpoint
// is returned as it is: gRPC's resolver already yields every address of a name and its
// pick_first policy connects to the first that answers. A list is resolved here into one
// `ipv4:` (or `ipv6:`) target of every address of every endpoint, in order, so pick_first
// fails over across all of them; an endpoint that does not resolve is skipped (all of them
// failing: the first endpoint, so the error names it).
std::string ChannelTarget(const std::string& url);

// For a list: the first endpoint's host, the name TLS checks the certificate against (the
// resolved target has none). For one endpoint: "" (gRPC checks the endpoint's own name).
std::string TlsNameForList(const std::string& url);

}  // namespace hai::cli
