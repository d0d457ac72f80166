// Seeded epoch orders and the prefetching batch iterator (data/batch_iterator.h).
#include "data/batch_iterator.h"

#include <algorithm>
#include <random>

#include "core/error.h"

namespace mrbm::data {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Uniform in [0, bound) without modulo bias: rejects the top partial block of 2^64.
uint64_t bounded(std::mt19937_64& gen, uint64_t bound) {
  const uint64_t limit = ~uint64_t{0} - (~uint64_t{0} % bound);
  for (;;) {
    const uint64_t r = gen();
    if (r < limit) return r % bound;
  }
}

}  // namespace

std::vector<int64_t> epoch_order(int64_t count, uint64_t seed, int64_t epoch, bool shuffle) {
  MRBM_CHECK(count >= 0, "epoch_order of a negative count " << count);
  std::vector<int64_t> order(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) order[static_cast<size_t>(i)] = i;
  if (!shuffle) return order;
  std::mt19937_64 gen(splitmix64(seed + static_cast<uint64_t>(epoch) * 0x9e3779b97f4a7c15ULL));
  for (int64_t i = count - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(bounded(gen, static_cast<uint64_t>(i + 1)));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  return order;
}

BatchIterator::BatchIterator(const Dataset& dataset, BatchIteratorOptions options)
    : dataset_(dataset), options_(std::move(options)) {
  check_dataset(dataset_);
  MRBM_CHECK(options_.batch_size >= 1, "batch size " << options_.batch_size << " must be >= 1");
  MRBM_CHECK(options_.prefetch >= 0, "prefetch " << options_.prefetch << " must be >= 0");
  MRBM_CHECK(dataset_.count > 0, "data set '" << dataset_.name << "' is empty: no batch");
  batches_per_epoch_ = options_.drop_last
                           ? dataset_.count / options_.batch_size
                           : (dataset_.count + options_.batch_size - 1) / options_.batch_size;
  MRBM_CHECK(batches_per_epoch_ > 0, "data set '" << dataset_.name << "' has " << dataset_.count
                                                  << " images, fewer than one batch of "
                                                  << options_.batch_size << " with drop_last");
  consumer_epoch_ = options_.first_epoch;
  producer_epoch_ = options_.first_epoch;
  if (options_.prefetch > 0) worker_ = std::thread([this] { worker_loop(); });
}

BatchIterator::~BatchIterator() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  not_full_.notify_all();
  if (worker_.joinable()) worker_.join();
}

BatchIterator::Item BatchIterator::produce() {
  Item item;
  if (producer_batch_ == batches_per_epoch_) {
    item.end_of_epoch = true;
    ++producer_epoch_;
    producer_batch_ = 0;
    producer_order_.clear();
    return item;
  }
  if (producer_order_.empty()) {
    producer_order_ = epoch_order(dataset_.count, options_.seed, producer_epoch_, options_.shuffle);
  }
  const int64_t begin = producer_batch_ * options_.batch_size;
  const int64_t end = std::min(begin + options_.batch_size, dataset_.count);
  Batch& b = item.batch;
  b.indices.assign(producer_order_.begin() + begin, producer_order_.begin() + end);
  b.images = make_batch(dataset_, b.indices);
  b.labels = batch_labels(dataset_, b.indices);
  b.epoch = producer_epoch_;
  b.index = producer_batch_;
  ++producer_batch_;
  if (options_.prepare) options_.prepare(b);
  return item;
}

void BatchIterator::worker_loop() {
  for (;;) {
    Item item;
    try {
      item = produce();
    } catch (...) {
      item = Item();
      item.error = std::current_exception();
    }
    const bool failed = item.error != nullptr;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      not_full_.wait(lock, [&] {
        return stopping_ || static_cast<int64_t>(queue_.size()) < options_.prefetch;
      });
      if (stopping_) return;
      queue_.push_back(std::move(item));
    }
    not_empty_.notify_one();
    // After an error the producer's position is unknown; the consumer sees the error and stops.
    if (failed) return;
  }
}

bool BatchIterator::next(Batch& out) {
  Item item;
  if (options_.prefetch == 0) {
    item = produce();
  } else {
    std::unique_lock<std::mutex> lock(mutex_);
    // The worker stopped after its error: waiting for another item would never end.
    if (worker_error_) std::rethrow_exception(worker_error_);
    not_empty_.wait(lock, [&] { return !queue_.empty(); });
    item = std::move(queue_.front());
    queue_.pop_front();
    if (item.error) worker_error_ = item.error;
  }
  not_full_.notify_one();
  if (item.error) std::rethrow_exception(item.error);
  if (item.end_of_epoch) {
    ++consumer_epoch_;
    return false;
  }
  out = std::move(item.batch);
  return true;
}

}  // namespace mrbm::data
