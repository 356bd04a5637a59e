#include "middleware/redis_limiter.h"

#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>

#include "core/socket.h"
#include "core/waiter.h"

namespace sluice::middleware {
namespace {

// token_bucket.h's take_token in microseconds on Redis's clock. KEYS[1]:
// the bucket; ARGV: interval and capacity (µs). Lua numbers are doubles:
// µs since 1970 plus a capacity below 2^62 ns stay exact under 2^53. The
// key expires when the bucket is full again: an idle client costs nothing.
// Answers {1, tokens left} or {0, µs until one token is back}.
constexpr std::string_view kScript = R"(local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or 0
if tat < now then tat = now end
local nxt = tat + interval
if nxt - now > capacity then return {0, nxt - capacity - now} end
redis.call('SET', KEYS[1], string.format('%d', nxt), 'PX', math.ceil((nxt - now) / 1000))
return {1, math.floor((capacity - (nxt - now)) / interval)}
)";

// Without a Redis connection, for this long a worker does not try again:
// requests meanwhile go straight to the local buckets instead of each
// waiting for a timeout.
constexpr std::uint64_t kRetryAfterFailureMs = 1'000;

std::string sha1_hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(text.data(), text.size(), digest, &n, EVP_sha1(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

const std::string& script_sha() {
  static const std::string sha = sha1_hex(kScript);
  return sha;
}

// One command in the Redis protocol (RESP), binary-safe.
std::string format_command(std::initializer_list<std::string_view> args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (std::string_view a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  char* out = nullptr;
  const int n =
      redisFormatCommandArgv(&out, static_cast<int>(argv.size()), argv.data(), lens.data());
  std::string command = n > 0 ? std::string(out, static_cast<std::size_t>(n)) : std::string();
  redisFreeCommand(out);
  return command;
}

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;
struct ReaderDeleter {
  void operator()(redisReader* r) const { redisReaderFree(r); }
};

std::uint64_t remaining_ms(std::uint64_t deadline_ms, std::uint64_t now_ms) {
  return deadline_ms > now_ms ? deadline_ms - now_ms : 1;
}

}  // namespace

// One worker's connection. Used on that worker's thread only.
struct RedisLimiter::Link {
  struct Turn;
  int fd = -1;  // connected and idle, not watched; -1: none
  bool busy = false;
  std::deque<Turn*> queue;  // requests waiting for the connection, in order
  std::uint64_t retry_at_ms = 0;

  ~Link() {
    if (fd >= 0) ::close(fd);
  }

  // Waits for the connection. A turn always has a timeout, so one still
  // armed has not ended yet: that is how release() skips ended ones.
  struct Turn : Waiter {
    Link* link;
    std::uint64_t timeout_ms;
    CancelToken* cancel;
    bool granted = false;
    Turn(Link* l, EventLoop& lp, std::uint64_t t, CancelToken* c)
        : link(l), timeout_ms(t), cancel(c) {
      loop = &lp;
    }
    bool await_ready() {
      if (link->busy) return false;
      link->busy = granted = true;
      return true;
    }
    bool await_suspend(std::coroutine_handle<> h) {
      if (!begin(*loop, h, timeout_ms, cancel)) return false;
      link->queue.push_back(this);
      return true;
    }
    bool await_resume() {
      if (!granted) std::erase(link->queue, this);
      return granted;
    }
  };

  // Hands the connection to the next request still waiting.
  void release() {
    busy = false;
    while (!queue.empty()) {
      Turn* next = queue.front();
      queue.pop_front();
      if (!next->armed()) continue;  // timed out or cancelled already
      busy = next->granted = true;
      next->finish(Errc::ok);
      return;
    }
  }
};

std::unique_ptr<RedisLimiter> RedisLimiter::make(const config::RateLimitRedis& settings,
                                                 const std::string& name, const BucketRule& rule,
                                                 unsigned workers, std::string& error) {
  // Blocking, but this runs at start-up and on reloads, never on a worker.
  auto address = SocketAddress::resolve(settings.address);
  if (!address) {
    error = "redis.address '" + settings.address + "' does not resolve";
    return nullptr;
  }
  return std::unique_ptr<RedisLimiter>(new RedisLimiter(settings, name, *address, rule, workers));
}

RedisLimiter::RedisLimiter(const config::RateLimitRedis& settings, const std::string& name,
                           const SocketAddress& address, const BucketRule& rule, unsigned workers)
    : settings_(settings),
      key_prefix_(settings.prefix + name + ":"),
      address_(address),
      interval_us_(std::to_string(std::max<std::uint64_t>(rule.interval_ns / 1000, 1))),
      capacity_us_(std::to_string(std::max<std::uint64_t>(rule.capacity_ns / 1000, 1))) {
  for (unsigned i = 0; i < std::max(workers, 1u); ++i)
    links_.push_back(std::make_unique<Link>());
}

RedisLimiter::~RedisLimiter() = default;

void RedisLimiter::note_failure(const std::string& why) {
  failures_.fetch_add(1, std::memory_order_relaxed);
  if (!away_.exchange(true, std::memory_order_relaxed)) {
    spdlog::warn(
        "rate_limit redis {}: unreachable ({}): requests fail open to this instance's buckets "
        "until it is back",
        settings_.address, why);
  }
}

void RedisLimiter::note_success() {
  if (away_.load(std::memory_order_relaxed) && away_.exchange(false, std::memory_order_relaxed)) {
    spdlog::warn("rate_limit redis {}: reachable again; the shared budget applies",
                 settings_.address);
  }
}

Task<std::optional<BucketDecision>> RedisLimiter::take(const Context& ctx, std::string_view key) {
  Link& link = *links_[ctx.worker < links_.size() ? ctx.worker : 0];
  EventLoop& loop = *ctx.loop;
  if (loop.now_ms() < link.retry_at_ms) {
    failures_.fetch_add(1, std::memory_order_relaxed);
    co_return std::nullopt;
  }
  const std::uint64_t timeout_ms = static_cast<std::uint64_t>(settings_.timeout.count());
  const std::uint64_t deadline_ms = loop.now_ms() + timeout_ms;
  // The turn lives in this frame: release() reaches it only while it is
  // queued, and await_resume takes it out of the queue.
  Link::Turn turn(&link, loop, timeout_ms, ctx.cancel);
  if (!co_await turn) {
    if (ctx.cancel != nullptr && ctx.cancel->cancelled()) co_return std::nullopt;
    note_failure("no answer within " + std::to_string(timeout_ms) + " ms");
    co_return std::nullopt;
  }
  std::string why;
  bool stale = false;
  std::optional<BucketDecision> d = co_await ask(ctx, link, key, deadline_ms, why, stale);
  if (!d && stale) {
    // A kept connection Redis had closed (a restart, its idle timeout): one
    // more try on a fresh one before calling Redis away.
    d = co_await ask(ctx, link, key, deadline_ms, why, stale);
  }
  link.release();
  if (d) {
    note_success();
  } else if (ctx.cancel == nullptr || !ctx.cancel->cancelled()) {
    link.retry_at_ms = loop.now_ms() + kRetryAfterFailureMs;
    note_failure(why);
  }
  co_return d;
}

// One EVALSHA (and an EVAL when Redis does not know the script yet) on the
// link's connection, opened if needed. On any failure the connection is
// closed and `why` says what happened; `stale`: it was a kept connection
// that turned out closed before it answered anything.
Task<std::optional<BucketDecision>> RedisLimiter::ask(const Context& ctx, Link& link,
                                                      std::string_view key,
                                                      std::uint64_t deadline_ms, std::string& why,
                                                      bool& stale) {
  EventLoop& loop = *ctx.loop;
  const bool reused = link.fd >= 0;
  stale = false;
  if (!reused) {
    auto fd =
        co_await connect_to(loop, address_, remaining_ms(deadline_ms, loop.now_ms()), ctx.cancel);
    if (!fd) {
      why = fd.code() == Errc::timeout ? "connect timed out"
                                       : "connect failed: " + std::string(to_string(fd.code()));
      co_return std::nullopt;
    }
    set_nodelay(*fd);
    link.fd = *fd;
  }
  Socket sock(loop, link.fd);
  link.fd = -1;  // the socket owns it now; given back below on success
  const std::string full_key = key_prefix_ + std::string(key);
  std::unique_ptr<redisReader, ReaderDeleter> reader(redisReaderCreate());
  bool sent_script = false;
  std::string command =
      format_command({"EVALSHA", script_sha(), "1", full_key, interval_us_, capacity_us_});
  while (true) {
    if (!co_await sock.write(command, remaining_ms(deadline_ms, loop.now_ms()))) {
      why = "request not sent";
      stale = reused && !sent_script;
      co_return std::nullopt;
    }
    Reply reply;
    char buf[512];
    while (!reply) {
      void* r = nullptr;
      if (redisReaderGetReply(reader.get(), &r) != REDIS_OK) {
        why = std::string("bad reply: ") + reader->errstr;
        co_return std::nullopt;
      }
      reply.reset(static_cast<redisReply*>(r));
      if (reply) break;
      auto n = co_await sock.read(buf, remaining_ms(deadline_ms, loop.now_ms()));
      if (!n) {
        why = n.code() == Errc::timeout
                  ? "no answer within " + std::to_string(settings_.timeout.count()) + " ms"
                  : "connection " + std::string(to_string(n.code()));
        stale = reused && !sent_script && (n.code() == Errc::closed || n.code() == Errc::reset);
        co_return std::nullopt;
      }
      redisReaderFeed(reader.get(), buf, *n);
    }
    if (reply->type == REDIS_REPLY_ERROR && !sent_script &&
        std::string_view(reply->str, reply->len).starts_with("NOSCRIPT")) {
      // EVAL also caches the script: later requests go by its digest.
      sent_script = true;
      command = format_command({"EVAL", kScript, "1", full_key, interval_us_, capacity_us_});
      continue;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER ||
        reply->element[1]->type != REDIS_REPLY_INTEGER) {
      why = reply->type == REDIS_REPLY_ERROR ? "error: " + std::string(reply->str, reply->len)
                                             : "unexpected reply";
      co_return std::nullopt;
    }
    BucketDecision d;
    d.allowed = reply->element[0]->integer == 1;
    const auto value = static_cast<std::uint64_t>(std::max(0LL, reply->element[1]->integer));
    if (d.allowed) {
      d.remaining = value;
    } else {
      d.retry_after_ns = value * 1000;
    }
    link.fd = sock.release();
    co_return d;
  }
}

}  // namespace sluice::middleware
