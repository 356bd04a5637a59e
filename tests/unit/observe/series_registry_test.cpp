#include "observe/series_registry.h"

#include <gtest/gtest.h>

namespace sluice::observe {
namespace {

using Keys = std::vector<SeriesRegistry::Key>;

Keys routes(std::initializer_list<const char*> names) {
  Keys keys;
  for (const char* n : names)
    keys.push_back({SeriesKind::route, n});
  return keys;
}

TEST(SeriesRegistry, ANameKeepsItsSlotAcrossReloads) {
  SeriesRegistry r;
  const auto first = r.assign(routes({"a", "b", "c"}), 100);
  const auto second = r.assign(routes({"c", "new", "a"}), 100);
  EXPECT_EQ(second.slots[0], first.slots[2]);
  EXPECT_EQ(second.slots[2], first.slots[0]);
  EXPECT_NE(second.slots[1], first.slots[0]);
  EXPECT_NE(second.slots[1], first.slots[2]);
}

TEST(SeriesRegistry, NamesPastTheCapGetNoSlotAndAreCounted) {
  SeriesRegistry r;
  Keys keys = routes({"a", "b", "c"});
  keys.push_back({SeriesKind::listener, "web"});
  const auto out = r.assign(keys, 2);
  EXPECT_NE(out.slots[0], kNoSlot);
  EXPECT_NE(out.slots[1], kNoSlot);
  EXPECT_EQ(out.slots[2], kNoSlot);
  EXPECT_EQ(out.slots[3], kNoSlot);
  EXPECT_EQ(out.refused, 2u);
  EXPECT_EQ(out.in_use, 2u);
}

TEST(SeriesRegistry, NamesAlreadyServedKeepTheirSlotsWhenTheCapIsReached) {
  SeriesRegistry r;
  const auto first = r.assign(routes({"a", "b"}), 2);
  // A new name listed first does not push an existing one out.
  const auto second = r.assign(routes({"new", "a", "b"}), 2);
  EXPECT_EQ(second.slots[0], kNoSlot);
  EXPECT_EQ(second.slots[1], first.slots[0]);
  EXPECT_EQ(second.slots[2], first.slots[1]);
}

TEST(SeriesRegistry, ARemovedNamesIndexGoesToANewNameUnderANewIdAndIsZeroedFirst) {
  SeriesRegistry r;
  const auto first = r.assign(routes({"a", "b"}), 100);
  const auto second = r.assign(routes({"b", "c"}), 100);
  EXPECT_EQ(second.slots[0], first.slots[1]);
  // "c" counts where "a" did, but under another id: a request that began
  // before the reload, still carrying "a"'s id, cannot count as "c".
  EXPECT_EQ(slot_index(second.slots[1]), slot_index(first.slots[0]));
  EXPECT_NE(second.slots[1], first.slots[0]);
  ASSERT_EQ(second.reused.size(), 1u);
  EXPECT_EQ(second.reused[0], std::make_pair(SeriesKind::route, slot_index(first.slots[0])));
}

TEST(SeriesRegistry, ANameRemovedAndAddedBackStartsAfresh) {
  SeriesRegistry r;
  const auto first = r.assign(routes({"a"}), 100);
  r.assign(routes({}), 100);
  const auto third = r.assign(routes({"a"}), 100);
  EXPECT_NE(third.slots[0], first.slots[0]);
  EXPECT_EQ(third.reused.size(), 1u);
}

TEST(SeriesRegistry, KindsHaveTheirOwnSlotsButShareTheCap) {
  SeriesRegistry r;
  const auto out = r.assign(
      {{SeriesKind::listener, "x"}, {SeriesKind::route, "x"}, {SeriesKind::backend, "x"}}, 3);
  EXPECT_EQ(out.slots, (std::vector<std::uint32_t>{0, 0, 0}));
  EXPECT_EQ(out.in_use, 3u);
}

}  // namespace
}  // namespace sluice::observe
