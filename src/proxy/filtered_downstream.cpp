#include "proxy/filtered_downstream.h"

namespace sluice::proxy {

Task<BodyPiece> FilteredDownstream::read_counted() {
  BodyPiece piece = co_await inner_.read_body();
  if (piece.failed || max_body_bytes_ == 0) co_return piece;
  body_bytes_ += piece.data.size();
  if (body_bytes_ > max_body_bytes_) {
    BodyPiece over;
    over.failed = true;
    over.error = ExchangeError{ErrorKind::body_too_large, Side::client, Phase::request, false,
                               "request body larger than the route's middlewares allow"};
    co_return over;
  }
  co_return piece;
}

Task<void> FilteredDownstream::read_ahead(std::size_t max) {
  ahead_pending_ = true;
  while (ahead_.size() < max) {
    BodyPiece piece = co_await inner_.read_body();
    if (piece.failed) {
      ahead_last_ = piece;
      co_return;
    }
    ahead_.append(piece.data);
    if (piece.end) {
      ahead_end_ = true;
      ahead_last_.end = true;
      ahead_last_.trailers = piece.trailers;
      co_return;
    }
  }
}

Task<BodyPiece> FilteredDownstream::read_body() {
  if (!ahead_pending_) co_return co_await read_counted();
  if (ahead_given_) {
    // The failure that stopped the reading ahead, after its bytes.
    ahead_pending_ = false;
    co_return ahead_last_;
  }
  body_bytes_ = ahead_.size();
  if (max_body_bytes_ > 0 && body_bytes_ > max_body_bytes_) {
    ahead_pending_ = false;
    BodyPiece over;
    over.failed = true;
    over.error = ExchangeError{ErrorKind::body_too_large, Side::client, Phase::request, false,
                               "request body larger than the route's middlewares allow"};
    co_return over;
  }
  if (ahead_last_.failed && ahead_.empty()) {
    ahead_pending_ = false;
    co_return ahead_last_;
  }
  // What was read ahead, as one piece, with how its reading ended.
  BodyPiece piece;
  piece.data = ahead_;
  piece.end = ahead_last_.end;
  piece.trailers = ahead_last_.trailers;
  if (ahead_last_.failed) {
    ahead_given_ = true;
  } else {
    ahead_pending_ = false;
  }
  co_return piece;
}

HeadSent FilteredDownstream::queue_head(const http::OutgoingResponse& res) {
  head_.status = res.status;
  head_.fields.assign(res.fields.begin(), res.fields.end());
  head_.has_body = res.body != http::BodyKind::none;
  head_.length_known = res.body == http::BodyKind::sized;
  head_.length = res.length;
  for (auto it = filters_.rbegin(); it != filters_.rend(); ++it) {
    (*it)->on_head(head_);
    // A response without content (HEAD, 204, 304) has no body to change.
    transforms_ = transforms_ || (head_.has_body && (*it)->transforms_body());
  }
  http::OutgoingResponse out = res;
  out.fields = head_.fields;
  if (res.body != http::BodyKind::none) {
    out.body = head_.length_known ? http::BodyKind::sized : http::BodyKind::streamed;
    out.length = head_.length_known ? head_.length : 0;
  }
  return inner_.queue_head(out);
}

bool FilteredDownstream::transform(std::string_view data, bool end) {
  out_.assign(data);
  for (auto it = filters_.rbegin(); it != filters_.rend(); ++it) {
    if (!(*it)->transforms_body()) continue;
    scratch_.clear();
    if (!(*it)->on_body(out_, end, scratch_)) return false;
    out_.swap(scratch_);
  }
  return true;
}

Task<bool> FilteredDownstream::send_body(std::string_view data, bool end) {
  if (!transforms_) co_return co_await inner_.send_body(data, end);
  if (!transform(data, end)) {
    inner_.reset();
    co_return false;
  }
  // Nothing came out yet (a compressor collecting input): nothing to send.
  if (out_.empty() && !end) co_return true;
  co_return co_await inner_.send_body(out_, end);
}

Task<bool> FilteredDownstream::send_trailers(std::span<const http::HeaderField> trailers) {
  if (transforms_) {
    // The filters' last bytes go before the trailer section.
    if (!transform({}, true)) {
      inner_.reset();
      co_return false;
    }
    if (!out_.empty()) {
      const bool sent = co_await inner_.send_body(out_, false);
      if (!sent) co_return false;
    }
  }
  co_return co_await inner_.send_trailers(trailers);
}

}  // namespace sluice::proxy
