// Timing, ceiling and output helpers shared by the `mrbm bench` subcommands (docs/benchmarks.md).
//
// What a bench measures and how (docs/architecture.md, "Benchmarks"):
//   - every timed body runs `warmup` times untimed, then `reps` times timed; the result is the
//     median (robust to one preempted run), with min and max kept for the record;
//   - CPU bodies are timed with std::chrono::steady_clock around the whole call; CUDA bodies with
//     a pair of events on the bench's stream around the launch only (an untimed `before_each`
//     body, e.g. an L2 flush, runs on the same stream before the start event);
//   - a memory ceiling is measured in the same run: a large memcpy split over the bench's CPU
//     threads, or one cudaMemcpyAsync device-to-device; both count bytes read + bytes written,
//     GB/s = 2 * bytes / time / 1e9, the same convention as the benches' own byte counts;
//   - results are rows of an ordered JSON object (insertion order = column order), written as one
//     JSON document or as CSV (columns = the union of the rows' keys, in first-seen order).
// Paired reference: none (tool code). Errors throw std::runtime_error; main.cpp prints them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/cuda_context.h"
#include "core/device.h"

#if defined(MRBM_WITH_CUDA)
#include <cuda_runtime_api.h>
#endif

namespace CLI {
class App;
}

namespace mrbm::tools {

// The subcommands of `mrbm bench`, one per bench_<name>.cpp; bench_command.cpp calls them.
void register_bench_multinary(CLI::App& bench);
void register_bench_conv(CLI::App& bench);
void register_bench_train_step(CLI::App& bench);

namespace bench {

using Row = nlohmann::ordered_json;

// ---- statistics and timers ------------------------------------------------------------------

struct TimingResult {
  double median_ms = 0.0;
  double min_ms = 0.0;
  double max_ms = 0.0;
  int reps = 0;
  // time_cpu only: median CPU time of the whole process per run (all threads, user + system).
  // Unlike wall time it barely moves when other processes share the cores, so it is the number
  // to compare on a loaded machine (single-threaded runs; idle pool threads sleep, they do not
  // spin).
  double median_cpu_ms = 0.0;
};

// Median of the samples (mean of the two middle ones for an even count); 0 for none.
double median(std::vector<double> samples);

// Wall-clock stopwatch for CPU work (steady_clock).
class CpuTimer {
 public:
  CpuTimer();
  void restart();
  double elapsed_ms() const;

 private:
  std::chrono::steady_clock::time_point start_;
};

// CPU time consumed by this process so far (CLOCK_PROCESS_CPUTIME_ID), in milliseconds.
double process_cpu_ms();

// Runs body() warmup times, then times reps runs, each on its own; returns their statistics.
TimingResult time_cpu(const std::function<void()>& body, int warmup, int reps);

// ---- CPU threads ----------------------------------------------------------------------------

// The benches' view of mrbm's CPU thread pool (core/cpu_threads.h, whose workers persist, so
// thread start-up is never timed): constructing one sets mrbm's thread count (set_cpu_threads);
// run(fn) calls fn(t) for t = 0 .. size()-1 (t = 0 on the calling thread, t on the same worker on
// every call: what first-touch placement needs) and returns when all calls have returned.
class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  int size() const { return threads_; }
  void run(const std::function<void(int)>& fn);

 private:
  int threads_;
};

// Splits [0, count) into pool.size() contiguous, nearly equal ranges and runs
// body(begin, end) for each non-empty range on the pool.
void parallel_ranges(ThreadPool& pool, int64_t count,
                     const std::function<void(int64_t begin, int64_t end)>& body);


// ---- memory ceilings ------------------------------------------------------------------------

struct CeilingResult {
  double gbps = 0.0;  // (bytes read + bytes written) / median time
  int64_t bytes = 0;  // size of one buffer
  TimingResult timing;
};

// memcpy of a `bytes`-sized buffer into another, split over the pool's threads (each thread
// copies its own slice, the way the benches split rows). Both buffers are touched before timing.
CeilingResult cpu_copy_ceiling(ThreadPool& pool, int64_t bytes, int warmup, int reps);

#if defined(MRBM_WITH_CUDA)
// Throws std::runtime_error("<what>: <CUDA message>") when status is not cudaSuccess.
void cuda_check(cudaError_t status, const char* what);

// Number of usable CUDA devices; 0 without a driver (error 35 is cleared, the count starts at 0).
int cuda_device_count();

// Times launch(stream) with events: warmup untimed runs, then reps runs, each preceded by
// before_each(stream) (may be empty) outside the timed interval.
TimingResult time_cuda(const std::function<void(cudaStream_t)>& launch,
                       const std::function<void(cudaStream_t)>& before_each, cudaStream_t stream,
                       int warmup, int reps);

// One cudaMemcpyAsync device-to-device of `bytes` on `stream`.
CeilingResult cuda_copy_ceiling(int64_t bytes, int warmup, int reps, cudaStream_t stream);

// "NVIDIA H100 80GB HBM3, sm_90, 132 SMs, 79.1 GiB, driver 13.0, runtime 13.0" for device 0.
std::string cuda_device_line(int device);

// A device buffer that frees itself (the bench needs no more than this from core/).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(int64_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;

  void* get() const { return ptr_; }
  int64_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  int64_t bytes_ = 0;
};
#else
inline int cuda_device_count() { return 0; }
#endif

// ---- environment and output -----------------------------------------------------------------

// "model name" of /proc/cpuinfo, or "unknown CPU".
std::string cpu_model();

// "blas:  ..." lines: which library and kernels run the CPU GEMMs (core/blas_info.h), and a
// "WARNING: ..." line when they run below the CPU's speed. Returned as a JSON object too.
nlohmann::ordered_json print_blas_lines(std::ostream& out);

// The three load averages of /proc/loadavg ("0.12 0.30 0.25"), or "unknown": a loaded machine
// inflates CPU timings, so the benches print and record it.
std::string load_average();

// Build line: version, build type, C++ and CUDA compilers, CUDA architectures, CUDA on/off.
Row build_info();
std::string build_line();

// Current UTC time as "YYYY-MM-DDTHH:MM:SSZ".
std::string utc_timestamp();

// Writes doc (pretty-printed, 2 spaces) to path; throws naming the path on failure.
void write_json_file(const std::string& path, const nlohmann::ordered_json& doc);

// Writes rows as CSV: a header of the union of keys (first-seen order), then one line per row;
// strings are quoted when they hold a comma, quote or newline; missing keys leave a cell empty.
void write_csv_file(const std::string& path, const std::vector<Row>& rows);
std::string csv_text(const std::vector<Row>& rows);

// A plain text table: headers, then rows, columns padded to their widest cell.
void print_table(std::ostream& out, const std::vector<std::string>& headers,
                 const std::vector<std::vector<std::string>>& rows);

// printf-style formatting into a std::string.
std::string format(const char* fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

// ---- GEMM ceiling (defined in bench_conv.cpp; bench conv and bench train-step report against it)

// An sgemm of n x n (OpenBLAS on the CPU, cuBLAS on CUDA) through core/gemm.h, 16 entries checked
// against float64 dot products first. Returns a row with n, gflops, median_ms, max_rel_err;
// `cuda` is required for a CUDA device.
Row sgemm_ceiling(Device device, CudaContext* cuda, int64_t n, int warmup, int reps);
// Sets mrbm's CPU threads (set_cpu_threads: GEMMs are split over them); returns OpenBLAS's own
// thread count per GEMM part (1; `threads` without OpenBLAS).
int set_blas_threads(int threads);

// The first lines of a GEMM-based bench (conv, train-step): name and time, build, CPU with the
// thread counts and the load average, CUDA device. Returns what it printed for the JSON output.
struct BenchHeader {
  std::string load_average;
  std::string cuda_device;
  nlohmann::ordered_json blas;  // print_blas_lines' object
};
BenchHeader print_gemm_bench_header(std::ostream& out, const std::string& name, int threads,
                                    int hardware, int blas_threads, int cuda_devices);

}  // namespace bench
}  // namespace mrbm::tools
