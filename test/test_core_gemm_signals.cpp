// Signals during CPU GEMMs (core/gemm.cpp): a signal handler that runs while mrbm computes a
// product runs on its thread's own stack, and the caller's signal mask is what it was.
//
// Why: some of oneDNN 2.6's sgemm kernels move the stack pointer into a heap buffer of theirs while
// they run. A handler that ran then pushed its frame onto that buffer and overwrote the heap beside
// it: `mrbm train` crashed at exit in 1 of 6-20 runs after a Ctrl-C during its sample grids, and a
// program with a 5 kHz timer corrupted its heap within a second. mrbm now holds signals for the
// length of each oneDNN call. Before that fix this test failed or crashed (glibc "corrupted
// double-linked list").
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstring>

#include "core/cpu_threads.h"
#include "core/gemm.h"
#include "core/tensor.h"
#include "test/test_support.h"

using namespace mrbm;

namespace {

std::atomic<long> g_signals{0};          // every SIGALRM, on any thread
std::atomic<long> g_on_test_thread{0};   // those that ran on the test's thread
std::atomic<long> g_off_stack{0};        // those of them whose frame was not on its stack
std::atomic<uintptr_t> g_example{0};     // one such frame's address, for the message
pid_t g_test_tid = 0;
uintptr_t g_stack_low = 0, g_stack_high = 0;

extern "C" void count_signal(int) {
  int local = 0;
  const auto here = reinterpret_cast<uintptr_t>(&local);
  g_signals.fetch_add(1, std::memory_order_relaxed);
  if (static_cast<pid_t>(syscall(SYS_gettid)) != g_test_tid) return;  // other threads' stacks
  g_on_test_thread.fetch_add(1, std::memory_order_relaxed);
  if (here < g_stack_low || here >= g_stack_high) {
    g_off_stack.fetch_add(1, std::memory_order_relaxed);
    g_example.store(here, std::memory_order_relaxed);
  }
}

// The calling thread's stack, from its pthread attributes.
void find_own_stack() {
  pthread_attr_t attr;
  REQUIRE(pthread_getattr_np(pthread_self(), &attr) == 0);
  void* base = nullptr;
  size_t size = 0;
  REQUIRE(pthread_attr_getstack(&attr, &base, &size) == 0);
  pthread_attr_destroy(&attr);
  g_stack_low = reinterpret_cast<uintptr_t>(base);
  g_stack_high = g_stack_low + size;
}

bool same_mask(const sigset_t& a, const sigset_t& b) {
  for (int sig = 1; sig < NSIG; ++sig)
    if (sigismember(&a, sig) != sigismember(&b, sig)) return false;
  return true;
}

struct ThreadCountGuard {
  int saved = cpu_threads();
  ~ThreadCountGuard() { set_cpu_threads(saved); }
};

}  // namespace

TEST_CASE("signal handlers run on their thread's stack during CPU GEMMs; the mask is restored",
          "[core]") {
  ThreadCountGuard guard;
  set_cpu_threads(1);  // every product on this thread, the one whose stack is checked
  g_test_tid = static_cast<pid_t>(syscall(SYS_gettid));
  find_own_stack();
  g_signals = 0;
  g_on_test_thread = 0;
  g_off_stack = 0;

  struct sigaction action {}, previous{};
  action.sa_handler = count_signal;
  sigemptyset(&action.sa_mask);
  REQUIRE(sigaction(SIGALRM, &action, &previous) == 0);
  sigset_t mask_before, mask_after;
  pthread_sigmask(SIG_SETMASK, nullptr, &mask_before);
  // A SIGALRM every 200 us: about 50 per shape below, and several inside each product.
  const itimerval every_200us{{0, 200}, {0, 200}}, stop{};
  REQUIRE(setitimer(ITIMER_REAL, &every_200us, nullptr) == 0);

  // Shapes of the tiny conv + dense model of test/cli/run_folders.sh's "late Ctrl-C", whose
  // sample grids crashed: the weight gradient (k = 12544, A transposed) moved the stack in oneDNN.
  struct Product {
    int64_t m, n, k;
    bool ta, tb;
  };
  const Product products[] = {{4, 16, 12544, true, false}, {64, 8, 784, false, false},
                              {12544, 4, 16, false, false}, {64, 784, 8, false, true}};
  for (const Product& p : products) {
    INFO("m " << p.m << ", n " << p.n << ", k " << p.k << (p.ta ? ", A transposed" : "")
              << (p.tb ? ", B transposed" : ""));
    // A and B of ones halves and twos: every entry of C is k, exactly (k < 2^24).
    const Tensor a = Tensor::full(p.ta ? Shape{p.k, p.m} : Shape{p.m, p.k}, 0.5);
    const Tensor b = Tensor::full(p.tb ? Shape{p.n, p.k} : Shape{p.k, p.n}, 2.0);
    Tensor c = Tensor::empty({p.m, p.n});
    const long before = g_signals.load();
    for (int repeat = 0; repeat < 40; ++repeat) gemm(c, a, b, p.ta, p.tb, 1.0, 0.0, nullptr);
    INFO(g_signals.load() - before << " signals during the products");
    for (float v : c.to_vector<float>()) REQUIRE(v == static_cast<float>(p.k));
  }
  REQUIRE(setitimer(ITIMER_REAL, &stop, nullptr) == 0);
  sigaction(SIGALRM, &previous, nullptr);
  pthread_sigmask(SIG_SETMASK, nullptr, &mask_after);

  // Signals arrived during the products, and none ran off its thread's stack.
  INFO(g_signals.load() << " signals, " << g_on_test_thread.load() << " on the test's thread, "
                        << g_off_stack.load() << " of them off its stack (e.g. at 0x" << std::hex
                        << g_example.load() << ", the stack is 0x" << g_stack_low << "-0x"
                        << g_stack_high << ")");
  CHECK(g_signals.load() > 0);
  CHECK(g_off_stack.load() == 0);
  CHECK(same_mask(mask_before, mask_after));
}
