// The etcd client (src/fleet/etcd_client.h) against a real etcd on
// loopback: reads, transactions, watches, compaction, a stopped server,
// authentication and TLS; and against servers that answer garbage.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
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
  ASSERT_TRUE(outcome) << outcome.error.message;
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

TEST(EtcdClient, AnEndpointThatRefusesIsSkippedForTheNextOne) {
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

TEST(EtcdClient, AuthenticatesAgainWhenARestartedEtcdForgotTheToken) {
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
  // etcd's simple tokens live in its memory only.
  ASSERT_TRUE(etcd.start()) << etcd.output();
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

}  // namespace
}  // namespace sluice::fleet
