// A plain C interface to kernel.h, for callers holding raw arrays (through ctypes: the torch
// adapter and the MXNet operator). x is viewed as outer × rows × inner; a (rows × na) and
// b (rows × nb) are the coefficient tables; work is spread over `threads` OpenMP threads. Built
// with -fopenmp, the library shares the process's libgomp (torch and MXNet load one), so its
// threads are the framework's own instead of competing with them.
#include "kernel.h"

namespace {

// fn(i) for i in [0, count) on up to `threads` OpenMP threads.
template <typename F>
void omp_for(int threads, int64_t count, const F& fn) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (count > 1)
  for (int64_t i = 0; i < count; ++i) fn(i);
}

template <typename T, typename S>
void forward(int version, int n, int m, int64_t outer, int64_t rows, int64_t inner, int threads,
             const void* x, const T* a, const T* b, void* out) {
  auto par = [&](int64_t count, const auto& fn) { omp_for(threads, count, fn); };
  rationals::forward<T, S>(version, n, m, rationals::Geometry{outer, rows, inner},
                           static_cast<const S*>(x), a, b, static_cast<S*>(out), par);
}

template <typename T, typename S>
void backward(int version, int n, int m, int64_t outer, int64_t rows, int64_t inner, int threads,
              const void* x, const void* g, const T* a, const T* b, void* dx, T* da, T* db) {
  auto par = [&](int64_t count, const auto& fn) { omp_for(threads, count, fn); };
  rationals::backward<T, S>(version, n, m, rationals::Geometry{outer, rows, inner},
                            static_cast<const S*>(x), static_cast<const S*>(g), a, b,
                            static_cast<S*>(dx), da, db, par);
}

}  // namespace

// One forward and one backward entry per dtype of x: f32, f64, f16 and bf16 (the halves with
// float32 coefficient tables and gradients).
#define RATIONALS_ENTRIES(SUFFIX, T, S)                                                          \
  void rationals_forward_##SUFFIX(int version, int n, int m, int64_t outer, int64_t rows,       \
                                  int64_t inner, int threads, const void* x, const T* a,       \
                                  const T* b, void* out) {                                     \
    forward<T, S>(version, n, m, outer, rows, inner, threads, x, a, b, out);                    \
  }                                                                                             \
  void rationals_backward_##SUFFIX(int version, int n, int m, int64_t outer, int64_t rows,      \
                                   int64_t inner, int threads, const void* x, const void* g,   \
                                   const T* a, const T* b, void* dx, T* da, T* db) {           \
    backward<T, S>(version, n, m, outer, rows, inner, threads, x, g, a, b, dx, da, db);         \
  }

extern "C" {
RATIONALS_ENTRIES(f32, float, float)
RATIONALS_ENTRIES(f64, double, double)
RATIONALS_ENTRIES(f16, float, rationals::Half)
RATIONALS_ENTRIES(bf16, float, rationals::BFloat16)
}  // extern "C"
