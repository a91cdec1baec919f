// XLA FFI handlers (JAX, CPU) for kernel.h: RationalsForward and RationalsBackward.
//
// Operands: x (any shape, viewed as outer × rows × inner; float64, float32, float16 or bfloat16,
// the halves computed in float32), the coefficient tables a (rows × na) and b (rows × nb) in
// x's compute dtype; attributes version, n, m, outer, channels (= rows), inner. Work is spread
// over XLA's intra-op thread pool.
#include <utility>

#include "kernel.h"
#include "parallel.h"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

// fn(i) for i in [0, count) on the calling thread and XLA's intra-op pool.
template <typename F>
void parallel_for(ffi::ThreadPool& pool, int64_t count, const F& fn) {
  auto schedule = [&](auto task) { pool.Schedule(std::move(task)); };
  rationals::parallel_for(schedule, pool.num_threads(), count, fn);
}

rationals::Geometry geometry(int64_t outer, int64_t channels, int64_t inner) {
  return rationals::Geometry{outer, channels, inner};
}

// Calls fn(T{}, S{}) with the compute type T and the storage type S of x's dtype.
template <typename F>
ffi::Error dispatch(ffi::AnyBuffer x, ffi::AnyBuffer a, ffi::AnyBuffer b, F&& fn) {
  const auto coefficients = x.element_type() == ffi::F64 ? ffi::F64 : ffi::F32;
  if (a.element_type() != coefficients || b.element_type() != coefficients)
    return ffi::Error::InvalidArgument(
        "rationals: coefficients must be float64 for float64 inputs, float32 otherwise");
  switch (x.element_type()) {
    case ffi::F32: fn(float{}, float{}); break;
    case ffi::F64: fn(double{}, double{}); break;
    case ffi::F16: fn(float{}, rationals::Half{}); break;
    case ffi::BF16: fn(float{}, rationals::BFloat16{}); break;
    default:
      return ffi::Error::InvalidArgument(
          "rationals: the CPU kernel takes float64, float32, float16 or bfloat16 inputs");
  }
  return ffi::Error::Success();
}

template <typename S>
S* data(ffi::AnyBuffer buffer) { return static_cast<S*>(buffer.untyped_data()); }

ffi::Error Forward(ffi::ThreadPool pool, ffi::AnyBuffer x, ffi::AnyBuffer a, ffi::AnyBuffer b,
                   ffi::Result<ffi::AnyBuffer> out, int32_t version, int32_t n, int32_t m,
                   int64_t outer, int64_t channels, int64_t inner) {
  const auto geo = geometry(outer, channels, inner);
  auto par = [&](int64_t count, const auto& fn) { parallel_for(pool, count, fn); };
  return dispatch(x, a, b, [&](auto t, auto s) {
    using T = decltype(t);
    using S = decltype(s);
    rationals::forward<T, S>(version, n, m, geo, data<const S>(x), data<const T>(a),
                             data<const T>(b), data<S>(*out), par);
  });
}

ffi::Error Backward(ffi::ThreadPool pool, ffi::AnyBuffer x, ffi::AnyBuffer g, ffi::AnyBuffer a,
                    ffi::AnyBuffer b, ffi::Result<ffi::AnyBuffer> dx,
                    ffi::Result<ffi::AnyBuffer> da, ffi::Result<ffi::AnyBuffer> db,
                    int32_t version, int32_t n, int32_t m, int64_t outer, int64_t channels,
                    int64_t inner) {
  const auto geo = geometry(outer, channels, inner);
  auto par = [&](int64_t count, const auto& fn) { parallel_for(pool, count, fn); };
  return dispatch(x, a, b, [&](auto t, auto s) {
    using T = decltype(t);
    using S = decltype(s);
    rationals::backward<T, S>(version, n, m, geo, data<const S>(x), data<const S>(g),
                              data<const T>(a), data<const T>(b), data<S>(*dx), data<T>(*da),
                              data<T>(*db), par);
  });
}

}  // namespace

// The attributes both handlers take after their buffers.
template <typename Binding>
auto with_attributes(Binding binding) {
  return std::move(binding)
      .template Attr<int32_t>("version")
      .template Attr<int32_t>("n")
      .template Attr<int32_t>("m")
      .template Attr<int64_t>("outer")
      .template Attr<int64_t>("channels")
      .template Attr<int64_t>("inner");
}

XLA_FFI_DEFINE_HANDLER_SYMBOL(RationalsForward, Forward,
                              with_attributes(ffi::Ffi::Bind()
                                                  .Ctx<ffi::ThreadPool>()
                                                  .Arg<ffi::AnyBuffer>()
                                                  .Arg<ffi::AnyBuffer>()
                                                  .Arg<ffi::AnyBuffer>()
                                                  .Ret<ffi::AnyBuffer>()));

XLA_FFI_DEFINE_HANDLER_SYMBOL(RationalsBackward, Backward,
                              with_attributes(ffi::Ffi::Bind()
                                                  .Ctx<ffi::ThreadPool>()
                                                  .Arg<ffi::AnyBuffer>()
                                                  .Arg<ffi::AnyBuffer>()
                                                  .Arg<ffi::AnyBuffer>()
                                                  .Arg<ffi::AnyBuffer>()
                                                  .Ret<ffi::AnyBuffer>()
                                                  .Ret<ffi::AnyBuffer>()
                                                  .Ret<ffi::AnyBuffer>()));
