// The admin listener: a small HTTP/1.1 server on its own thread, apart
// from the workers, so that a busy or reloading data path never blocks it
// and it never blocks the data path.
//
//   GET  /debug/memory   JSON: configuration generations alive, client and
//                        backend connections, buffers, resident memory
//   POST /config         body: a whole configuration (YAML or JSON); 200
//                        when applied, 400 with FILE:LINE:COL diagnostics
//                        (as `sluice check` prints them) when not
#pragma once

#include <memory>
#include <string>

namespace sluice {
class Worker;
namespace proxy {
class Reloader;
class Server;
}  // namespace proxy
}  // namespace sluice

namespace sluice::admin {

class AdminServer {
 public:
  AdminServer(proxy::Server& server, proxy::Reloader& reloader);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Listens on `listen` (or serves `inherited_fd`, a socket handed over
  // by a predecessor process) and starts the admin thread.
  bool start(const std::string& listen, int inherited_fd, std::string& error);
  // The listening socket, for a successor process; -1 before start().
  int socket() const { return fd_; }
  // Stops accepting; requests in progress finish.
  void stop();

 private:
  proxy::Server& server_;
  proxy::Reloader& reloader_;
  std::unique_ptr<Worker> worker_;
  int fd_ = -1;
};

}  // namespace sluice::admin
