// BatchIterator: mini-batches of a Dataset as float32 tensors, in a seeded shuffled order, made by
// a prefetch thread while the caller trains on the previous one.
//
// Order: epoch e visits the indices epoch_order(count, seed, e, shuffle): a Fisher-Yates shuffle
// driven by std::mt19937_64 seeded with splitmix64(seed + e * golden ratio), with our own unbiased
// bounded draw (std::shuffle and std::uniform_int_distribution differ between standard libraries;
// mt19937_64's output is fixed by the standard), so an order depends only on (count, seed, epoch),
// is the same on every platform, and a resumed run (first_epoch) continues exactly. Batch b of an
// epoch holds order[b * B, min((b + 1) * B, count)); with drop_last the short final batch is left
// out.
//
// Threads: with prefetch >= 1 a worker thread fills a queue of at most `prefetch` ready batches
// (the next batches, across epoch ends too), so converting uint8 -> float (and the optional
// `prepare` hook, e.g. an upload) overlaps the consumer's work. An exception in the worker is
// stored in the queue and rethrown by next() in the consumer, at the point where that batch would
// have come. The destructor stops and joins the worker (it never blocks on a full queue).
// prefetch = 0 makes every batch in next() on the calling thread (same order, for debugging).
// The Dataset must outlive the iterator. One consumer thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "core/tensor.h"
#include "data/dataset.h"

namespace mrbm::data {

// The visiting order of epoch `epoch`: 0..count-1, permuted when shuffle is true.
std::vector<int64_t> epoch_order(int64_t count, uint64_t seed, int64_t epoch, bool shuffle);

struct Batch {
  Tensor images;                 // [B, C, H, W] float32 on the CPU, values 0..255
  std::vector<int32_t> labels;   // B labels, or empty when the data set has none
  std::vector<int64_t> indices;  // the data set indices of the B images
  int64_t epoch = 0;
  int64_t index = 0;  // batch number within its epoch
};

struct BatchIteratorOptions {
  int64_t batch_size = 64;
  bool shuffle = true;
  uint64_t seed = 0;
  bool drop_last = false;
  int64_t first_epoch = 0;  // resume: start with this epoch's order
  int prefetch = 2;         // ready batches kept ahead (0: no thread)
  // Runs on the worker thread on each batch after it is filled (optional): rescaling, a copy to
  // the device on a side stream, ... Its exceptions reach the consumer like any worker error.
  std::function<void(Batch&)> prepare;
};

class BatchIterator {
 public:
  // InvalidArgument for batch_size < 1, prefetch < 0, an empty data set, or drop_last with
  // fewer images than one batch (an epoch would have no batch and training would spin).
  BatchIterator(const Dataset& dataset, BatchIteratorOptions options);
  ~BatchIterator();
  BatchIterator(const BatchIterator&) = delete;
  BatchIterator& operator=(const BatchIterator&) = delete;

  // The next batch of the current epoch into `out` and true; false (out untouched) once the epoch
  // is over, and the call after that starts the next epoch. Rethrows a worker's exception.
  bool next(Batch& out);

  int64_t batches_per_epoch() const { return batches_per_epoch_; }
  // The epoch that next() is in (first_epoch, then +1 after each false).
  int64_t epoch() const { return consumer_epoch_; }

 private:
  // One queue entry: a batch, the end of an epoch, or a worker error.
  struct Item {
    Batch batch;
    bool end_of_epoch = false;
    std::exception_ptr error;
  };

  // Produces the entry after the last one produced (the producer's position is advanced).
  Item produce();
  void worker_loop();

  const Dataset& dataset_;
  BatchIteratorOptions options_;
  int64_t batches_per_epoch_ = 0;
  int64_t consumer_epoch_ = 0;

  // Producer position (worker thread, or the consumer when prefetch == 0).
  int64_t producer_epoch_ = 0;
  int64_t producer_batch_ = 0;
  std::vector<int64_t> producer_order_;

  std::mutex mutex_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  std::exception_ptr worker_error_;  // once set, every next() rethrows it (the worker is gone)
  std::thread worker_;
};

}  // namespace mrbm::data
