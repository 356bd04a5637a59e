#include "core/result.h"

#include <cerrno>

namespace sluice {

std::string_view to_string(Errc code) {
  switch (code) {
    case Errc::ok:
      return "ok";
    case Errc::timeout:
      return "timeout";
    case Errc::cancelled:
      return "cancelled";
    case Errc::closed:
      return "closed";
    case Errc::reset:
      return "reset";
    case Errc::refused:
      return "refused";
    case Errc::system:
      return "system error";
    case Errc::invalid:
      return "invalid argument";
  }
  return "unknown";
}

Error Error::from_errno(int e) {
  switch (e) {
    case ECONNRESET:
    case EPIPE:
      return {Errc::reset, e};
    case ECONNREFUSED:
      return {Errc::refused, e};
    case ETIMEDOUT:
      return {Errc::timeout, e};
    case ECANCELED:
      return {Errc::cancelled, e};
    default:
      return {Errc::system, e};
  }
}

bool Error::is_local_shortage() const {
  switch (sys_errno) {
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
    case EADDRNOTAVAIL:  // no local port left for the destination
    case EAGAIN:
      return true;
    default:
      return false;
  }
}

}  // namespace sluice
