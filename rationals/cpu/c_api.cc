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

template <typename T>
void forward(int version, int n, int m, int64_t outer, int64_t rows, int64_t inner, int threads,
             const T* x, const T* a, const T* b, T* out) {
  auto par = [&](int64_t count, const auto& fn) { omp_for(threads, count, fn); };
  rationals::forward<T>(version, n, m, rationals::Geometry{outer, rows, inner}, x, a, b, out, par);
}

template <typename T>
void backward(int version, int n, int m, int64_t outer, int64_t rows, int64_t inner, int threads,
              const T* x, const T* g, const T* a, const T* b, T* dx, T* da, T* db) {
  auto par = [&](int64_t count, const auto& fn) { omp_for(threads, count, fn); };
  rationals::backward<T>(version, n, m, rationals::Geometry{outer, rows, inner}, x, g, a, b, dx,
                         da, db, par);
}

}  // namespace

extern "C" {

void rationals_forward_f32(int version, int n, int m, int64_t outer, int64_t rows, int64_t inner,
                           int threads, const float* x, const float* a, const float* b,
                           float* out) {
  forward(version, n, m, outer, rows, inner, threads, x, a, b, out);
}

void rationals_forward_f64(int version, int n, int m, int64_t outer, int64_t rows, int64_t inner,
                           int threads, const double* x, const double* a, const double* b,
                           double* out) {
  forward(version, n, m, outer, rows, inner, threads, x, a, b, out);
}

void rationals_backward_f32(int version, int n, int m, int64_t outer, int64_t rows, int64_t inner,
                            int threads, const float* x, const float* g, const float* a,
                            const float* b, float* dx, float* da, float* db) {
  backward(version, n, m, outer, rows, inner, threads, x, g, a, b, dx, da, db);
}

void rationals_backward_f64(int version, int n, int m, int64_t outer, int64_t rows, int64_t inner,
                            int threads, const double* x, const double* g, const double* a,
                            const double* b, double* dx, double* da, double* db) {
  backward(version, n, m, outer, rows, inner, threads, x, g, a, b, dx, da, db);
}

}  // extern "C"
