// The admin listener: a small HTTP/1.1 server on its own thread, apart
// from the workers, so that a busy or reloading data path never blocks it
// and it never blocks the data path.
//
//   GET  /debug/memory   JSON: configuration generations alive, client and
//                        backend connections, buffers, resident memory
//   POST /config         body: a whole configuration (YAML or JSON); 200
//                        when applied, 400 with FILE:LINE:COL diagnostics
//                        (as `sluice check` prints them) when not
//   GET  /backends, POST /backends/NAME/servers/ADDRESS/state: server_control.h
//
// Routing is in endpoints.h, who may call it in access.h, and its HTTP/1.1
// rules apart from the I/O in admin_http.h. Each request must arrive whole within
// admin.request_timeout (408), its body within admin.max_body (413), its
// head within one buffer (431); at most admin.max_connections are open
// (503 beyond).
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "admin/access.h"

namespace sluice {
class Worker;
namespace config {
struct Admin;
}
namespace proxy {
class Reloader;
class Server;
}  // namespace proxy
}  // namespace sluice

namespace sluice::admin {

class AdminServer {
 public:
  AdminServer(proxy::Server& server, proxy::Reloader& reloader, const config::Admin& settings);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Listens on admin.listen (or serves `inherited_fd`, a socket handed
  // over by a predecessor process) and starts the admin thread.
  bool start(int inherited_fd, std::string& error);
  // The listening socket, for a successor process; -1 before start().
  int socket() const { return fd_; }
  // Stops accepting; requests in progress finish.
  void stop();

  // Any thread: the admin block of a configuration just applied (token,
  // names, limits). Requests read after it use it; admin.listen stays.
  void configure(const config::Admin& settings);
  std::shared_ptr<const AdminPolicy> policy() const;

  proxy::Server& server() { return server_; }
  proxy::Reloader& reloader() { return reloader_; }

 private:
  proxy::Server& server_;
  proxy::Reloader& reloader_;
  std::string listen_;
  mutable std::mutex mutex_;  // guards policy_: set by reloads, read by the admin thread
  std::shared_ptr<const AdminPolicy> policy_;
  std::unique_ptr<Worker> worker_;
  int fd_ = -1;
};

}  // namespace sluice::admin
