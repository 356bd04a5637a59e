// The etcd client (src/fleet/etcd_client.h) against a real etcd on
// loopback: reads, transactions, watches, compaction, a stopped server,
// authentication and TLS; and against servers that answer garbage.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fleet/etcd_client.h"
#include "support/etcd_process.h"
#include "support/free_port.h"
#include "support/test_backend.h"

namespace sluice::fleet {
namespace {

using test::EtcdOptions;
using test::EtcdProcess;
using namespace std::chrono_literals;

EtcdSettings settings_for(const EtcdProcess& etcd) {
  EtcdSettings s;
  s.endpoints = {etcd.endpoint()};
  s.prefix = "/sluice/";
  return s;
}

void put(const EtcdProcess& etcd, const std::string& key, const std::string& value) {
  const auto r = etcd.etcdctl({"put", key, value});
  ASSERT_EQ(r.exit_code, 0) << r.output;
}

std::vector<std::string> keys_of(const EtcdRange& range) {
  std::vector<std::string> keys;
  for (const auto& kv : range.kvs)
    keys.push_back(kv.key);
  return keys;
}

// Runs a watch on its own thread, handing over the batches it sees.
class WatchThread {
 public:
  WatchThread(EtcdClient& client, std::int64_t start_revision, std::size_t stop_after_batches = 0)
      : stop_after_(stop_after_batches) {
    result_ = std::async(std::launch::async, [this, &client, start_revision] {
      return client.watch_prefix(
          start_revision,
          [this](const EtcdWatchBatch& batch) {
            std::lock_guard lock(mutex_);
            batches_.push_back(batch);
            cv_.notify_all();
            return stop_after_ == 0 || batches_.size() < stop_after_;
          },
          stop, &compact_revision);
    });
  }
  ~WatchThread() {
    stop = true;
    if (result_.valid()) result_.wait();
  }
  bool wait_for_batches(std::size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return batches_.size() >= n; });
  }
  std::vector<EtcdWatchBatch> batches() {
    std::lock_guard lock(mutex_);
    return batches_;
  }
  // The watch's end, or nullopt if it has not ended within `timeout`.
  std::optional<EtcdWatchEnd> end(std::chrono::milliseconds timeout = 10s) {
    if (result_.wait_for(timeout) != std::future_status::ready) return std::nullopt;
    return result_.get();
  }

  std::atomic<bool> stop{false};
  std::int64_t compact_revision = 0;

 private:
  std::size_t stop_after_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<EtcdWatchBatch> batches_;
  std::future<EtcdWatchEnd> result_;
};

TEST(EtcdClient, RangeReturnsEveryKeyUnderThePrefixSortedWithItsRevision) {
  EtcdProcess etcd;
  ASSERT_TRUE(etcd.ready()) << etcd.output();
  put(etcd, "/sluice/routes/b", "route b");
  put(etcd, "/sluice/routes/a", "route a: {path: /}");
  put(etcd, "/sluicex/routes/c", "beside the prefix");
  put(etcd, "/other", "elsewhere");

  EtcdClient client(settings_for(etcd));
  const auto range = client.range_prefix();
  ASSERT_TRUE(range) << range.error.message;
  EXPECT_EQ(keys_of(*range.value),
            (std::vector<std::string>{"/sluice/routes/a", "/sluice/routes/b"}));
  EXPECT_EQ(range.value->kvs[0].value, "route a: {path: /}");
  EXPECT_EQ(range.value->kvs[1].value, "route b");
  // Four puts after the store's first revision (1).
  EXPECT_EQ(range.value->revision, 5);
  EXPECT_EQ(range.value->kvs[0].mod_revision, 3);
  EXPECT_EQ(range.value->kvs[1].mod_revision, 2);

  const auto empty = client.range_prefix("/nothing/");
  ASSERT_TRUE(empty) << empty.error.message;
  EXPECT_TRUE(empty.value->kvs.empty());
  EXPECT_EQ(empty.value->revision, 5);
}

TEST(EtcdClient, TxnPutsAndDeletesEveryKeyInOneRevision) {
  EtcdProcess etcd;
  ASSERT_TRUE(etcd.ready()) << etcd.output();
  put(etcd, "/sluice/routes/old", "gone soon");
  EtcdClient client(settings_for(etcd));

  EtcdTxn txn;
  txn.puts = {{"/sluice/generation", "1"},
              {"/sluice/routes/a", "a"},
              {"/sluice/routes/binary", std::string("\0\xff\n\"\\", 5)}};
  txn.deletes = {"/sluice/routes/old"};
  const auto outcome = client.txn(txn);
  ASSERT_TRUE(outcome) << outcome.error.message;
  EXPECT_TRUE(outcome.value->succeeded);
  EXPECT_EQ(outcome.value->revision, 3);

  const auto range = client.range_prefix();
  ASSERT_TRUE(range) << range.error.message;
  EXPECT_EQ(keys_of(*range.value),
            (std::vector<std::string>{"/sluice/generation", "/sluice/routes/a",
                                      "/sluice/routes/binary"}));
  for (const auto& kv : range.value->kvs)
    EXPECT_EQ(kv.mod_revision, 3) << kv.key;
  EXPECT_EQ(range.value->kvs[2].value, std::string("\0\xff\n\"\\", 5));
  const auto seen = etcd.etcdctl({"get", "/sluice/routes/a", "--print-value-only"});
  EXPECT_EQ(seen.output, "a\n");
}

TEST(EtcdClient, ConditionalTxnWritesNothingWhenGenerationMovedMeanwhile) {
  EtcdProcess etcd;
  ASSERT_TRUE(etcd.ready()) << etcd.output();
  EtcdClient client(settings_for(etcd));

  EtcdTxn first;
  first.expect_generation_mod_revision = 0;  // no generation yet
  first.puts = {{"/sluice/generation", "1"}, {"/sluice/routes/a", "a1"}};
  const auto created = client.txn(first);
  ASSERT_TRUE(created) << created.error.message;
  ASSERT_TRUE(created.value->succeeded);

  // Someone else bumps the generation.
  put(etcd, "/sluice/generation", "2");

  EtcdTxn late;
  late.expect_generation_mod_revision = created.value->revision;
  late.puts = {{"/sluice/generation", "2"}, {"/sluice/routes/a", "a2"}};
  const auto refused = client.txn(late);
  ASSERT_TRUE(refused) << refused.error.message;
  EXPECT_FALSE(refused.value->succeeded);
  EXPECT_EQ(refused.value->revision, 3);  // nothing written by it
  EXPECT_EQ(etcd.etcdctl({"get", "/sluice/routes/a", "--print-value-only"}).output, "a1\n");

  late.expect_generation_mod_revision = 3;
  const auto retried = client.txn(late);
  ASSERT_TRUE(retried) << retried.error.message;
  EXPECT_TRUE(retried.value->succeeded);
  EXPECT_EQ(etcd.etcdctl({"get", "/sluice/routes/a", "--print-value-only"}).output, "a2\n");
}

TEST(EtcdClient, WatchSeesATransactionsEventsAsOneBatch) {
  EtcdProcess etcd;
  ASSERT_TRUE(etcd.ready()) << etcd.output();
  put(etcd, "/sluice/routes/old", "x");
  EtcdClient writer(settings_for(etcd));
  EtcdClient watcher(settings_for(etcd));
  const auto range = watcher.range_prefix();
  ASSERT_TRUE(range) << range.error.message;

  WatchThread watch(watcher, range.value->revision + 1, 2);
  put(etcd, "/elsewhere", "not watched");
  EtcdTxn txn;
  txn.puts = {{"/sluice/generation", "1"}, {"/sluice/routes/a", "a"}, {"/sluice/routes/b", "b"}};
  txn.deletes = {"/sluice/routes/old"};
  const auto outcome = writer.txn(txn);
  ASSERT_TRUE(outcome) << outcome.error.message << "\n" << etcd.output();
  put(etcd, "/sluice/routes/c", "c");

  ASSERT_TRUE(watch.wait_for_batches(2));
  EXPECT_EQ(watch.end(), EtcdWatchEnd::stopped);  // on_batch said false after two
  const auto batches = watch.batches();
  ASSERT_EQ(batches.size(), 2u);
  const EtcdWatchBatch& batch = batches[0];
  EXPECT_EQ(batch.revision, outcome.value->revision);
  ASSERT_EQ(batch.events.size(), 4u);
  EXPECT_EQ(batch.events[0].kind, EtcdWatchEvent::Kind::put);
  EXPECT_EQ(batch.events[0].kv.key, "/sluice/generation");
  EXPECT_EQ(batch.events[0].kv.value, "1");
  EXPECT_EQ(batch.events[2].kv.key, "/sluice/routes/b");
  EXPECT_EQ(batch.events[3].kind, EtcdWatchEvent::Kind::del);
  EXPECT_EQ(batch.events[3].kv.key, "/sluice/routes/old");
  EXPECT_EQ(batch.events[3].kv.value, "");
  for (const auto& e : batch.events)
    EXPECT_EQ(e.kv.mod_revision, outcome.value->revision);
  ASSERT_EQ(batches[1].events.size(), 1u);
  EXPECT_EQ(batches[1].events[0].kv.key, "/sluice/routes/c");
}

TEST(EtcdClient, WatchFromACompactedRevisionEndsWithCompacted) {
  EtcdProcess etcd;
  ASSERT_TRUE(etcd.ready()) << etcd.output();
  for (int i = 0; i < 4; ++i)
    put(etcd, "/sluice/routes/a", "v" + std::to_string(i));
  EtcdClient client(settings_for(etcd));
  const auto compacted = client.compact(4);
  ASSERT_TRUE(compacted) << compacted.error.message;

  WatchThread watch(client, 2);
  ASSERT_EQ(watch.end(), EtcdWatchEnd::compacted);
  EXPECT_EQ(watch.compact_revision, 4);
  EXPECT_TRUE(watch.batches().empty());
}

TEST(EtcdClient, StopFlagEndsAQuietWatchQuickly) {
  EtcdProcess etcd;
  ASSERT_TRUE(etcd.ready()) << etcd.output();
  EtcdClient client(settings_for(etcd));
  WatchThread watch(client, 1);
  put(etcd, "/sluice/generation", "1");
  ASSERT_TRUE(watch.wait_for_batches(1));  // the watch is running

  const auto before = std::chrono::steady_clock::now();
  watch.stop = true;
  const auto end = watch.end(5s);
  const auto took = std::chrono::steady_clock::now() - before;
  EXPECT_EQ(end, EtcdWatchEnd::stopped);
  EXPECT_LT(took, 1s) << "the stop flag is looked at every 100 ms";
}

TEST(EtcdClient, StopFlagEndsAWatchStillShakingHandsWithAFrozenEtcd) {
  EtcdOptions options;
  options.tls = true;
  EtcdProcess etcd(options);
  ASSERT_TRUE(etcd.ready()) << etcd.output();
  EtcdSettings s = settings_for(etcd);
  s.ca_file = etcd.ca_path();
  s.timeout_ms = 5'000;
  EtcdClient client(s);
  etcd.freeze();  // the kernel still accepts; the TLS handshake never ends
  const auto before = std::chrono::steady_clock::now();
  std::optional<EtcdWatchEnd> end;
  {
    WatchThread watch(client, 1);
    watch.stop = true;
    end = watch.end(10s);
  }
  const auto took = std::chrono::steady_clock::now() - before;
  etcd.thaw();
  EXPECT_EQ(end, EtcdWatchEnd::stopped);
  EXPECT_LT(took, 1s);
}

TEST(EtcdClient, StoppedEtcdGivesAnUnavailableErrorAndEndsTheWatch) {
  EtcdProcess etcd;
  ASSERT_TRUE(etcd.ready()) << etcd.output();
  EtcdClient client(settings_for(etcd));
  ASSERT_TRUE(client.range_prefix());      // a kept-alive connection now exists
  EtcdClient watcher(settings_for(etcd));  // a client is for one thread
  WatchThread watch(watcher, 1);
  put(etcd, "/sluice/generation", "1");
  ASSERT_TRUE(watch.wait_for_batches(1));

  etcd.stop();
  EXPECT_EQ(watch.end(5s), EtcdWatchEnd::broken);
  const auto range = client.range_prefix();
  ASSERT_FALSE(range);
  EXPECT_TRUE(range.error.unavailable);
  EXPECT_EQ(range.error.message, "etcd " + etcd.endpoint() + ": connection refused");
  EXPECT_EQ(client.last_error().message, range.error.message);

  // Back on the same data and port: the same client reads again.
  ASSERT_TRUE(etcd.start()) << etcd.output();
  const auto again = client.range_prefix();
  ASSERT_TRUE(again) << again.error.message;
  EXPECT_EQ(keys_of(*again.value), std::vector<std::string>{"/sluice/generation"});
}

TEST(EtcdClient, RestartedEtcdIsReadOnTheKeptClientWithoutAnError) {
  EtcdProcess etcd;
  ASSERT_TRUE(etcd.ready()) << etcd.output();
  put(etcd, "/sluice/generation", "1");
  EtcdClient client(settings_for(etcd));
  ASSERT_TRUE(client.range_prefix());
  ASSERT_TRUE(etcd.start()) << etcd.output();  // stops, then starts again
  // The kept connection died with the old process; the client notices it
  // only when it uses it, and then connects anew.
  const auto range = client.range_prefix();
  ASSERT_TRUE(range) << range.error.message;
  EXPECT_EQ(keys_of(*range.value), std::vector<std::string>{"/sluice/generation"});
}

TEST(EtcdClient, AnEndpointThatRefusesIsSkippedForTheNextOneByReadsAndWatches) {
  EtcdProcess etcd;
  ASSERT_TRUE(etcd.ready()) << etcd.output();
  put(etcd, "/sluice/generation", "1");
  test::RefusingPort dead;
  EtcdSettings s = settings_for(etcd);
  s.endpoints = {"http://" + dead.address(), etcd.endpoint()};
  EtcdClient client(s);
  const auto range = client.range_prefix();
  ASSERT_TRUE(range) << range.error.message;
  EXPECT_EQ(range.value->kvs.size(), 1u);

  EtcdClient watcher(s);
  WatchThread watch(watcher, 1, 1);
  EXPECT_TRUE(watch.wait_for_batches(1)) << watcher.last_error().message;
}

TEST(EtcdClient, AuthenticatesWithUsernameAndPassword) {
  EtcdProcess etcd;
  ASSERT_TRUE(etcd.ready()) << etcd.output();
  std::string error;
  ASSERT_TRUE(etcd.enable_auth("s3cret \"quoted\"", &error)) << error;

  EtcdClient anonymous(settings_for(etcd));
  const auto refused = anonymous.range_prefix();
  ASSERT_FALSE(refused);
  EXPECT_FALSE(refused.error.unavailable);
  EXPECT_EQ(refused.error.message, "etcd " + etcd.endpoint() + ": etcdserver: user name is empty");

  EtcdSettings wrong = settings_for(etcd);
  wrong.username = "root";
  wrong.password = "guess";
  EtcdClient guesser(wrong);
  const auto denied = guesser.range_prefix();
  ASSERT_FALSE(denied);
  EXPECT_FALSE(denied.error.unavailable);
  EXPECT_NE(denied.error.message.find("authentication failed"), std::string::npos)
      << denied.error.message;

  EtcdSettings right = settings_for(etcd);
  right.username = "root";
  right.password = "s3cret \"quoted\"";
  EtcdClient client(right);
  EtcdTxn txn;
  txn.puts = {{"/sluice/generation", "1"}};
  const auto written = client.txn(txn);
  ASSERT_TRUE(written) << written.error.message;
  EXPECT_TRUE(written.value->succeeded);
  const auto range = client.range_prefix();
  ASSERT_TRUE(range) << range.error.message;
  EXPECT_EQ(keys_of(*range.value), std::vector<std::string>{"/sluice/generation"});

  EtcdClient watcher(right);  // a client is for one thread
  WatchThread watch(watcher, range.value->revision + 1, 1);
  txn.puts = {{"/sluice/generation", "2"}};
  ASSERT_TRUE(client.txn(txn));
  ASSERT_TRUE(watch.wait_for_batches(1)) << watcher.last_error().message;
  EXPECT_EQ(watch.batches()[0].events[0].kv.value, "2");
}

TEST(EtcdClient, AuthenticatesAgainWhenEtcdForgetsTheToken) {
  EtcdProcess etcd;
  ASSERT_TRUE(etcd.ready()) << etcd.output();
  std::string error;
  ASSERT_TRUE(etcd.enable_auth("pw", &error)) << error;
  EtcdSettings s = settings_for(etcd);
  s.username = "root";
  s.password = "pw";
  EtcdClient client(s);
  EtcdClient watcher(s);
  ASSERT_TRUE(client.range_prefix()) << client.last_error().message;
  ASSERT_TRUE(watcher.range_prefix()) << watcher.last_error().message;
  ASSERT_TRUE(etcd.reset_root_password("pw", &error)) << error;

  const auto range = client.range_prefix();
  EXPECT_TRUE(range) << range.error.message;
  WatchThread watch(watcher, 1, 1);
  EtcdTxn txn;
  txn.puts = {{"/sluice/generation", "1"}};
  ASSERT_TRUE(client.txn(txn)) << client.last_error().message;
  EXPECT_TRUE(watch.wait_for_batches(1)) << watcher.last_error().message;
}

TEST(EtcdClient, SpeaksTlsToAnHttpsEtcdVerifiedWithItsCa) {
  EtcdOptions options;
  options.tls = true;
  EtcdProcess etcd(options);
  ASSERT_TRUE(etcd.ready()) << etcd.output();
  EtcdSettings s = settings_for(etcd);
  s.ca_file = etcd.ca_path();
  EtcdClient client(s);
  EtcdTxn txn;
  txn.puts = {{"/sluice/generation", "1"}};
  const auto written = client.txn(txn);
  ASSERT_TRUE(written) << written.error.message;
  const auto range = client.range_prefix();
  ASSERT_TRUE(range) << range.error.message;
  EXPECT_EQ(keys_of(*range.value), std::vector<std::string>{"/sluice/generation"});
  EtcdClient watcher(s);
  WatchThread watch(watcher, 1, 1);
  EXPECT_TRUE(watch.wait_for_batches(1)) << watcher.last_error().message;

  // Without the CA, the system's trust store does not know it.
  EtcdClient untrusting(settings_for(etcd));
  const auto refused = untrusting.range_prefix();
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error.message.find("certificate verify failed"), std::string::npos)
      << refused.error.message;
}

TEST(EtcdClient, AnUnreadableCaFileFailsEveryCallNamingTheFile) {
  EtcdSettings s;
  s.endpoints = {"https://127.0.0.1:2379"};
  s.ca_file = "/nonexistent/etcd-ca.pem";
  EtcdClient client(s);
  const auto range = client.range_prefix();
  ASSERT_FALSE(range);
  EXPECT_FALSE(range.error.unavailable);  // retrying will not help
  EXPECT_NE(range.error.message.find("/nonexistent/etcd-ca.pem"), std::string::npos)
      << range.error.message;
  std::atomic<bool> stop{false};
  EXPECT_EQ(client.watch_prefix(
                1, [](const EtcdWatchBatch&) { return true; }, stop, nullptr),
            EtcdWatchEnd::broken);
  EXPECT_EQ(client.last_error().message, range.error.message);
}

TEST(EtcdClient, AnEndpointThatIsNoUrlIsARefusal) {
  for (const std::string url :
       {"127.0.0.1:2379", "http://", "http://host:99999", "http://host/path", "ftp://host"}) {
    EtcdSettings s;
    s.endpoints = {url};
    EtcdClient client(s);
    const auto range = client.range_prefix();
    ASSERT_FALSE(range) << url;
    EXPECT_FALSE(range.error.unavailable) << url;
    EXPECT_TRUE(range.error.message.starts_with("etcd endpoint " + url + ": "))
        << range.error.message;
  }
}

TEST(EtcdClient, PresentsAClientCertificateWhenEtcdAsksForOne) {
  EtcdOptions options;
  options.tls = true;
  options.client_cert_auth = true;
  EtcdProcess etcd(options);
  ASSERT_TRUE(etcd.ready()) << etcd.output();
  EtcdSettings s = settings_for(etcd);
  s.ca_file = etcd.ca_path();
  EtcdClient anonymous(s);
  EXPECT_FALSE(anonymous.range_prefix());

  s.cert_file = etcd.client_cert_path();
  s.key_file = etcd.client_key_path();
  EtcdClient client(s);
  const auto range = client.range_prefix();
  EXPECT_TRUE(range) << range.error.message << "\n" << etcd.output();
}

TEST(EtcdClient, AWatchCatchingUpGivesEachBatchTheRevisionOfItsLastEvent) {
  EtcdProcess etcd;
  ASSERT_TRUE(etcd.ready()) << etcd.output();
  EtcdClient writer(settings_for(etcd));
  // etcd sends a catching-up watch at most 1,000 revisions per message,
  // each message's header naming the store's current revision: a watcher
  // that resumed from that one after a break would skip the rest.
  constexpr int kRevisions = 1'500;
  for (int i = 0; i < kRevisions; ++i) {
    EtcdTxn txn;
    txn.puts = {{"/sluice/routes/r" + std::to_string(i % 7), std::to_string(i)}};
    ASSERT_TRUE(writer.txn(txn)) << writer.last_error().message;
  }
  EtcdClient watcher(settings_for(etcd));
  std::vector<EtcdWatchBatch> batches;
  std::atomic<bool> stop{false};
  std::size_t events = 0;
  const auto end = watcher.watch_prefix(
      2,
      [&](const EtcdWatchBatch& b) {
        batches.push_back(b);
        events += b.events.size();
        return events < kRevisions;
      },
      stop, nullptr);
  ASSERT_EQ(end, EtcdWatchEnd::stopped) << watcher.last_error().message;
  ASSERT_GE(batches.size(), 2u);
  for (const auto& b : batches) {
    EXPECT_EQ(b.revision, b.events.back().kv.mod_revision);
  }
  EXPECT_EQ(batches.back().revision, kRevisions + 1);
}

TEST(EtcdClient, FiveThousandKeysInOneTxnArriveAsOneWatchBatchAndOneRange) {
  EtcdProcess etcd;
  ASSERT_TRUE(etcd.ready()) << etcd.output();
  // About a second on a machine busy with other tests; the bound is for an
  // etcd that answers nothing.
  EtcdSettings patient = settings_for(etcd);
  patient.timeout_ms = 60'000;
  EtcdClient writer(patient);
  EtcdClient watcher(patient);
  WatchThread watch(watcher, 1, 3);
  EtcdTxn txn;
  const std::string value = "{path_prefix: /service, backend: pool, middlewares: [auth, limit]}";
  for (int i = 0; i < 5000; ++i) {
    txn.puts.emplace_back("/sluice/routes/route-" + std::to_string(10000 + i), value);
  }
  txn.puts.emplace_back("/sluice/generation", "1");
  const auto before = std::chrono::steady_clock::now();
  const auto outcome = writer.txn(txn);
  ASSERT_TRUE(outcome) << outcome.error.message;
  ASSERT_TRUE(watch.wait_for_batches(1)) << watcher.last_error().message;
  const auto watched = std::chrono::steady_clock::now();
  const auto range = writer.range_prefix();
  ASSERT_TRUE(range) << range.error.message;
  const auto ranged = std::chrono::steady_clock::now();
  using ms = std::chrono::milliseconds;
  std::printf("[etcd] 5001 keys: txn + watch batch %lld ms, range %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<ms>(watched - before).count()),
              static_cast<long long>(std::chrono::duration_cast<ms>(ranged - watched).count()));
  const auto batches = watch.batches();
  ASSERT_EQ(batches[0].events.size(), 5001u);
  EXPECT_EQ(batches[0].events[4999].kv.key, "/sluice/routes/route-14999");
  EXPECT_EQ(batches[0].events[4999].kv.value, value);
  ASSERT_EQ(range.value->kvs.size(), 5001u);
  EXPECT_EQ(range.value->kvs[0].key, "/sluice/generation");
  EXPECT_EQ(range.value->kvs[5000].value, value);

  // Deletes are the densest events etcd sends (no value): 5,000 of them
  // with short keys still read as one batch.
  EtcdTxn short_keys;
  EtcdTxn removal;
  for (int i = 0; i < 5000; ++i) {
    short_keys.puts.emplace_back("/sluice/r" + std::to_string(i), "");
    removal.deletes.push_back("/sluice/r" + std::to_string(i));
  }
  ASSERT_TRUE(writer.txn(short_keys)) << writer.last_error().message;
  ASSERT_TRUE(writer.txn(removal)) << writer.last_error().message;
  ASSERT_TRUE(watch.wait_for_batches(3)) << watcher.last_error().message;
  const auto deleted = watch.batches()[2];
  ASSERT_EQ(deleted.events.size(), 5000u);
  EXPECT_EQ(deleted.events[0].kind, EtcdWatchEvent::Kind::del);
}

// A gateway impostor: answers the first request on each connection with
// `reply` (whole bytes on the wire), then closes it.
class Impostor {
 public:
  explicit Impostor(std::string reply)
      : backend_([reply = std::move(reply)](test::BackendConnection& c) {
          test::ReceivedRequest request;
          if (c.read_request(request)) c.send(reply);
        }) {}
  EtcdSettings settings(std::uint64_t timeout_ms = 5'000) const {
    EtcdSettings s;
    s.endpoints = {"http://" + backend_.address()};
    s.timeout_ms = timeout_ms;
    return s;
  }
  std::string url() const { return "http://" + backend_.address(); }
  test::TestBackend& backend() { return backend_; }

 private:
  test::TestBackend backend_;
};

std::string ok_json(const std::string& body) {
  return test::make_response(200, body, {"Content-Type: application/json"});
}

// A watch answer: the head, then each message as one chunk.
std::string watch_stream(const std::vector<std::string>& messages) {
  std::string body;
  for (const auto& m : messages)
    body += m + "\n";
  return test::make_response(200, "", {"Transfer-Encoding: chunked"}) + test::chunk_body(body, 64);
}

const std::string kCreated = R"({"result":{"header":{"revision":"5"},"created":true}})";

TEST(EtcdClientHostile, AnAnswerThatIsNotJsonIsAnErrorNamingTheServer) {
  for (const std::string& body : {
           std::string("<html>hello</html>"),
           std::string("{\"header\": &anchor {\"revision\": \"1\"}}"),  // YAML, not JSON
           std::string("{\"header\": {\"revision\": \"1\"}} trailing"),
           std::string("{\"header\": {\"revision\": \"1\"},}"),
           std::string("{\"header\": {\"revision\": \"1\"}} // a comment"),
           std::string("{'header': {'revision': '1'}}"),
           std::string("{\"header\": {\"revision\": \"1\"}, \"kvs\": [], \"x\": \"a\tb\"}"),
           std::string("{\"header\": {\"revision\": \"1\"}, \"x\": \"\\ud800\"}"),
           std::string("{\"header\": {\"revision\": 01}}"),
           std::string("{\"header\": {\"revision\": \"1\"}"),  // cut short
           std::string("{\"header\": {\"revision\": \"one\"}}"),
           std::string("{\"header\": {}, \"kvs\": [{\"key\": \"not base64!\"}]}"),
           std::string("{\"header\": {}, \"kvs\": {\"key\": \"L3NsdWljZS9h\"}}"),
           std::string("{\"header\": {}, \"kvs\": [{\"key\": \"L290aGVy\"}]}"),  // "/other"
           std::string(100'000, '[') + std::string(100'000, ']'),
           "{\"a\":" + std::string(100'000, '[') + std::string(100'000, ']') + "}",
       }) {
    Impostor impostor(ok_json(body));
    EtcdClient client(impostor.settings());
    const auto range = client.range_prefix();
    ASSERT_FALSE(range) << body.substr(0, 80);
    EXPECT_TRUE(range.error.unavailable);
    EXPECT_TRUE(range.error.message.starts_with("etcd " + impostor.url() + ": malformed answer"))
        << range.error.message;
  }
}

TEST(EtcdClientHostile, AnAnswerOfCountlessTinyValuesIsRefusedBeforeItSwellsMemory) {
  // 4 MB of "0," would be two million values of ~90 bytes each once read.
  std::string body = R"({"header":{"revision":"1"},"kvs":[)";
  for (int i = 0; i < 2'000'000; ++i)
    body += "0,";
  body += "0]}";
  Impostor impostor(ok_json(body));
  EtcdClient client(impostor.settings());
  const auto range = client.range_prefix();
  ASSERT_FALSE(range);
  EXPECT_NE(range.error.message.find("too many JSON values for its size"), std::string::npos)
      << range.error.message;
}

TEST(EtcdClientHostile, AMalformedOrEndlessAnswerIsRefusedWithinItsBounds) {
  struct Case {
    std::string reply;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{}", "malformed"},
           {"SSH-2.0-OpenSSH\r\n\r\n", "malformed response head"},
           {"HTTP/1.1 200 OK\r\n" + std::string(20'000, 'x') + "\r\n\r\n",
            "header section too large"},
           {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "malformed response body"},
           {"HTTP/1.1 200 OK\r\nContent-Length: 100000000000\r\n\r\n{", "larger than"},
           {"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{", "closed inside a response body"},
       }) {
    Impostor impostor(c.reply);
    EtcdClient client(impostor.settings());
    const auto range = client.range_prefix();
    ASSERT_FALSE(range) << c.reply.substr(0, 60);
    EXPECT_NE(range.error.message.find(c.says), std::string::npos) << range.error.message;
  }
}

TEST(EtcdClientHostile, AServerThatNeverAnswersTimesOut) {
  EtcdProcess etcd;
  ASSERT_TRUE(etcd.ready()) << etcd.output();
  etcd.freeze();
  EtcdSettings s = settings_for(etcd);
  s.timeout_ms = 300;
  EtcdClient client(s);
  const auto before = std::chrono::steady_clock::now();
  const auto range = client.range_prefix();
  const auto took = std::chrono::steady_clock::now() - before;
  etcd.thaw();
  ASSERT_FALSE(range);
  EXPECT_TRUE(range.error.unavailable);
  EXPECT_EQ(range.error.message, "etcd " + etcd.endpoint() + ": timed out");
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 2s);
}

TEST(EtcdClientHostile, AGarbledWatchMessageBreaksTheWatchAfterTheGoodOnes) {
  Impostor impostor(watch_stream({
      kCreated,
      R"({"result":{"header":{"revision":"6"},"events":[{"kv":{"key":"L3NsdWljZS9h","mod_revision":"6","value":"MQ=="}}]}})",
      R"({"result":{"header":{"revision":"7"},"events":[{"type":"EXPLODE","kv":{"key":"L3NsdWljZS9h"}}]}})",
  }));
  EtcdClient client(impostor.settings());
  std::vector<EtcdWatchBatch> seen;
  std::atomic<bool> stop{false};
  const auto end = client.watch_prefix(
      6,
      [&](const EtcdWatchBatch& b) {
        seen.push_back(b);
        return true;
      },
      stop, nullptr);
  EXPECT_EQ(end, EtcdWatchEnd::broken);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].events[0].kv.key, "/sluice/a");
  EXPECT_EQ(seen[0].events[0].kv.value, "1");
  EXPECT_EQ(client.last_error().message, "etcd " + impostor.url() + ": malformed watch event");
  EXPECT_TRUE(client.last_error().unavailable);
}

TEST(EtcdClientHostile, AWatchMessageWithoutEndIsCutOffAtItsBound) {
  // 33 MiB without a newline, in 1 MiB chunks.
  std::string reply = test::make_response(200, "", {"Transfer-Encoding: chunked"});
  const std::string chunk = "100000\r\n" + std::string(1 << 20, 'a') + "\r\n";
  Impostor impostor("");
  test::TestBackend endless([&](test::BackendConnection& c) {
    test::ReceivedRequest request;
    if (!c.read_request(request)) return;
    if (!c.send(reply)) return;
    for (int i = 0; i < 33; ++i) {
      if (!c.send(chunk)) return;
    }
    c.wait_closed();
  });
  EtcdSettings s;
  s.endpoints = {"http://" + endless.address()};
  EtcdClient client(s);
  std::atomic<bool> stop{false};
  const auto end = client.watch_prefix(
      1, [](const EtcdWatchBatch&) { return true; }, stop, nullptr);
  EXPECT_EQ(end, EtcdWatchEnd::broken);
  EXPECT_NE(client.last_error().message.find("a watch message larger than"), std::string::npos)
      << client.last_error().message;
}

TEST(EtcdClientHostile, AWatchTheServerEndsIsBrokenNotStopped) {
  Impostor impostor(watch_stream({kCreated}) + "0\r\n\r\n");
  EtcdClient client(impostor.settings());
  std::atomic<bool> stop{false};
  const auto end = client.watch_prefix(
      1, [](const EtcdWatchBatch&) { return true; }, stop, nullptr);
  EXPECT_EQ(end, EtcdWatchEnd::broken);
  EXPECT_EQ(client.last_error().message, "etcd " + impostor.url() + ": etcd ended the watch");
}

TEST(EtcdClientHostile, ARefusalsLineBreaksDoNotReachTheErrorMessage) {
  Impostor impostor(test::make_response(
      400, R"({"error":"x","message":"bad\n2026-12-02 [info] forged line","code":3})"));
  EtcdClient client(impostor.settings());
  const auto range = client.range_prefix();
  ASSERT_FALSE(range);
  EXPECT_FALSE(range.error.unavailable);
  EXPECT_EQ(range.error.message, "etcd " + impostor.url() + ": bad?2026-12-02 [info] forged line");
}

TEST(EtcdClientHostile, EveryOneByteCorruptionOrCutOfAnAnswerIsReadOrRefusedWithoutHarm) {
  const std::string good =
      R"({"header":{"revision":"9"},"kvs":[{"key":"L3NsdWljZS9h","mod_revision":"3",)"
      R"("value":"eCJ5XHo="},{"key":"L3NsdWljZS9i","mod_revision":"4"}],"count":"2"})";
  std::vector<std::string> answers;
  for (std::size_t at = 0; at < good.size(); ++at) {
    for (const char c : std::string("\"\\{}[],:0Ae\x80 ") + '\0') {
      std::string bad = good;
      bad[at] = c;
      answers.push_back(std::move(bad));
    }
    answers.push_back(good.substr(0, at));
  }
  std::mutex mutex;
  std::size_t next = 0;
  test::TestBackend server([&](test::BackendConnection& c) {
    test::ReceivedRequest request;
    if (!c.read_request(request)) return;
    std::string body;
    {
      std::lock_guard lock(mutex);
      body = answers[next++];
    }
    c.send(ok_json(body));
  });
  EtcdSettings s;
  s.endpoints = {"http://" + server.address()};
  std::size_t read = 0;
  for (std::size_t i = 0; i < answers.size(); ++i) {
    EtcdClient client(s);  // one connection per answer
    const auto range = client.range_prefix();
    if (!range) {
      EXPECT_TRUE(range.error.message.find("malformed answer") != std::string::npos)
          << answers[i] << " -> " << range.error.message;
      continue;
    }
    ++read;
    // A corrupted letter of base64 is another key or value, but nothing
    // read is outside the prefix, and no key goes missing: `count` says
    // how many there are.
    ASSERT_EQ(range.value->kvs.size(), 2u) << answers[i];
    for (const auto& kv : range.value->kvs) {
      EXPECT_TRUE(kv.key.starts_with("/sluice/")) << answers[i];
    }
  }
  std::printf("[etcd] %zu corrupted answers: %zu read, %zu refused\n", answers.size(), read,
              answers.size() - read);
  EXPECT_GT(read, 0u);  // harmless changes (a digit, a space) still read
}

TEST(EtcdClientHostile, AnAuthTokenWithLineBreaksIsNotSent) {
  Impostor impostor(ok_json(R"({"header":{},"token":"abc\r\nX-Evil: 1"})"));
  EtcdSettings s = impostor.settings();
  s.username = "root";
  s.password = "pw";
  EtcdClient client(s);
  const auto range = client.range_prefix();
  ASSERT_FALSE(range);
  EXPECT_FALSE(range.error.unavailable);
  EXPECT_EQ(impostor.backend().requests().size(), 1u);  // the authentication only
}

}  // namespace
}  // namespace sluice::fleet
