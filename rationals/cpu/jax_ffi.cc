// XLA FFI handlers (JAX, CPU) for kernel.h: RationalsForward and RationalsBackward.
//
// Operands: x (any shape, viewed as outer × channels × inner), the per-channel coefficient tables
// a (channels × na) and b (channels × nb), all float32 or all float64; attributes version, n, m,
// outer, channels, inner. Work is spread over XLA's intra-op thread pool.
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

ffi::Error check(ffi::AnyBuffer x, ffi::AnyBuffer a, ffi::AnyBuffer b) {
  if (x.element_type() != a.element_type() || x.element_type() != b.element_type())
    return ffi::Error::InvalidArgument("rationals: x and coefficients must share one dtype");
  if (x.element_type() != ffi::F32 && x.element_type() != ffi::F64)
    return ffi::Error::InvalidArgument("rationals: the CPU kernel takes float32 or float64");
  return ffi::Error::Success();
}

ffi::Error Forward(ffi::ThreadPool pool, ffi::AnyBuffer x, ffi::AnyBuffer a, ffi::AnyBuffer b,
                   ffi::Result<ffi::AnyBuffer> out, int32_t version, int32_t n, int32_t m,
                   int64_t outer, int64_t channels, int64_t inner) {
  if (auto e = check(x, a, b); e.failure()) return e;
  const auto geo = geometry(outer, channels, inner);
  auto par = [&](int64_t count, const auto& fn) { parallel_for(pool, count, fn); };
  if (x.element_type() == ffi::F32)
    rationals::forward<float>(version, n, m, geo, x.typed_data<float>(), a.typed_data<float>(),
                              b.typed_data<float>(), out->typed_data<float>(), par);
  else
    rationals::forward<double>(version, n, m, geo, x.typed_data<double>(),
                               a.typed_data<double>(), b.typed_data<double>(),
                               out->typed_data<double>(), par);
  return ffi::Error::Success();
}

ffi::Error Backward(ffi::ThreadPool pool, ffi::AnyBuffer x, ffi::AnyBuffer g, ffi::AnyBuffer a,
                    ffi::AnyBuffer b, ffi::Result<ffi::AnyBuffer> dx,
                    ffi::Result<ffi::AnyBuffer> da, ffi::Result<ffi::AnyBuffer> db,
                    int32_t version, int32_t n, int32_t m, int64_t outer, int64_t channels,
                    int64_t inner) {
  if (auto e = check(x, a, b); e.failure()) return e;
  const auto geo = geometry(outer, channels, inner);
  auto par = [&](int64_t count, const auto& fn) { parallel_for(pool, count, fn); };
  if (x.element_type() == ffi::F32)
    rationals::backward<float>(version, n, m, geo, x.typed_data<float>(), g.typed_data<float>(),
                               a.typed_data<float>(), b.typed_data<float>(),
                               dx->typed_data<float>(), da->typed_data<float>(),
                               db->typed_data<float>(), par);
  else
    rationals::backward<double>(version, n, m, geo, x.typed_data<double>(),
                                g.typed_data<double>(), a.typed_data<double>(),
                                b.typed_data<double>(), dx->typed_data<double>(),
                                da->typed_data<double>(), db->typed_data<double>(), par);
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(RationalsForward, Forward,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Attr<int32_t>("version")
                                  .Attr<int32_t>("n")
                                  .Attr<int32_t>("m")
                                  .Attr<int64_t>("outer")
                                  .Attr<int64_t>("channels")
                                  .Attr<int64_t>("inner"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(RationalsBackward, Backward,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Attr<int32_t>("version")
                                  .Attr<int32_t>("n")
                                  .Attr<int32_t>("m")
                                  .Attr<int64_t>("outer")
                                  .Attr<int64_t>("channels")
                                  .Attr<int64_t>("inner"));
