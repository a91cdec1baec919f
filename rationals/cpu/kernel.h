// The rational activation R(x) = P(x)/Q(x) and its backward on the CPU, for every variant.
//
// Framework-neutral C++ (no framework header): the JAX (XLA FFI), TensorFlow (XLA custom call)
// and C (torch, MXNet) bindings include this file. The math is that of rationals/core (math.py,
// direct.py):
//
//   fast path, |x| <= max(1, L_c):   P = Σ a_i x^i,  T = Σ d_j y^j,  Q = κ + α(T),  R = P/Q
//   slow path, otherwise:            the reciprocal form in z = 1/x (overflow-free, any magnitude)
//
// with L_c = (sqrt(max) / (1 + Σ|a| + Σ|b|))^(1/max(n,m,1)) per channel (core.direct.direct_limit),
// y = |x| and d_j = |b_j| for A, α = |·| for B and C, sign(0) = +1. The fast path runs over blocks
// of kLanes elements held in GCC/Clang vector types; coefficient gradients are summed
// per lane in T, flushed into double every kFlush blocks, per chunk, and the chunks are added in
// a fixed order (deterministic for a given input, whatever the number of threads). x, the upstream
// gradient and the outputs may be stored as float16 or bfloat16 (Half, BFloat16): converted per
// block and computed in float, with float coefficient tables.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#if defined(__F16C__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace rationals {

enum Version : int { kA = 0, kB = 1, kC = 2, kN = 3, kBoulle = 4, kEra = 5 };

constexpr int kLanes = 16;
constexpr int kMaxDegree = 32;  // larger degrees are left to the adapters' XLA code
constexpr int kFlush = 64;
constexpr int64_t kMaxBanked = 256;  // channels whose sums a chunk keeps apart (short runs)
constexpr double kEraEpsilon = 1e-6;  // core.variants.ERA_EPSILON
constexpr double kCOffset = 0.1;      // core.variants.C_OFFSET

// x viewed as (outer, channels, inner); coefficients of channel c are row c of the tables.
struct Geometry {
  int64_t outer, channels, inner;
  int64_t size() const { return outer * channels * inner; }
};

inline int64_t round_up(int64_t v, int64_t k) { return (v + k - 1) / k * k; }

// Per-channel coefficients prepared once per call, stored coefficient-major: field[k * stride + c].
template <typename T>
struct Coefs {
  int version, n, m;
  int na, nd;     // numerator / derivative-accumulator sizes (nd = m + 1, era: m)
  int nb, offset; // denominator length and the power of x its first entry multiplies
  int64_t channels, stride;
  bool abs_y = false, abs_t = false;
  T kappa = 0;
  std::vector<T> a, ad, d, dd, fast;  // a_i, (i+1) a_{i+1}, d_j, (j+1) d_{j+1}, fast-path bound
  std::vector<double> bsign;          // A: sign(b_j) for the chain rule d_j = |b_j|
  std::vector<int> n_eff, m_eff;      // effective degrees (slow path)

  T at(const std::vector<T>& v, int k, int64_t c) const { return v[k * stride + c]; }

  Coefs(int version_, int n_, int m_, int64_t channels_, const T* a_tab, const T* b_tab)
      : version(version_), n(n_), m(m_), channels(channels_) {
    stride = round_up(channels, kLanes);
    if (stride % (4 * kLanes) == 0) stride += kLanes;  // rows 2^k apart would share cache sets
    const bool era = version == kEra;
    na = era ? m + 2 : n + 1;
    nb = (version == kC || version == kBoulle) ? m + 1 : m;
    nd = era ? m : m + 1;
    offset = (version == kC || version == kBoulle) ? 0 : 1;
    abs_y = version == kA;
    abs_t = version == kB || version == kC;
    kappa = version == kB ? T(1) : version == kC ? T(kCOffset) : T(0);
    a.assign(na * stride, T(0));
    d.assign((era ? m : m + 1) * stride, T(0));
    ad.assign(std::max(na - 1, 1) * stride, T(0));
    dd.assign(std::max(m, 1) * stride, T(0));
    fast.assign(stride, T(1));
    bsign.assign(std::max(nb, 1) * channels, 1.0);
    n_eff.assign(channels, 0);
    m_eff.assign(channels, 0);
    for (int64_t c = 0; c < channels; ++c) prepare(c, a_tab + c * na, b_tab + c * nb);
  }

 private:
  void prepare(int64_t c, const T* ac, const T* bc) {
    double s = 1.0;
    for (int i = 0; i < na; ++i) { a[i * stride + c] = ac[i]; s += std::abs(double(ac[i])); }
    for (int j = 0; j < nb; ++j) s += std::abs(double(bc[j]));
    if (version == kEra) {
      for (int j = 0; j < m; ++j) d[j * stride + c] = bc[j];
      return;
    }
    const T lead = (version == kA || version == kN) ? T(1) : T(0);
    for (int j = 0; j <= m; ++j) {
      T v = j < offset ? lead : bc[j - offset];
      if (version == kA && j >= 1) {
        bsign[(j - 1) * channels + c] = v >= 0 ? 1.0 : -1.0;
        v = std::abs(v);
      }
      d[j * stride + c] = v;
      if (v != T(0)) m_eff[c] = j;
    }
    for (int i = 0; i <= n; ++i) if (ac[i] != T(0)) n_eff[c] = i;
    for (int i = 0; i < n; ++i) ad[i * stride + c] = T(i + 1) * ac[i + 1];
    for (int j = 0; j < m; ++j) dd[j * stride + c] = T(j + 1) * d[(j + 1) * stride + c];
    const int k = std::max({n, m, 1});
    const double limit =
        std::pow(std::sqrt(double(std::numeric_limits<T>::max())) / s, 1.0 / k);
    fast[c] = T(std::max(1.0, std::min(limit, double(std::numeric_limits<T>::max()))));
  }
};

// kLanes values of T in one GCC/Clang vector: arithmetic, comparisons and ?: work lane-wise.
typedef float VecF __attribute__((vector_size(kLanes * sizeof(float))));
typedef double VecD __attribute__((vector_size(kLanes * sizeof(double))));
template <typename T> struct VecOf;
template <> struct VecOf<float> { using type = VecF; };
template <> struct VecOf<double> { using type = VecD; };
template <typename T>
using Vec = typename VecOf<T>::type;

template <typename T>
inline Vec<T> load(const T* p) {
  Vec<T> v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

template <typename T>
inline void store(T* p, const Vec<T>& v) { std::memcpy(p, &v, sizeof(v)); }

inline VecD widen(const VecF& v) { return __builtin_convertvector(v, VecD); }
inline VecD widen(const VecD& v) { return v; }

// Storage types of half-precision inputs (computed in float): IEEE float16 and bfloat16 bits.
struct Half { uint16_t bits; };
struct BFloat16 { uint16_t bits; };

typedef _Float16 VecH __attribute__((vector_size(kLanes * 2)));
typedef uint16_t VecU16 __attribute__((vector_size(kLanes * 2)));
typedef uint32_t VecU32 __attribute__((vector_size(kLanes * 4)));

// float16 ↔ float32 for kLanes values: the F16C / AVX-512 conversion instructions where the
// compiler targets them (GCC's generic vector conversion goes lane by lane), else generic code.
inline VecF half_to_float(const Half* p) {
  VecF f;
#if defined(__AVX512F__)
  const __m512 v = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  std::memcpy(&f, &v, sizeof(f));
#elif defined(__F16C__)
  for (int k = 0; k < kLanes / 8; ++k) {
    const __m256 v = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 8 * k)));
    std::memcpy(reinterpret_cast<float*>(&f) + 8 * k, &v, sizeof(v));
  }
#else
  VecH h;
  std::memcpy(&h, p, sizeof(h));
  f = __builtin_convertvector(h, VecF);
#endif
  return f;
}

inline void float_to_half(Half* p, const VecF& f) {
#if defined(__AVX512F__)
  __m512 v;
  std::memcpy(&v, &f, sizeof(v));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
#elif defined(__F16C__)
  for (int k = 0; k < kLanes / 8; ++k) {
    __m256 v;
    std::memcpy(&v, reinterpret_cast<const float*>(&f) + 8 * k, sizeof(v));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p + 8 * k),
                     _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
  }
#else
  const VecH h = __builtin_convertvector(f, VecH);
  std::memcpy(p, &h, sizeof(h));
#endif
}

// kLanes values of storage type S as a vector of compute type T, and back (round to nearest even;
// bfloat16 keeps NaN a NaN).
template <typename T, typename S>
inline Vec<T> load_as(const S* p) {
  if constexpr (std::is_same_v<S, T>) {
    return load(p);
  } else if constexpr (std::is_same_v<S, Half>) {
    return half_to_float(p);
  } else {
    VecU16 h;
    std::memcpy(&h, p, sizeof(h));
    const VecU32 w = __builtin_convertvector(h, VecU32) << 16;
    VecF f;
    std::memcpy(&f, &w, sizeof(f));
    return f;
  }
}

template <typename T, typename S>
inline void store_as(S* p, const Vec<T>& v) {
  if constexpr (std::is_same_v<S, T>) {
    store(p, v);
  } else if constexpr (std::is_same_v<S, Half>) {
    float_to_half(p, v);
  } else {
    VecU32 u;
    std::memcpy(&u, &v, sizeof(u));
    const VecU32 rounded = (u + (0x7FFFu + ((u >> 16) & 1u))) >> 16;
    const VecU32 out = (v != v) ? (u | 0x400000u) >> 16 : rounded;
    const VecU16 h = __builtin_convertvector(out, VecU16);
    std::memcpy(p, &h, sizeof(h));
  }
}

template <typename S>
inline double to_double(S v) {
  if constexpr (std::is_same_v<S, Half>) {
    _Float16 h;
    std::memcpy(&h, &v, 2);
    return double(h);
  } else if constexpr (std::is_same_v<S, BFloat16>) {
    const uint32_t w = uint32_t(v.bits) << 16;
    float f;
    std::memcpy(&f, &w, 4);
    return f;
  } else {
    return double(v);
  }
}

template <typename S, typename T>
inline S narrow(T value) {  // compute type to storage type, rounding as store_as
  if constexpr (std::is_same_v<S, T>) {
    return value;
  } else if constexpr (std::is_same_v<S, Half>) {
    const float f = float(value);
    const _Float16 h = _Float16(f);
    S v;
    std::memcpy(&v, &h, 2);
    return v;
  } else {
    const float f = float(value);
    uint32_t u;
    std::memcpy(&u, &f, 4);
    const uint32_t r = f != f ? (u | 0x400000u) >> 16 : (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    return S{uint16_t(r)};
  }
}

template <typename T>
inline Vec<T> splat(T s) {  // s · 1 is exact; 0 + s would not be for s = −0
  return (Vec<T>{} + T(1)) * s;
}

// The bits of a vector's lanes (same size), and the sign bit.
template <typename V> struct BitsOf;
template <> struct BitsOf<VecF> {
  using type = VecU32;
  static constexpr uint32_t sign = 0x80000000u;
};
typedef uint64_t VecU64 __attribute__((vector_size(kLanes * 8)));
template <> struct BitsOf<VecD> {
  using type = VecU64;
  static constexpr uint64_t sign = uint64_t(1) << 63;
};
template <typename V>
using Bits = typename BitsOf<V>::type;

template <typename V>
inline V vabs(const V& v) { return (V)((Bits<V>)v & ~BitsOf<V>::sign); }

// The sign bit where v < 0 (not for −0: sign(0) = +1), else 0; v is not NaN.
template <typename V>
inline Bits<V> negative_bit(const V& v) {
  return ((Bits<V>)v > BitsOf<V>::sign) & BitsOf<V>::sign;
}

template <typename V>
inline V sign_pos(const V& v) { return v >= 0 ? V{} + 1 : V{} - 1; }  // sign(0) = +1

// Whether every lane of a comparison's result is true (all bits set).
template <typename M>
inline bool all_lanes(const M& mask) {
  uint64_t words[sizeof(M) / 8];
  std::memcpy(words, &mask, sizeof(M));
  uint64_t all = ~uint64_t(0);
  for (uint64_t w : words) all &= w;
  return all == ~uint64_t(0);
}

// The coefficients a block reads and the variant's flags: coefficient k is a vector with one
// channel per lane (kPerLane: v[k * stride + l]) or one channel's value in every lane. Degrees
// N, M >= 0 are compile-time constants (loops unroll, values stay in registers: about twice as
// fast); -1 reads them at run time.
template <typename T, bool kPerLane, int N = -1, int M = -1>
struct Lanes {
  const T* tab[4];  // a, ad, d, dd of this column
  int64_t stride;
  int n_, m_, offset, version;
  bool abs_y, abs_t;
  T kappa;
  int64_t col;
  // One channel's coefficients side by side: fixed offsets from one base register, no pointer
  // arithmetic with the table stride in the block loops.
  T local[kPerLane ? 1 : 4][kPerLane ? 1 : kMaxDegree + 2];

  Lanes(const Coefs<T>& cf, int64_t col_)
      : stride(cf.stride), n_(cf.n), m_(cf.m), offset(cf.offset), version(cf.version),
        abs_y(cf.abs_y), abs_t(cf.abs_t), kappa(cf.kappa), col(col_) {
    const std::vector<T>* src[4] = {&cf.a, &cf.ad, &cf.d, &cf.dd};
    for (int t = 0; t < 4; ++t) {
      tab[t] = src[t]->data() + col_;
      if constexpr (!kPerLane) {
        const int64_t rows = int64_t(src[t]->size()) / stride;
        for (int64_t k = 0; k < rows; ++k) local[t][k] = tab[t][k * stride];
      }
    }
  }

  static constexpr bool kStatic = N >= 0;  // era always runs with run-time degrees
  static constexpr int kN = N, kM = M;
  int n() const { return N >= 0 ? N : n_; }
  int m() const { return M >= 0 ? M : m_; }

  Vec<T> get(int t, int k) const {
    if constexpr (kPerLane) return load(tab[t] + k * stride);
    else return splat(local[t][k]);
  }
  Vec<T> A(int i) const { return get(0, i); }   // a_i
  Vec<T> AD(int i) const { return get(1, i); }  // (i + 1) a_{i+1}
  Vec<T> D(int j) const { return get(2, j); }   // d_j
  Vec<T> DD(int j) const { return get(3, j); }  // (j + 1) d_{j+1}
};

// ---- fast path: one block of kLanes elements, every |x| within the bound --------------------

template <typename T, typename L>
inline void poly_block(const L& c, const Vec<T>& x, Vec<T>& P, Vec<T>& Tv,
                       Vec<T>& y) {
  P = c.A(c.n());
  for (int i = c.n() - 1; i >= 0; --i) P = P * x + c.A(i);
  y = c.abs_y ? vabs(x) : x;
  Tv = c.D(c.m());
  for (int j = c.m() - 1; j >= 0; --j) Tv = Tv * y + c.D(j);
}

template <typename T, typename L, typename S>
inline void forward_block(const L& c, const S* xp, S* out) {
  const Vec<T> x = load_as<T>(xp);
  Vec<T> P, Tv, y;
  if (!L::kStatic && c.version == kEra) {
    P = c.A(0) * x + c.A(1);
    for (int i = 0; i < c.m() / 2; ++i) {
      const Vec<T> u = x - c.D(2 * i), f = c.D(2 * i + 1);
      const Vec<T> q = u * u + f * f + T(kEraEpsilon);
      P += c.A(2 + 2 * i) * (x / q) + c.A(3 + 2 * i) / q;
    }
    store_as<T>(out, P);
    return;
  }
  poly_block<T>(c, x, P, Tv, y);
  store_as<T>(out, P / (c.kappa + (c.abs_t ? vabs(Tv) : Tv)));
}

// Σ_k coef(k) v^k, k = 0..Deg, given e[k] = v^k for even k (|v| = |x|): even part + v · odd
// part; the odd powers are never formed.
template <int Deg, typename V, typename F>
inline V split_poly(const F& coef, const V& v, const V* e) {
  if constexpr (Deg < 0) {
    return V{};
  } else {
    V even = coef(0), odd = Deg >= 1 ? coef(1) : V{};
    for (int k = 2; k <= Deg; k += 2) even += coef(k) * e[k];
    for (int k = 3; k <= Deg; k += 2) odd += coef(k) * e[k - 1];
    return Deg >= 1 ? odd * v + even : even;
  }
}

// backward_block with compile-time degrees (not era): the powers x^k, y^k are built from the even
// powers e_k = x^k shared by both (y = |x| or x), and every sign by flipping sign bits; the
// version's flags are loop-invariant masks. About 20 % fewer instructions than the Horner form.
template <typename T, typename L, typename Sums, typename S>
inline void backward_static(const L& c, const S* xp, const S* gp, S* dx, Sums& sums,
                            const T* live) {
  constexpr int N = L::kN, M = L::kM, K = N > M ? N : M;
  using B = Bits<Vec<T>>;
  constexpr auto kSign = BitsOf<Vec<T>>::sign;
  const B y_mask = c.abs_y ? ~B{} >> 1 : ~B{};
  const B t_flag = c.abs_t ? B{} + kSign : B{}, x_flag = c.abs_y ? B{} + kSign : B{};
  const Vec<T> x = load_as<T>(xp), g = load_as<T>(gp), y = (Vec<T>)((B)x & y_mask);
  Vec<T> e[K + 1];
  e[0] = splat(T(1));
  for (int k = 2; k <= K; k += 2) e[k] = k == 2 ? x * x : e[k / 4 * 2] * e[k - k / 4 * 2];
  const Vec<T> P = split_poly<N>([&](int i) { return c.A(i); }, x, e);
  const Vec<T> Tv = split_poly<M>([&](int j) { return c.D(j); }, y, e);
  const B t_neg = negative_bit(Tv) & t_flag;  // α'(T) = −1
  const Vec<T> iq = T(1) / (c.kappa + (Vec<T>)((B)Tv ^ t_neg)), r = P * iq;
  Vec<T> wa = g * iq, wd = (Vec<T>)((B)(wa * r) ^ t_neg);  // g/Q and g R/Q α'(T)
  if (live) {
    const Vec<T> zero{};
    wa = load(live) != 0 ? wa : zero;
    wd = load(live) != 0 ? wd : zero;
  }
  const Vec<T> wa1 = wa * x, wd1 = wd * y;
  for (int i = 0; i <= N; ++i) sums.a(i, i % 2 ? wa1 * e[i - 1] : wa * e[i]);  // x^i / Q
  for (int j = 0; j <= M; ++j) sums.d(j, -(j % 2 ? wd1 * e[j - 1] : wd * e[j]));  // −R/Q α' y^j
  // dR/dx = (P' − R α'(T) T'(y) y') / Q
  const Vec<T> Pd = split_poly<N - 1>([&](int i) { return c.AD(i); }, x, e);
  const Vec<T> Td = split_poly<M - 1>([&](int j) { return c.DD(j); }, y, e);
  const B flip = t_neg ^ (negative_bit(x) & x_flag);
  store_as<T>(dx, (Pd - r * (Vec<T>)((B)Td ^ flip)) * wa);
}

// g·dR/dx into dx; g·dR/da_i added by sums.a(i, ·), g·dR/dd_j by sums.d(j, ·).
// Lanes whose live[l] is 0 add exactly 0 (their x is a stand-in); live == nullptr: all live.
template <typename T, typename L, typename Sums, typename S>
inline void backward_block(const L& c, const S* xp, const S* gp, S* dx, Sums& sums,
                           const T* live) {
  if constexpr (L::kStatic) {
    backward_static<T>(c, xp, gp, dx, sums, live);
    return;
  }
  const Vec<T> x = load_as<T>(xp), g = load_as<T>(gp);
  if (c.version == kEra) {
    sums.a(0, g * x);
    sums.a(1, g);
    Vec<T> w = c.A(0);
    for (int i = 0; i < c.m() / 2; ++i) {
      const Vec<T> u = x - c.D(2 * i), f = c.D(2 * i + 1);
      const Vec<T> q = u * u + f * f + T(kEraEpsilon);
      const Vec<T> xq = x / q, iq = T(1) / q;
      const Vec<T> h = c.A(2 + 2 * i) * xq + c.A(3 + 2 * i) * iq;
      const Vec<T> hu = h * (T(2) * u * iq);
      sums.a(2 + 2 * i, g * xq);
      sums.a(3 + 2 * i, g * iq);
      sums.d(2 * i, g * hu);
      sums.d(2 * i + 1, g * -(h * (T(2) * f * iq)));
      w += c.A(2 + 2 * i) * iq - hu;
    }
    store_as<T>(dx, g * w);
    return;
  }
  Vec<T> P, Tv, y;
  poly_block<T>(c, x, P, Tv, y);
  Vec<T> s = c.abs_t ? sign_pos(Tv) : splat(T(1));
  const Vec<T> iq = T(1) / (c.kappa + s * Tv), r = P * iq;
  Vec<T> wa = g * iq, wd = -(wa * r) * s;  // g/Q and −g R/Q α'(T)
  if (live) {
    const Vec<T> zero{};
    wa = load(live) != 0 ? wa : zero;
    wd = load(live) != 0 ? wd : zero;
  }
  sums.a(0, wa);  // x^i / Q
  for (int i = 1; i <= c.n(); ++i) sums.a(i, wa *= x);
  if (c.offset == 0) sums.d(0, wd);  // −R/Q α'(T) y^j
  for (int j = 1; j <= c.m(); ++j) sums.d(j, wd *= y);
  // dR/dx = (P' − R α'(T) T'(y) y') / Q
  P = c.n() ? c.AD(c.n() - 1) : Vec<T>{};
  for (int i = c.n() - 2; i >= 0; --i) P = P * x + c.AD(i);
  Tv = c.m() ? c.DD(c.m() - 1) : Vec<T>{};
  for (int j = c.m() - 2; j >= 0; --j) Tv = Tv * y + c.DD(j);
  if (c.abs_y) s *= sign_pos(x);
  store_as<T>(dx, g * ((P - r * (s * Tv)) * iq));
}

// ---- slow path: one element in the reciprocal form (any magnitude), or NaN ------------------

inline double parity_sign(double s, int e) { return e % 2 ? s : 1.0; }

// Returns R(x); with tot_a/tot_d (channel c's double totals) also adds g·dR/dcoef and sets *dx.
template <typename T>
double slow_element(const Coefs<T>& cf, int64_t c, double x, double g, double* dx,
                    double* tot_a, double* tot_d) {
  if (std::isnan(x)) {
    if (tot_a) {
      for (int i = 0; i < cf.na; ++i) tot_a[i] += x;
      for (int j = 0; j < cf.nd; ++j) tot_d[j] += x;
      *dx = x;
    }
    return x;
  }
  const int ne = cf.n_eff[c], me = cf.m_eff[c];
  const double ax = std::abs(x), s = x >= 0 ? 1.0 : -1.0, z = 1.0 / x;
  const double sy = cf.abs_y ? 1.0 : s, w = cf.abs_y ? 1.0 / ax : z;
  double ph = cf.at(cf.a, 0, c), th = cf.at(cf.d, 0, c);  // P̂(z), T̂(w)
  for (int i = 1; i <= ne; ++i) ph = ph * z + cf.at(cf.a, i, c);
  for (int j = 1; j <= me; ++j) th = th * w + cf.at(cf.d, j, c);
  const double kz = cf.kappa * std::pow(ax, -me);  // Q̂ = Q / |x|^{m'}
  const double qh = cf.abs_t ? kz + std::abs(th) : kz + parity_sign(sy, me) * th;
  const double iqh = 1.0 / qh;
  const double r = parity_sign(s, ne) * std::pow(ax, ne - me) * ph * iqh;
  if (!tot_a) return r;
  for (int i = 0; i <= cf.n; ++i) tot_a[i] += g * parity_sign(s, i) * std::pow(ax, i - me) * iqh;
  const double st = cf.abs_t && th != 0 ? parity_sign(sy, me) * (th > 0 ? 1.0 : -1.0) : 1.0;
  for (int j = cf.offset; j <= cf.m; ++j)
    tot_d[j] += g * (-r * st * parity_sign(sy, j) * std::pow(ax, j - me) * iqh);
  double pdh = 0.0, tdh = 0.0;  // Σ i a_i z^{n'−i}, Σ j d_j w^{m'−j}
  for (int i = 1; i <= ne; ++i) pdh = pdh * z + i * double(cf.at(cf.a, i, c));
  for (int j = 1; j <= me; ++j) tdh = tdh * w + j * double(cf.at(cf.d, j, c));
  const double p_over_q = parity_sign(s, ne - 1) * std::pow(ax, ne - 1 - me) * pdh * iqh;
  const double q_over_q = st * parity_sign(sy, me - 1) * (cf.abs_y ? s : 1.0) * tdh * iqh / ax;
  *dx = g * (p_over_q - r * q_over_q);
  return r;
}

// ---- drivers ----------------------------------------------------------------------------------

// Work split into chunks that depend on the input size only (deterministic sums).
struct Plan {
  bool per_lane;     // channels last with several channels: lanes run across channels
  int64_t units;     // rows (per_lane) or elements (otherwise)
  int64_t per_chunk; // units per chunk
  int64_t chunks;
};

inline Plan plan(const Geometry& geo) {
  const int64_t target = int64_t(1) << 15;
  Plan p;
  p.per_lane = geo.inner == 1 && geo.channels > 1;
  p.units = p.per_lane ? geo.outer : geo.size();
  const int64_t per_unit = p.per_lane ? geo.channels : 1;
  const int64_t want = std::max<int64_t>(1, target / per_unit);
  p.per_chunk = std::max(want, (p.units + 63) / 64);
  p.chunks = std::max<int64_t>(1, (p.units + p.per_chunk - 1) / p.per_chunk);
  return p;
}

// Coefficient sums of one channel's run, one vector per coefficient (registers when the sizes
// are compile-time constants); flushed into double totals every kFlush blocks.
template <typename T, int NA, int ND>
struct RegisterSums {
  Vec<T> sa[NA] = {}, sd[ND] = {};
  void a(int i, const Vec<T>& v) { sa[i] += v; }
  void d(int j, const Vec<T>& v) { sd[j] += v; }
  // Adds the sums lane-wise into double partials wa, wd (vectorised) and clears them.
  void flush(int na, int nd, VecD* wa, VecD* wd) {
    for (int i = 0; i < na; ++i) wa[i] += widen(sa[i]), sa[i] = Vec<T>{};
    for (int j = 0; j < nd; ++j) wd[j] += widen(sd[j]), sd[j] = Vec<T>{};
  }
};

// Adds the lanes of each partial into one channel's totals t[0..count) and clears them.
inline void add_lanes(VecD* partial, int count, double* t) {
  for (int k = 0; k < count; ++k, partial[k - 1] = VecD{})
    for (int l = 0; l < kLanes; ++l) t[k] += partial[k][l];
}

// Sums with one lane per channel, in memory: coefficient k of channel c at p[k * stride + c].
template <typename T>
struct ChannelSums {
  T *pa, *pd;
  int64_t stride;
  void a(int i, const Vec<T>& v) { store(pa + i * stride, load(pa + i * stride) + v); }
  void d(int j, const Vec<T>& v) { store(pd + j * stride, load(pd + j * stride) + v); }
  // Adds channels [c0, c1) into double totals (channel-major) and clears them.
  void flush(int na, int nd, double* ta, double* td, int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      for (int i = 0; i < na; ++i) ta[c * na + i] += double(pa[i * stride + c]);
      for (int j = 0; j < nd; ++j) td[c * nd + j] += double(pd[j * stride + c]);
    }
    for (int i = 0; i < na; ++i) std::fill(pa + i * stride + c0, pa + i * stride + c1, T(0));
    for (int j = 0; j < nd; ++j) std::fill(pd + j * stride + c0, pd + j * stride + c1, T(0));
  }
};

// Runs one block that may be partial (count < kLanes) or hold slow lanes: the fast path on
// stand-ins, then each slow lane alone. bound holds each lane's fast-path bound; totals(l, &a, &d)
// gives lane l's channel totals (backward).
template <bool kPerLane, typename T, typename L, typename Sums, typename Totals, typename S>
void mixed_block(const Coefs<T>& cf, const L& c, int count, const S* x, const S* g, S* out,
                 Sums& sums, const Vec<T>& bound, Totals totals, int64_t lane_c0) {
  // Slow and padding lanes get x = 0, g = 0 and add nothing (x = 0 may be a pole of N, boulle).
  alignas(64) T xb[kLanes] = {}, gb[kLanes] = {}, ob[kLanes], live[kLanes] = {};
  bool slow[kLanes] = {};
  for (int l = 0; l < count; ++l) {
    const T xv = T(to_double(x[l]));
    slow[l] = cf.version != kEra && !(std::abs(xv) <= bound[l]);
    live[l] = slow[l] ? T(0) : T(1);
    xb[l] = slow[l] ? T(0) : xv;
    if (g) gb[l] = slow[l] ? T(0) : T(to_double(g[l]));
  }
  if (g) backward_block<T>(c, xb, gb, ob, sums, live);
  else forward_block<T>(c, xb, ob);
  for (int l = 0; l < count; ++l) {
    if (!slow[l]) { out[l] = narrow<S>(ob[l]); continue; }
    const int64_t ch = kPerLane ? lane_c0 + l : c.col;
    if (g) {
      double dxv, *ta, *td;
      totals(l, &ta, &td);
      slow_element(cf, ch, to_double(x[l]), to_double(g[l]), &dxv, ta, td);
      out[l] = narrow<S>(T(dxv));
    } else {
      out[l] = narrow<S>(T(slow_element<T>(cf, ch, to_double(x[l]), 0.0, nullptr, nullptr,
                                           nullptr)));
    }
  }
}

// Whether |x| <= bound for all of x[0, count) (count a multiple of kLanes); false for NaN.
template <typename T, typename S>
inline bool within(const S* x, int64_t count, const Vec<T>& bound) {
  auto ok = vabs(load_as<T>(x)) <= bound;
  for (int64_t i = kLanes; i < count; i += kLanes) ok &= vabs(load_as<T>(x + i)) <= bound;
  return all_lanes(ok);
}

// One chunk. g == nullptr: forward (out = R). Otherwise backward (out = dL/dx) with the chunk's
// totals tot_a (channels × na) and tot_d (channels × nd), double.
template <typename T, int N, int M, typename S>
void run_chunk(const Coefs<T>& cf, const Geometry& geo, const Plan& p, int64_t chunk,
               const S* x, const S* g, S* out, double* tot_a, double* tot_d) {
  const int64_t lo = chunk * p.per_chunk, hi = std::min(p.units, lo + p.per_chunk);
  const int na = cf.na, nd = cf.nd;
  if (p.per_lane) {  // one channel per lane: per-channel coefficients with channels last
    const int64_t C = geo.channels, stride = cf.stride;
    std::vector<T> acc(g ? (na + nd) * stride : 0, T(0));
    ChannelSums<T> sums{acc.data(), acc.data() + na * stride, stride};
    for (int64_t row = lo; row < hi; ++row) {
      for (int64_t c0 = 0; c0 < C; c0 += kLanes) {
        const int count = int(std::min<int64_t>(kLanes, C - c0));
        const int64_t off = row * C + c0;
        const Lanes<T, true, N, M> lanes(cf, c0);
        const Vec<T> bound = load(cf.fast.data() + c0);
        ChannelSums<T> at{sums.pa + c0, sums.pd + c0, stride};
        if (count == kLanes && (cf.version == kEra || within<T>(x + off, kLanes, bound))) {
          if (g) backward_block<T>(lanes, x + off, g + off, out + off, at, nullptr);
          else forward_block<T>(lanes, x + off, out + off);
          continue;
        }
        auto totals = [&](int l, double** ta, double** td) {
          *ta = tot_a + (c0 + l) * na;
          *td = tot_d + (c0 + l) * nd;
        };
        mixed_block<true>(cf, lanes, count, x + off, g ? g + off : nullptr, out + off, at,
                          bound, totals, c0);
      }
      if (g && ((row - lo + 1) % kFlush == 0 || row + 1 == hi))
        sums.flush(na, nd, tot_a, tot_d, 0, C);
    }
    return;
  }
  constexpr int kMaxSums = kMaxDegree + 2;
  constexpr int NA = N >= 0 ? N + 1 : kMaxSums, ND = M >= 0 ? M + 1 : kMaxSums;
  constexpr int64_t kSegment = int64_t(kFlush) * kLanes;
  VecD wa[NA] = {}, wd[ND] = {};
  // Runs shorter than a segment (e.g. channels-last groups): each channel's sums live in a bank
  // across its runs, flushed every kFlush blocks and added into the totals at the chunk's end,
  // instead of a flush and a sum over lanes per run. Compile-time degrees only (bank size).
  const int64_t C = geo.channels;
  const bool banked = N >= 0 && g && geo.inner < kSegment && C <= kMaxBanked;
  std::vector<RegisterSums<T, NA, ND>> bank(banked ? C : 0);
  std::vector<VecD> bank_wa(banked ? C * NA : 0), bank_wd(banked ? C * ND : 0);
  std::vector<int64_t> pending(banked ? C : 0);  // blocks summed since the last flush
  int64_t i = lo;
  while (i < hi) {  // runs of one channel, in segments of kFlush blocks
    const int64_t row = i / geo.inner, c = row % C;
    const int64_t run_end = std::min(hi, (row + 1) * geo.inner);
    const Lanes<T, false, N, M> lanes(cf, c);
    const Vec<T> bound = splat(cf.fast[c]);
    double* ta = g ? tot_a + c * na : nullptr;
    double* td = g ? tot_d + c * nd : nullptr;
    auto totals = [&](int, double** a_out, double** d_out) { *a_out = ta; *d_out = td; };
    RegisterSums<T, NA, ND> sums;
    if (banked) {
      const int64_t blocks = (run_end - i + kLanes - 1) / kLanes;
      if (pending[c] + blocks > kFlush) {
        bank[c].flush(na, nd, &bank_wa[c * NA], &bank_wd[c * ND]);
        pending[c] = 0;
      }
      pending[c] += blocks;
      sums = bank[c];
    }
    for (; i < run_end; i += kSegment) {
      const int64_t end = std::min(run_end, i + kSegment);
      const int64_t full = (end - i) / kLanes * kLanes;
      if (full && (cf.version == kEra || within<T>(x + i, full, bound))) {
        if (g) {
          for (int64_t k = i; k < i + full; k += kLanes)
            backward_block<T>(lanes, x + k, g + k, out + k, sums, nullptr);
        } else {
          for (int64_t k = i; k < i + full; k += kLanes) forward_block<T>(lanes, x + k, out + k);
        }
      } else {
        for (int64_t k = i; k < i + full; k += kLanes)
          mixed_block<false>(cf, lanes, kLanes, x + k, g ? g + k : nullptr, out + k, sums, bound,
                             totals, 0);
      }
      if (full < end - i)
        mixed_block<false>(cf, lanes, int(end - i - full), x + i + full, g ? g + i + full : nullptr,
                           out + i + full, sums, bound, totals, 0);
      if (g && !banked) sums.flush(na, nd, wa, wd);
    }
    if (banked) {
      bank[c] = sums;
    } else if (g) {
      add_lanes(wa, na, ta);
      add_lanes(wd, nd, td);
    }
    i = run_end;
  }
  for (int64_t ch = 0; ch < int64_t(bank.size()); ++ch) {
    bank[ch].flush(na, nd, &bank_wa[ch * NA], &bank_wd[ch * ND]);
    add_lanes(&bank_wa[ch * NA], na, tot_a + ch * na);
    add_lanes(&bank_wd[ch * ND], nd, tot_d + ch * nd);
  }
}

// Per-channel totals of the d_j (or era's e, f) → gradients of the denominator table (b).
template <typename T>
void denominator_gradient(const Coefs<T>& cf, const double* tot_d, T* db) {
  for (int64_t c = 0; c < cf.channels; ++c)
    for (int j = 0; j < cf.nb; ++j) {
      const int k = cf.version == kEra ? j : j + cf.offset;
      double v = tot_d[c * cf.nd + k];
      if (cf.version == kA) v *= cf.bsign[j * cf.channels + c];
      db[c * cf.nb + j] = T(v);
    }
}

template <int N, int M>
struct Degrees {
  static constexpr int n = N, m = M;
};

// f(Degrees<n, m>) for the degrees most used in the literature (compiled with constant degrees),
// f(Degrees<-1, -1>) for the others and for era.
template <typename T, typename F>
void with_degrees(const Coefs<T>& cf, F&& f) {
  if (cf.version != kEra) {
#define RATIONALS_DEGREES(N, M) \
    if (cf.n == N && cf.m == M) return f(Degrees<N, M>{});
    RATIONALS_DEGREES(5, 4)
    RATIONALS_DEGREES(3, 2)
    RATIONALS_DEGREES(4, 4)
    RATIONALS_DEGREES(6, 5)
    RATIONALS_DEGREES(7, 6)
#undef RATIONALS_DEGREES
  }
  f(Degrees<-1, -1>{});
}

// Forward over all chunks; Parallel(count, fn) runs fn(i) for i in [0, count).
// x and out have the storage type S (T, or Half/BFloat16 computed in float).
template <typename T, typename S = T, typename Parallel>
void forward(int version, int n, int m, const Geometry& geo, const S* x, const T* a_tab,
             const T* b_tab, S* out, Parallel&& parallel) {
  if (geo.size() == 0) return;
  const Coefs<T> cf(version, n, m, geo.channels, a_tab, b_tab);
  const Plan p = plan(geo);
  with_degrees(cf, [&](auto deg) {
    parallel(p.chunks, [&](int64_t k) {
      run_chunk<T, deg.n, deg.m, S>(cf, geo, p, k, x, nullptr, out, nullptr, nullptr);
    });
  });
}

// x, g and dx have the storage type S; the coefficient tables and their gradients are T.
template <typename T, typename S = T, typename Parallel>
void backward(int version, int n, int m, const Geometry& geo, const S* x, const S* g,
              const T* a_tab, const T* b_tab, S* dx, T* da, T* db, Parallel&& parallel) {
  const Coefs<T> cf(version, n, m, geo.channels, a_tab, b_tab);
  const int64_t C = geo.channels, na = cf.na, nd = cf.nd;
  if (geo.size() == 0) {
    std::fill(da, da + C * na, T(0));
    std::fill(db, db + C * cf.nb, T(0));
    return;
  }
  const Plan p = plan(geo);
  std::vector<double> tot(p.chunks * C * (na + nd), 0.0);
  with_degrees(cf, [&](auto deg) {
    parallel(p.chunks, [&](int64_t k) {
      double* t = tot.data() + k * C * (na + nd);
      run_chunk<T, deg.n, deg.m, S>(cf, geo, p, k, x, g, dx, t, t + C * na);
    });
  });
  std::vector<double> sum_a(C * na, 0.0), sum_d(C * nd, 0.0);
  for (int64_t k = 0; k < p.chunks; ++k) {
    const double* t = tot.data() + k * C * (na + nd);
    for (int64_t i = 0; i < C * na; ++i) sum_a[i] += t[i];
    for (int64_t i = 0; i < C * nd; ++i) sum_d[i] += t[C * na + i];
  }
  for (int64_t i = 0; i < C * na; ++i) da[i] = T(sum_a[i]);
  denominator_gradient(cf, sum_d.data(), db);
}

}  // namespace rationals
