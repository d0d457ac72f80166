// Timing, ceiling and output helpers of `mrbm bench` (declarations and conventions in
// bench_timing.h): median-of-reps timers (steady_clock on the CPU, events on a CUDA stream), the
// thread pool that splits rows, memcpy / cudaMemcpyAsync copy ceilings counting read + write
// bytes, and JSON / CSV / text-table output. Paired reference: none (tool code).
#include "tools/mrbm/bench_timing.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "core/blas_info.h"
#include "core/cpu_threads.h"

#ifndef MRBM_VERSION
#define MRBM_VERSION "unknown"
#endif
#ifndef MRBM_BUILD_TYPE
#define MRBM_BUILD_TYPE "unknown"
#endif
#ifndef MRBM_CXX_COMPILER
#define MRBM_CXX_COMPILER "unknown"
#endif
#ifndef MRBM_CUDA_COMPILER
#define MRBM_CUDA_COMPILER ""
#endif
#ifndef MRBM_CUDA_ARCHS
#define MRBM_CUDA_ARCHS ""
#endif

namespace mrbm::tools::bench {

// ---- statistics and timers ------------------------------------------------------------------

double median(std::vector<double> samples) {
  if (samples.empty()) return 0.0;
  std::sort(samples.begin(), samples.end());
  const size_t n = samples.size();
  return n % 2 == 1 ? samples[n / 2] : 0.5 * (samples[n / 2 - 1] + samples[n / 2]);
}

static TimingResult summarize(const std::vector<double>& ms) {
  TimingResult r;
  r.reps = static_cast<int>(ms.size());
  if (ms.empty()) return r;
  r.median_ms = median(ms);
  r.min_ms = *std::min_element(ms.begin(), ms.end());
  r.max_ms = *std::max_element(ms.begin(), ms.end());
  return r;
}

CpuTimer::CpuTimer() : start_(std::chrono::steady_clock::now()) {}

void CpuTimer::restart() { start_ = std::chrono::steady_clock::now(); }

double CpuTimer::elapsed_ms() const {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_)
      .count();
}

double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

TimingResult time_cpu(const std::function<void()>& body, int warmup, int reps) {
  for (int i = 0; i < warmup; ++i) body();
  std::vector<double> ms, cpu_ms;
  ms.reserve(static_cast<size_t>(std::max(reps, 0)));
  cpu_ms.reserve(static_cast<size_t>(std::max(reps, 0)));
  for (int i = 0; i < reps; ++i) {
    const double cpu_start = process_cpu_ms();
    CpuTimer timer;
    body();
    ms.push_back(timer.elapsed_ms());
    cpu_ms.push_back(process_cpu_ms() - cpu_start);
  }
  TimingResult r = summarize(ms);
  r.median_cpu_ms = median(cpu_ms);
  return r;
}

// ---- CPU threads ----------------------------------------------------------------------------

ThreadPool::ThreadPool(int threads) : threads_(std::max(threads, 1)) {
  set_cpu_threads(threads_);
}

void ThreadPool::run(const std::function<void(int)>& fn) {
  // One index per part: parallel_for gives part p to the same thread on every call.
  parallel_for(threads_, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) fn(static_cast<int>(t));
  });
}

void parallel_ranges(ThreadPool& pool, int64_t count,
                     const std::function<void(int64_t, int64_t)>& body) {
  const int64_t parts = pool.size();
  pool.run([&](int t) {
    // Range t gets count / parts items, the first count % parts ranges one more.
    const int64_t base = count / parts, extra = count % parts;
    const int64_t begin = t * base + std::min<int64_t>(t, extra);
    const int64_t end = begin + base + (t < extra ? 1 : 0);
    if (end > begin) body(begin, end);
  });
}

// ---- memory ceilings ------------------------------------------------------------------------

CeilingResult cpu_copy_ceiling(ThreadPool& pool, int64_t bytes, int warmup, int reps) {
  if (bytes <= 0) throw std::runtime_error("cpu_copy_ceiling: buffer size must be positive");
  std::unique_ptr<char[]> src(new char[static_cast<size_t>(bytes)]);
  std::unique_ptr<char[]> dst(new char[static_cast<size_t>(bytes)]);
  // First touch by the threads that copy each slice, so the pages are mapped before timing.
  parallel_ranges(pool, bytes, [&](int64_t b, int64_t e) {
    std::memset(src.get() + b, 0x5a, static_cast<size_t>(e - b));
    std::memset(dst.get() + b, 0, static_cast<size_t>(e - b));
  });
  CeilingResult r;
  r.bytes = bytes;
  r.timing = time_cpu(
      [&] {
        parallel_ranges(pool, bytes, [&](int64_t b, int64_t e) {
          std::memcpy(dst.get() + b, src.get() + b, static_cast<size_t>(e - b));
        });
      },
      warmup, reps);
  if (dst[static_cast<size_t>(bytes - 1)] != 0x5a) {
    throw std::runtime_error("cpu_copy_ceiling: the copy did not happen");
  }
  r.gbps = 2.0 * static_cast<double>(bytes) / (r.timing.median_ms * 1e-3) / 1e9;
  return r;
}

#if defined(MRBM_WITH_CUDA)
void cuda_check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    throw std::runtime_error(std::string(what) + ": " + cudaGetErrorName(status) + " (" +
                             cudaGetErrorString(status) + ")");
  }
}

int cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return count;
}

TimingResult time_cuda(const std::function<void(cudaStream_t)>& launch,
                       const std::function<void(cudaStream_t)>& before_each, cudaStream_t stream,
                       int warmup, int reps) {
  cudaEvent_t start = nullptr, stop = nullptr;
  cuda_check(cudaEventCreate(&start), "cudaEventCreate");
  cuda_check(cudaEventCreate(&stop), "cudaEventCreate");
  struct EventGuard {
    cudaEvent_t a, b;
    ~EventGuard() {
      cudaEventDestroy(a);
      cudaEventDestroy(b);
    }
  } guard{start, stop};

  for (int i = 0; i < warmup; ++i) {
    if (before_each) before_each(stream);
    launch(stream);
  }
  cuda_check(cudaStreamSynchronize(stream), "warm-up");
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    if (before_each) before_each(stream);
    cuda_check(cudaEventRecord(start, stream), "cudaEventRecord");
    launch(stream);
    cuda_check(cudaEventRecord(stop, stream), "cudaEventRecord");
    cuda_check(cudaEventSynchronize(stop), "timed run");
    float elapsed = 0.0f;
    cuda_check(cudaEventElapsedTime(&elapsed, start, stop), "cudaEventElapsedTime");
    ms.push_back(static_cast<double>(elapsed));
  }
  return summarize(ms);
}

DeviceBuffer::DeviceBuffer(int64_t bytes) : bytes_(bytes) {
  if (bytes > 0) cuda_check(cudaMalloc(&ptr_, static_cast<size_t>(bytes)), "cudaMalloc");
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_ != nullptr) cudaFree(ptr_);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept : ptr_(other.ptr_), bytes_(other.bytes_) {
  other.ptr_ = nullptr;
  other.bytes_ = 0;
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    if (ptr_ != nullptr) cudaFree(ptr_);
    ptr_ = other.ptr_;
    bytes_ = other.bytes_;
    other.ptr_ = nullptr;
    other.bytes_ = 0;
  }
  return *this;
}

CeilingResult cuda_copy_ceiling(int64_t bytes, int warmup, int reps, cudaStream_t stream) {
  if (bytes <= 0) throw std::runtime_error("cuda_copy_ceiling: buffer size must be positive");
  DeviceBuffer src(bytes), dst(bytes);
  cuda_check(cudaMemsetAsync(src.get(), 0x5a, static_cast<size_t>(bytes), stream), "cudaMemset");
  cuda_check(cudaMemsetAsync(dst.get(), 0, static_cast<size_t>(bytes), stream), "cudaMemset");
  CeilingResult r;
  r.bytes = bytes;
  r.timing = time_cuda(
      [&](cudaStream_t s) {
        cuda_check(cudaMemcpyAsync(dst.get(), src.get(), static_cast<size_t>(bytes),
                                   cudaMemcpyDeviceToDevice, s),
                   "cudaMemcpyAsync device-to-device");
      },
      {}, stream, warmup, reps);
  r.gbps = 2.0 * static_cast<double>(bytes) / (r.timing.median_ms * 1e-3) / 1e9;
  return r;
}

std::string cuda_device_line(int device) {
  cudaDeviceProp prop{};
  cuda_check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  int driver = 0, runtime = 0;
  cuda_check(cudaDriverGetVersion(&driver), "cudaDriverGetVersion");
  cuda_check(cudaRuntimeGetVersion(&runtime), "cudaRuntimeGetVersion");
  return format("%s, sm_%d%d, %d SMs, %.1f GiB, driver %d.%d, runtime %d.%d", prop.name, prop.major,
                prop.minor, prop.multiProcessorCount,
                static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0),
                driver / 1000, (driver % 1000) / 10, runtime / 1000, (runtime % 1000) / 10);
}
#endif  // MRBM_WITH_CUDA

// ---- environment and output -----------------------------------------------------------------

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        const auto start = line.find_first_not_of(" \t", colon + 1);
        if (start != std::string::npos) return line.substr(start);
      }
    }
  }
  return "unknown CPU";
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  if (!(in >> a >> b >> c)) return "unknown";
  return a + " " + b + " " + c;
}

Row build_info() {
  Row b;
  b["version"] = MRBM_VERSION;
  b["build_type"] = MRBM_BUILD_TYPE;
  b["cxx_compiler"] = MRBM_CXX_COMPILER;
#if defined(MRBM_WITH_CUDA)
  b["cuda"] = true;
  b["cuda_compiler"] = MRBM_CUDA_COMPILER;
  b["cuda_archs"] = MRBM_CUDA_ARCHS;
#else
  b["cuda"] = false;
#endif
  return b;
}

std::string build_line() {
  const Row b = build_info();
  std::string line = "mrbm " + b["version"].get<std::string>() + ", " +
                     b["build_type"].get<std::string>() + ", " +
                     b["cxx_compiler"].get<std::string>();
  if (b["cuda"].get<bool>()) {
    line += ", CUDA " + b["cuda_compiler"].get<std::string>() + " (archs " +
            b["cuda_archs"].get<std::string>() + ")";
  } else {
    line += ", CPU-only build";
  }
  return line;
}

std::string utc_timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void write_json_file(const std::string& path, const nlohmann::ordered_json& doc) {
  std::ofstream out(path);
  if (!out) throw std::runtime_error("cannot open '" + path + "' for writing");
  out << doc.dump(2) << "\n";
  if (!out) throw std::runtime_error("writing '" + path + "' failed");
}

static std::string csv_cell(const nlohmann::ordered_json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) {
      if (c == '"') q += '"';
      q += c;
    }
    return q + "\"";
  }
  if (v.is_number_float()) return format("%.9g", v.get<double>());
  return v.dump();  // integers, booleans; nested values as compact JSON (quoted if needed)
}

std::string csv_text(const std::vector<Row>& rows) {
  std::vector<std::string> columns;
  for (const auto& row : rows) {
    for (const auto& item : row.items()) {
      if (std::find(columns.begin(), columns.end(), item.key()) == columns.end()) {
        columns.push_back(item.key());
      }
    }
  }
  std::ostringstream out;
  for (size_t c = 0; c < columns.size(); ++c) {
    out << (c ? "," : "") << csv_cell(nlohmann::ordered_json(columns[c]));
  }
  out << "\n";
  for (const auto& row : rows) {
    for (size_t c = 0; c < columns.size(); ++c) {
      out << (c ? "," : "");
      const auto it = row.find(columns[c]);
      if (it != row.end()) {
        out << csv_cell(it->is_structured() ? nlohmann::ordered_json(it->dump()) : *it);
      }
    }
    out << "\n";
  }
  return out.str();
}

void write_csv_file(const std::string& path, const std::vector<Row>& rows) {
  std::ofstream out(path);
  if (!out) throw std::runtime_error("cannot open '" + path + "' for writing");
  out << csv_text(rows);
  if (!out) throw std::runtime_error("writing '" + path + "' failed");
}

void print_table(std::ostream& out, const std::vector<std::string>& headers,
                 const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(headers.size(), 0);
  for (size_t c = 0; c < headers.size(); ++c) width[c] = headers[c].size();
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) {
      width[c] = std::max(width[c], row[c].size());
    }
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t c = 0; c < width.size(); ++c) {
      const std::string cell = c < cells.size() ? cells[c] : "";
      s += cell;
      if (c + 1 < width.size()) s += std::string(width[c] - cell.size() + 2, ' ');
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out << s << "\n";
  };
  line(headers);
  std::vector<std::string> rule;
  for (size_t w : width) rule.push_back(std::string(w, '-'));
  line(rule);
  for (const auto& row : rows) line(row);
}

std::string format(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  std::string s(n > 0 ? static_cast<size_t>(n) : 0, '\0');
  if (n > 0) std::vsnprintf(&s[0], s.size() + 1, fmt, args);
  va_end(args);
  return s;
}

nlohmann::ordered_json print_blas_lines(std::ostream& out) {
  const CpuGemmInfo info = cpu_gemm_info();
  out << "blas:  float32 " << info.float32 << "; float64 " << info.float64 << "; cpu " << info.cpu
      << "\n";
  if (!info.warning.empty()) out << "WARNING: " << info.warning << "\n";
  nlohmann::ordered_json j;
  j["float32"] = info.float32;
  j["float64"] = info.float64;
  j["cpu_vectors"] = info.cpu;
  j["warning"] = info.warning;
  return j;
}

BenchHeader print_gemm_bench_header(std::ostream& out, const std::string& name, int threads,
                                    int hardware, int blas_threads, int cuda_devices) {
  BenchHeader h;
  out << "mrbm bench " << name << "  " << utc_timestamp() << "\n";
  out << "build: " << build_line() << "\n";
  h.load_average = load_average();
  out << "cpu:   " << cpu_model() << ", " << threads << " thread(s) of " << hardware
      << " (GEMMs split over them, BLAS threads per part " << blas_threads
      << "), load average " << h.load_average << "\n";
  h.blas = print_blas_lines(out);
#if defined(MRBM_WITH_CUDA)
  h.cuda_device = cuda_devices > 0 ? cuda_device_line(0) : "no usable device";
#else
  (void)cuda_devices;
  h.cuda_device = "not built (CPU-only build)";
#endif
  out << "cuda:  " << h.cuda_device << "\n" << std::flush;
  return h;
}

}  // namespace mrbm::tools::bench
