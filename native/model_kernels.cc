// Fused kernels for the transformer forward pass (src/backend/kernels/modelKernels.ts, used by
// src/model/HookedTransformer.ts when no hook needs the intermediates they skip):
//
//   geluNew(x, out)                       out = GPT-2's tanh-approximate GELU of x, one pass
//   causalAttention(q, k, v, z, B, P, H, K, dh, scale)
//                                         z = softmax(mask(q·kᵀ·scale))·v per batch and head
//   normalize(x, out, scale, d, eps, center)
//                                         LayerNorm (center) or RMSNorm rows, without the affine
//
// Both need exp at float32 accuracy in a loop the compiler can vectorize: ExpF below (Cody-Waite
// range reduction and Cephes's degree-6 polynomial, max relative error ~2e-7 against expf).
// No trapping math: lets GCC turn the clamps and selects below into vector blends (it changes
// no result: there is no reassociation and no flush of denormals).
#pragma GCC optimize("no-trapping-math", "no-math-errno")

#include <napi.h>

#include <algorithm>
#include <cstring>

#include "common.h"

namespace sae_rx {
namespace {

// e^x for x in float32 range, written without branches or library calls so that loops over it
// vectorize. Inputs are clamped to [-87.3, 88.7]: below, e^x would be denormal (returned as
// ~1e-38 instead, which is 0 to every sum it enters); above, it would overflow.
inline float ExpF(float x) {
  x = x < -87.3f ? -87.3f : (x > 88.7f ? 88.7f : x);
  const float t = x * 1.44269504088896341f;
  // Round to nearest by the 1.5·2^23 trick (no fast-math here, so it is not folded away).
  const float n = (t + 12582912.0f) - 12582912.0f;
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// GPT-2's gelu_new: 0.5·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³), computed as x·σ(2u)
// (the same function: 1 + tanh(u) = 2σ(2u)), as the tfjs ops it replaces.
SAE_RX_CLONES void GeluNewRange(const float* __restrict x, float* __restrict out, size_t b, size_t e) {
  const float c = 2.0f * 0.7978845608028654f;
  for (size_t i = b; i < e; ++i) {
    const float v = x[i];
    const float twoU = c * (v + 0.044715f * (v * v * v));
    out[i] = v / (1.0f + ExpF(-twoU));
  }
}

Napi::Value GeluNew(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2) return Fail(env, "geluNew expects 2 arguments"), env.Undefined();
  const char* names[] = {"x", "out"};
  F32View a[2];
  if (!GetSameLengthF32(info, "geluNew", names, 2, a)) return env.Undefined();
  ParallelFor(a[0].length, 1 << 20, [&](size_t b, size_t e) { GeluNewRange(a[0].data, a[1].data, b, e); });
  return env.Undefined();
}

// One row of the layer/RMS norm: scale = sqrt(mean((x − c)²) + eps) with c = mean(x) when
// `center` (LayerNorm) else 0 (RMSNorm); out = (x − c) / scale. Sums in 8 partial lanes.
SAE_RX_CLONES float NormalizeRow(const float* __restrict x, float* __restrict out, size_t d, float eps, bool center) {
  float c = 0.0f;
  if (center) {
    float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0;
    for (; i + 8 <= d; i += 8) {
      for (size_t l = 0; l < 8; ++l) part[l] += x[i + l];
    }
    float sum = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
    for (; i < d; ++i) sum += x[i];
    c = sum / static_cast<float>(d);
  }
  float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= d; i += 8) {
    for (size_t l = 0; l < 8; ++l) {
      const float v = x[i + l] - c;
      out[i + l] = v;
      part[l] += v * v;
    }
  }
  float sq = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
  for (; i < d; ++i) {
    const float v = x[i] - c;
    out[i] = v;
    sq += v * v;
  }
  const float scale = std::sqrt(sq / static_cast<float>(d) + eps);
  for (size_t j = 0; j < d; ++j) out[j] /= scale;
  return scale;
}

// normalize(x, out, scale, d, eps, center): each row of d floats of x normalized into out, its
// scale into scale[row] (TransformerLens's hook_scale).
Napi::Value Normalize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 6) return Fail(env, "normalize expects 6 arguments"), env.Undefined();
  F32View x, out, scale;
  size_t d;
  if (!GetF32(env, info[0], "x", &x) || !GetF32(env, info[1], "out", &out) || !GetF32(env, info[2], "scale", &scale) ||
      !GetDim(env, info[3], "d", &d)) {
    return env.Undefined();
  }
  if (!info[4].IsNumber() || !info[5].IsBoolean()) return Fail(env, "normalize: eps must be a number and center a boolean"), env.Undefined();
  const float eps = static_cast<float>(info[4].As<Napi::Number>().DoubleValue());
  const bool center = info[5].As<Napi::Boolean>().Value();
  if (d == 0 || x.length % d != 0 || out.length != x.length || scale.length != x.length / d) {
    return Fail(env, "normalize: x and out must hold whole rows of d floats and scale one float per row"), env.Undefined();
  }
  const size_t rows = x.length / d;
  ParallelFor(rows, (1 << 18) / d + 1, [&](size_t b, size_t e) {
    for (size_t r = b; r < e; ++r) scale.data[r] = NormalizeRow(x.data + r * d, out.data + r * d, d, eps, center);
  });
  return env.Undefined();
}

// s[j] = e^(s[j] − max) for j < n; returns the sum.
SAE_RX_CLONES float ExpShifted(float* __restrict s, float max, size_t n) {
  float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    for (size_t l = 0; l < 8; ++l) {
      s[j + l] = ExpF(s[j + l] - max);
      part[l] += s[j + l];
    }
  }
  float sum = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
  for (; j < n; ++j) {
    s[j] = ExpF(s[j] - max);
    sum += s[j];
  }
  return sum;
}

constexpr size_t kRows = 4;  // query rows per block (ScoreBlock and ValueBlock are written for 4)
constexpr size_t kLanes = 8;  // keys (scores) or head dims (values) per register accumulator

// kLanes floats as one GCC/Clang vector (a YMM register in the AVX2 clone, two XMM otherwise);
// loads and stores through memcpy, so no alignment is assumed. The helpers are always inlined,
// so GCC's note that such a return value would change the calling convention does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float Lanes __attribute__((vector_size(kLanes * sizeof(float))));
__attribute__((always_inline)) inline Lanes LoadLanes(const float* p) {
  Lanes v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
__attribute__((always_inline)) inline void StoreLanes(float* p, Lanes v) { std::memcpy(p, &v, sizeof v); }

// C [4, kLanes] = A [4, K] · B [K, kLanes] (row strides lda, ldb, ldc): four register
// accumulators over K, so each row of B is loaded once for four multiply-adds and C is
// written once. The attention's two products are made of these blocks.
SAE_RX_CLONES void Block4xLanes(const float* __restrict a, size_t lda, size_t K, const float* __restrict b, size_t ldb,
                                float* __restrict c, size_t ldc) {
  Lanes a0 = {}, a1 = {}, a2 = {}, a3 = {};
  for (size_t t = 0; t < K; ++t) {
    const Lanes bv = LoadLanes(b + t * ldb);
    a0 += a[t] * bv;
    a1 += a[lda + t] * bv;
    a2 += a[2 * lda + t] * bv;
    a3 += a[3 * lda + t] * bv;
  }
  StoreLanes(c, a0);
  StoreLanes(c + ldc, a1);
  StoreLanes(c + 2 * ldc, a2);
  StoreLanes(c + 3 * ldc, a3);
}

// Scores of kRows (= 4) query rows qs [4, dh] against keys 0..n8-1 (n8 a multiple of kLanes):
// s[r, j] = Σ_d qs[r, d]·kT[d, j].
void ScoreBlock(const float* qs, size_t dh, const float* kT, size_t ld, size_t n8, float* s) {
  for (size_t j0 = 0; j0 < n8; j0 += kLanes) Block4xLanes(qs, dh, dh, kT + j0, ld, s + j0, ld);
}

// zs [4, dh] = p [4, 0..n) · v rows 0..n (row j at v + j·vStride).
void ValueBlock(const float* p, size_t ld, size_t n, const float* v, size_t vStride, size_t dh, float* zs) {
  size_t d0 = 0;
  for (; d0 + kLanes <= dh; d0 += kLanes) Block4xLanes(p, ld, n, v + d0, vStride, zs + d0, dh);
  for (; d0 < dh; ++d0) {  // head dims past the last full group of kLanes
    for (size_t r = 0; r < kRows; ++r) {
      float a = 0.0f;
      for (size_t j = 0; j < n; ++j) a += p[r * ld + j] * v[j * vStride + d0];
      zs[r * dh + d0] = a;
    }
  }
}

// Positions rounded up to whole accumulators (the scratch rows' stride).
inline size_t PaddedPositions(size_t P) { return (P + kLanes - 1) / kLanes * kLanes; }

// One (batch, head) of causal attention. q, k, v, z are row-major [B, P, heads, dh] arrays
// (k and v with K heads). Scratch: kT [dh, ld] (zero past P), s [kRows, ld], qs [kRows, dh],
// zs [kRows, dh], with ld = PaddedPositions(P).
void AttendOne(const float* q, const float* k, const float* v, float* z, size_t b, size_t h, size_t P,
               size_t H, size_t K, size_t dh, float scale, float* kT, float* s, float* qs, float* zs) {
  const size_t kh = h / (H / K);
  const size_t ld = PaddedPositions(P);
  // kᵀ of this head, so that a block of scores reads contiguous key positions.
  for (size_t j = 0; j < P; ++j) {
    const float* kr = k + ((b * P + j) * K + kh) * dh;
    for (size_t d = 0; d < dh; ++d) kT[d * ld + j] = kr[d];
  }
  const float* vHead = v + (b * P * K + kh) * dh;
  for (size_t i0 = 0; i0 < P; i0 += kRows) {
    const size_t rows = std::min(kRows, P - i0);
    const size_t n = i0 + rows;  // keys any row of the block sees (the causal mask: j <= i)
    for (size_t r = 0; r < kRows; ++r) {
      if (r < rows) std::copy_n(q + ((b * P + i0 + r) * H + h) * dh, dh, qs + r * dh);
      else std::fill_n(qs + r * dh, dh, 0.0f);
    }
    ScoreBlock(qs, dh, kT, ld, PaddedPositions(n), s);
    for (size_t r = 0; r < kRows; ++r) {
      float* sr = s + r * ld;
      const size_t nr = r < rows ? i0 + r + 1 : 0;
      float max = -INFINITY;
      for (size_t j = 0; j < nr; ++j) {
        sr[j] *= scale;
        max = sr[j] > max ? sr[j] : max;
      }
      if (nr > 0) {
        const float inv = 1.0f / ExpShifted(sr, max, nr);
        for (size_t j = 0; j < nr; ++j) sr[j] *= inv;
      }
      std::fill(sr + nr, sr + n, 0.0f);  // masked keys (and padding rows) weigh 0 below
    }
    ValueBlock(s, ld, n, vHead, K * dh, dh, zs);
    for (size_t r = 0; r < rows; ++r) std::copy_n(zs + r * dh, dh, z + ((b * P + i0 + r) * H + h) * dh);
  }
}

Napi::Value CausalAttention(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 10) return Fail(env, "causalAttention expects 10 arguments"), env.Undefined();
  F32View q, k, v, z;
  size_t B, P, H, K, dh;
  if (!GetF32(env, info[0], "q", &q) || !GetF32(env, info[1], "k", &k) || !GetF32(env, info[2], "v", &v) ||
      !GetF32(env, info[3], "z", &z) || !GetDim(env, info[4], "B", &B) || !GetDim(env, info[5], "P", &P) ||
      !GetDim(env, info[6], "H", &H) || !GetDim(env, info[7], "K", &K) || !GetDim(env, info[8], "dh", &dh)) {
    return env.Undefined();
  }
  if (!info[9].IsNumber()) return Fail(env, "causalAttention: scale must be a number"), env.Undefined();
  const float scale = static_cast<float>(info[9].As<Napi::Number>().DoubleValue());
  if (K == 0 || H % K != 0) return Fail(env, "causalAttention: H must be a positive multiple of K"), env.Undefined();
  const double qn = static_cast<double>(B) * P * H * dh, kn = static_cast<double>(B) * P * K * dh;
  if (q.length != qn || z.length != qn || k.length != kn || v.length != kn) {
    return Fail(env, "causalAttention: q, z must hold B·P·H·dh floats and k, v B·P·K·dh"), env.Undefined();
  }
  ParallelFor(B * H, 1, [&](size_t begin, size_t end) {
    const size_t ld = PaddedPositions(P);
    std::vector<float> kT(dh * ld, 0.0f), s(kRows * ld), qs(kRows * dh), zs(kRows * dh);
    for (size_t bh = begin; bh < end; ++bh) {
      AttendOne(q.data, k.data, v.data, z.data, bh / H, bh % H, P, H, K, dh, scale, kT.data(), s.data(), qs.data(), zs.data());
    }
  });
  return env.Undefined();
}

}  // namespace

void AddModelKernels(Napi::Env env, Napi::Object exports) {
  exports.Set("geluNew", Napi::Function::New(env, GeluNew, "geluNew"));
  exports.Set("causalAttention", Napi::Function::New(env, CausalAttention, "causalAttention"));
  exports.Set("normalize", Napi::Function::New(env, Normalize, "normalize"));
}

}  // namespace sae_rx
