// Helpers shared by the addon's source files (sae_rx_blas.cc: BLAS, sparse and Adam kernels;
// model_kernels.cc: the transformer forward's fused kernels): argument checks that throw a
// JavaScript error naming the argument, and a small fork-join loop over OpenBLAS's thread count.
#pragma once
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

// Declared here as well as (usually) in cblas.h: the alternatives system may point cblas.h at
// another implementation's header, and we link libopenblas by name either way.
extern "C" {
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char* openblas_get_config(void);
}

namespace sae_rx {

struct F32View {
  float* data = nullptr;
  size_t length = 0;
};

inline bool GetF32(const Napi::Env& env, const Napi::Value& v, const char* name, F32View* out) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    Napi::TypeError::New(env, std::string(name) + " must be a Float32Array").ThrowAsJavaScriptException();
    return false;
  }
  auto arr = v.As<Napi::Float32Array>();
  out->data = arr.Data();
  out->length = arr.ElementLength();
  return true;
}

inline bool GetDim(const Napi::Env& env, const Napi::Value& v, const char* name, size_t* out) {
  if (!v.IsNumber()) {
    Napi::TypeError::New(env, std::string(name) + " must be a number").ThrowAsJavaScriptException();
    return false;
  }
  double d = v.As<Napi::Number>().DoubleValue();
  // cblas takes int dimensions: refuse what would overflow rather than wrap silently.
  if (!(d >= 0) || d != std::floor(d) || d > 2147483647.0) {
    Napi::RangeError::New(env, std::string(name) + " must be an integer in [0, 2^31)").ThrowAsJavaScriptException();
    return false;
  }
  *out = static_cast<size_t>(d);
  return true;
}


#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SAE_RX_CLONES __attribute__((target_clones("avx2,fma", "default")))
#else
#define SAE_RX_CLONES
#endif

inline int SparseThreads() { return std::max(1, openblas_get_num_threads()); }

// Runs f(begin, end) over [0, n) split into contiguous chunks, one per thread (the calling
// thread takes the first). Small problems run on the calling thread alone.
template <class F>
void ParallelFor(size_t n, size_t minPerThread, F f) {
  size_t t = static_cast<size_t>(SparseThreads());
  if (minPerThread > 0) t = std::min(t, std::max<size_t>(1, n / minPerThread));
  if (t <= 1 || n < 2) {
    f(size_t{0}, n);
    return;
  }
  const size_t chunk = (n + t - 1) / t;
  std::vector<std::thread> pool;
  for (size_t i = 1; i < t; ++i) {
    const size_t b = i * chunk, e = std::min(n, b + chunk);
    if (b < e) pool.emplace_back([&f, b, e] { f(b, e); });
  }
  f(0, std::min(n, chunk));
  for (auto& th : pool) th.join();
}

inline bool GetI32(const Napi::Env& env, const Napi::Value& v, const char* name, int32_t** data, size_t* len) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    Napi::TypeError::New(env, std::string(name) + " must be an Int32Array").ThrowAsJavaScriptException();
    return false;
  }
  auto arr = v.As<Napi::Int32Array>();
  *data = arr.Data();
  *len = arr.ElementLength();
  return true;
}

inline bool Fail(const Napi::Env& env, const std::string& msg) {
  Napi::RangeError::New(env, msg).ThrowAsJavaScriptException();
  return false;
}

// The elementwise kernels' arguments: `n` Float32Arrays info[0..n) named `names`, all of one
// length; throws "<fn>: <names> must have the same length" otherwise.
inline bool GetSameLengthF32(const Napi::CallbackInfo& info, const char* fn, const char* const* names, int n, F32View* out) {
  Napi::Env env = info.Env();
  for (int i = 0; i < n; ++i) {
    if (!GetF32(env, info[i], names[i], &out[i])) return false;
  }
  for (int i = 1; i < n; ++i) {
    if (out[i].length != out[0].length) {
      std::string all;
      for (int j = 0; j < n; ++j) all += (j == 0 ? "" : j == n - 1 ? " and " : ", ") + std::string(names[j]);
      return Fail(env, std::string(fn) + ": " + all + " must have the same length");
    }
  }
  return true;
}


// Adds the model forward's kernels (model_kernels.cc) to the addon's exports.
void AddModelKernels(Napi::Env env, Napi::Object exports);
// Adds the TopK-family step's kernels (topk_kernels.cc).
void AddTopkKernels(Napi::Env env, Napi::Object exports);

}  // namespace sae_rx
