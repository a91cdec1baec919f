// XLA custom-call targets (TensorFlow, CPU, jit_compile) for kernel.h: rationals_forward and
// rationals_backward, registered with TensorFlow's XLA when this library is loaded.
//
// tf2xla's XlaCustomCallV2 emits API_VERSION_STATUS_RETURNING_UNIFIED calls:
//   void f(void* out, const void** in, const char* opaque, size_t opaque_len, void* status)
// with `out` an array of output buffers when there are several. Operands: x (viewed as outer ×
// rows × inner), the coefficient tables a (rows × na) and b (rows × nb) [, g for the backward];
// opaque: "version n m outer rows inner threads dtype" (x's dtype: 0 float32, 1 float64, 2 float16,
// 3 bfloat16; the halves are computed in float32 with float32 coefficient tables). Work is
// spread over the library's own pool of threads (parallel.h).
#include <cstdio>
#include <string>

#include "kernel.h"
#include "parallel.h"

namespace xla {
class CustomCallTargetRegistry {  // exported by libtensorflow_cc
 public:
  static CustomCallTargetRegistry* Global();
  void Register(const std::string& symbol, void* address, const std::string& platform);
};
}  // namespace xla

namespace {

struct Params {
  int version, n, m, threads, dtype;
  long long outer, rows, inner;
};

Params parse(const char* opaque, size_t len) {
  Params p{};
  const std::string s(opaque, len);
  std::sscanf(s.c_str(), "%d %d %d %lld %lld %lld %d %d", &p.version, &p.n, &p.m, &p.outer,
              &p.rows, &p.inner, &p.threads, &p.dtype);
  return p;
}

template <typename T, typename S>
void forward(const Params& p, void* out, const void** in) {
  const rationals::Geometry geo{p.outer, p.rows, p.inner};
  auto par = [&](int64_t count, const auto& fn) { rationals::pooled_for(p.threads, count, fn); };
  rationals::forward<T, S>(p.version, p.n, p.m, geo, static_cast<const S*>(in[0]),
                           static_cast<const T*>(in[1]), static_cast<const T*>(in[2]),
                           static_cast<S*>(out), par);
}

template <typename T, typename S>
void backward(const Params& p, void* out, const void** in) {
  void** outs = static_cast<void**>(out);
  const rationals::Geometry geo{p.outer, p.rows, p.inner};
  auto par = [&](int64_t count, const auto& fn) { rationals::pooled_for(p.threads, count, fn); };
  rationals::backward<T, S>(p.version, p.n, p.m, geo, static_cast<const S*>(in[0]),
                            static_cast<const S*>(in[1]), static_cast<const T*>(in[2]),
                            static_cast<const T*>(in[3]), static_cast<S*>(outs[0]),
                            static_cast<T*>(outs[1]), static_cast<T*>(outs[2]), par);
}

// fn(T{}, S{}) with the compute type T and storage type S of dtype code `dtype`.
template <typename F>
void dispatch(int dtype, F&& fn) {
  switch (dtype) {
    case 1: fn(double{}, double{}); break;
    case 2: fn(float{}, rationals::Half{}); break;
    case 3: fn(float{}, rationals::BFloat16{}); break;
    default: fn(float{}, float{});
  }
}

}  // namespace

extern "C" void rationals_forward(void* out, const void** in, const char* opaque, size_t len,
                                  void* /*status*/) {
  const Params p = parse(opaque, len);
  dispatch(p.dtype, [&](auto t, auto s) { forward<decltype(t), decltype(s)>(p, out, in); });
}

extern "C" void rationals_backward(void* out, const void** in, const char* opaque, size_t len,
                                   void* /*status*/) {
  const Params p = parse(opaque, len);
  dispatch(p.dtype, [&](auto t, auto s) { backward<decltype(t), decltype(s)>(p, out, in); });
}

namespace {
struct Registration {
  Registration() {
    auto* registry = xla::CustomCallTargetRegistry::Global();
    registry->Register("rationals_forward", reinterpret_cast<void*>(&rationals_forward), "Host");
    registry->Register("rationals_backward", reinterpret_cast<void*>(&rationals_backward), "Host");
  }
} registration;
}  // namespace
