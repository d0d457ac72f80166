// CUDA simulator: streams and events. Work is deferred: an enqueued op runs only when something
// waits for it (stream, event or device synchronization, a blocking copy, cudaFree), in stream
// order, after the ops it depends on. The dependencies follow CUDA's legacy default stream rules:
// an op on the legacy stream waits for all earlier work of the device's blocking streams, and an
// op on a blocking stream waits for earlier legacy-stream work; a cudaStreamNonBlocking stream
// synchronizes with neither. So a missing synchronization leaves stale data or the poison, as it
// can on a GPU.
#include <set>
#include <vector>

#include "state.h"

namespace cuda_sim::detail {
namespace {

// Streams and events are never freed (destroyed ones leave the live sets only): a dependency
// recorded by another stream may still point at them.
std::set<Stream*>& live_streams() {
  static auto* s = new std::set<Stream*>;
  return *s;
}
std::set<Event*>& live_events() {
  static auto* e = new std::set<Event*>;
  return *e;
}
// Destroyed streams and events stay reachable here (not leaked: LeakSanitizer checks the tests).
std::vector<void*>& graveyard() {
  static auto* g = new std::vector<void*>;
  return *g;
}

Stream* as_stream(cudaStream_t s) { return reinterpret_cast<Stream*>(s); }
Event* as_event(cudaEvent_t e) { return reinterpret_cast<Event*>(e); }

bool is_default_handle(cudaStream_t s) {
  return s == nullptr || s == cudaStreamLegacy || s == cudaStreamPerThread;
}

}  // namespace

bool valid_stream(cudaStream_t s) {
  return is_default_handle(s) || live_streams().count(as_stream(s)) > 0;
}

Stream* resolve(cudaStream_t s) {
  if (is_default_handle(s)) return device(current_device()).legacy;
  return as_stream(s);
}

void enqueue(Stream* s, Op op) {
  Device& d = device(s->device);
  if (s->legacy) {
    for (Stream* other : d.streams)
      if (!other->non_blocking && other->enqueued > other->done)
        op.deps.emplace_back(other, other->enqueued);
  } else if (!s->non_blocking && d.legacy->enqueued > d.legacy->done) {
    op.deps.emplace_back(d.legacy, d.legacy->enqueued);
  }
  ++s->enqueued;
  s->pending.push_back(std::move(op));
}

cudaError_t flush(Stream* s, uint64_t upto) {
  std::lock_guard<std::recursive_mutex> lock(sim_lock());
  Device& d = device(s->device);
  while (s->done < upto && !s->pending.empty()) {
    Op op = std::move(s->pending.front());
    s->pending.pop_front();
    for (auto& [other, seq] : op.deps) flush(other, seq);
    // After a failed kernel the context is unusable, as on a GPU: later work does not run.
    if (d.sticky == cudaSuccess) {
      MemoryOpen open;
      const cudaError_t err = op.run();
      if (err != cudaSuccess) d.sticky = err;
    }
    ++s->done;
  }
  return d.sticky;
}

cudaError_t flush_stream(Stream* s) { return flush(s, s->enqueued); }

cudaError_t flush_device(int index) {
  Device& d = device(index);
  flush_stream(d.legacy);
  for (Stream* s : d.streams) flush_stream(s);
  return d.sticky;
}

}  // namespace cuda_sim::detail

using namespace cuda_sim::detail;

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int flags) {
  std::lock_guard<std::recursive_mutex> lock(sim_lock());
  if (!stream || (flags & ~1u) != 0) return set_last_error(cudaErrorInvalidValue);
  auto* s = new Stream;
  s->device = current_device();
  s->non_blocking = (flags & cudaStreamNonBlocking) != 0;
  device(s->device).streams.push_back(s);
  live_streams().insert(s);
  *stream = reinterpret_cast<cudaStream_t>(s);
  return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) {
  return cudaStreamCreateWithFlags(stream, cudaStreamDefault);
}

// CUDA lets pending work finish after cudaStreamDestroy returns; the simulator runs it now.
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  std::lock_guard<std::recursive_mutex> lock(sim_lock());
  Stream* s = as_stream(stream);
  if (is_default_handle(stream) || !live_streams().count(s))
    return set_last_error(cudaErrorInvalidResourceHandle);
  flush_stream(s);
  live_streams().erase(s);
  graveyard().push_back(s);
  auto& list = device(s->device).streams;
  for (auto it = list.begin(); it != list.end(); ++it) {
    if (*it == s) {
      list.erase(it);
      break;
    }
  }
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  std::lock_guard<std::recursive_mutex> lock(sim_lock());
  if (!valid_stream(stream)) return set_last_error(cudaErrorInvalidResourceHandle);
  return set_last_error(flush_stream(resolve(stream)));
}

// A query is a wait in the simulator (it runs the work), so that polling loops end.
cudaError_t cudaStreamQuery(cudaStream_t stream) { return cudaStreamSynchronize(stream); }

cudaError_t cudaDeviceSynchronize() {
  std::lock_guard<std::recursive_mutex> lock(sim_lock());
  return set_last_error(flush_device(current_device()));
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int flags) {
  std::lock_guard<std::recursive_mutex> lock(sim_lock());
  if (!event || (flags & ~3u) != 0) return set_last_error(cudaErrorInvalidValue);
  auto* e = new Event;
  e->device = current_device();
  e->timing = (flags & cudaEventDisableTiming) == 0;
  live_events().insert(e);
  *event = reinterpret_cast<cudaEvent_t>(e);
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  return cudaEventCreateWithFlags(event, cudaEventDefault);
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  std::lock_guard<std::recursive_mutex> lock(sim_lock());
  if (!live_events().erase(as_event(event))) return set_last_error(cudaErrorInvalidResourceHandle);
  graveyard().push_back(event);
  return cudaSuccess;
}

// CUDA: "cudaEventRecord() will fail if the input event and input stream are associated to
// different devices."
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  std::lock_guard<std::recursive_mutex> lock(sim_lock());
  Event* e = as_event(event);
  if (!live_events().count(e) || !valid_stream(stream))
    return set_last_error(cudaErrorInvalidResourceHandle);
  Stream* s = resolve(stream);
  if (s->device != e->device) {
    report("cudaEventRecord: event of cuda:" + std::to_string(e->device) +
           " recorded on a stream of cuda:" + std::to_string(s->device));
    return set_last_error(cudaErrorInvalidResourceHandle);
  }
  enqueue(s, Op{[e] {
                  e->time_ms = now_ms();
                  return cudaSuccess;
                },
                {},
                "cudaEventRecord"});
  e->stream = s;
  e->seq = s->enqueued;
  e->recorded = true;
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  std::lock_guard<std::recursive_mutex> lock(sim_lock());
  Event* e = as_event(event);
  if (!live_events().count(e)) return set_last_error(cudaErrorInvalidResourceHandle);
  if (!e->recorded) return cudaSuccess;
  return set_last_error(flush(e->stream, e->seq));
}

cudaError_t cudaEventQuery(cudaEvent_t event) { return cudaEventSynchronize(event); }

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int flags) {
  std::lock_guard<std::recursive_mutex> lock(sim_lock());
  Event* e = as_event(event);
  if (!live_events().count(e) || !valid_stream(stream))
    return set_last_error(cudaErrorInvalidResourceHandle);
  if (flags != 0) return set_last_error(cudaErrorInvalidValue);
  if (!e->recorded) return cudaSuccess;
  Op wait{[] { return cudaSuccess; }, {{e->stream, e->seq}}, "cudaStreamWaitEvent"};
  enqueue(resolve(stream), std::move(wait));
  return cudaSuccess;
}

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  std::lock_guard<std::recursive_mutex> lock(sim_lock());
  Event* a = as_event(start);
  Event* b = as_event(end);
  if (!ms) return set_last_error(cudaErrorInvalidValue);
  if (!live_events().count(a) || !live_events().count(b) || !a->timing || !b->timing)
    return set_last_error(cudaErrorInvalidResourceHandle);
  if (!a->recorded || !b->recorded || a->time_ms < 0 || b->time_ms < 0 ||
      a->stream->done < a->seq || b->stream->done < b->seq)
    return set_last_error(cudaErrorNotReady);
  *ms = static_cast<float>(b->time_ms - a->time_ms);
  return cudaSuccess;
}
