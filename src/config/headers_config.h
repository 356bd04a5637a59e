// The 'headers' middleware's settings (docs/config.md): fields set, added
// and removed on requests and responses. Values may hold variables
// (${host}, ${client_ip}, ${route}, $1...), expanded per request.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace sluice::config {

struct HeaderEdits {
  std::vector<std::string> remove;                       // field names
  std::vector<std::pair<std::string, std::string>> set;  // replaces every field of the name
  std::vector<std::pair<std::string, std::string>> add;  // appended

  bool empty() const { return remove.empty() && set.empty() && add.empty(); }
};

struct Headers {
  HeaderEdits request;   // what the backend receives
  HeaderEdits response;  // what the client receives
};

}  // namespace sluice::config
