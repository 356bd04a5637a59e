// Telling a service manager (systemd, Type=notify) what the process is
// doing, without libsystemd: the protocol is one datagram of
// newline-separated KEY=VALUE lines to the AF_UNIX socket named by
// $NOTIFY_SOCKET (sd_notify(3); a leading '@' names an abstract socket).
// Without $NOTIFY_SOCKET every call does nothing.
//
// $NOTIFY_SOCKET stays in the environment on purpose: a successor started
// by a binary upgrade (SIGUSR2) inherits it and announces itself as the
// new main process (MAINPID=), which needs NotifyAccess=all in the unit.
#pragma once

#include <string>
#include <string_view>

namespace sluice {

// Sends `state` as is. False when there is no manager or it failed (the
// manager is optional: callers carry on either way).
bool service_notify(std::string_view state);

// Serving: READY=1, MAINPID=this process, STATUS=`status`.
void service_ready(std::string_view status);
// Stopping gracefully (SIGTERM, SIGINT): STOPPING=1.
void service_stopping();

// A reload in progress, from construction (RELOADING=1, stamped with
// MONOTONIC_USEC= as Type=notify-reload, systemd 253, requires) to
// finished() or the end of the scope (READY=1), applied or refused: the
// manager shows the service reloading meanwhile, and with notify-reload
// `systemctl reload` waits for it.
class ServiceReload {
 public:
  explicit ServiceReload(std::string_view origin);
  ~ServiceReload();
  ServiceReload(const ServiceReload&) = delete;
  ServiceReload& operator=(const ServiceReload&) = delete;

  // READY=1 with a STATUS= saying how it ended.
  void finished(bool applied);

 private:
  std::string origin_;
  bool done_ = false;
};

}  // namespace sluice
