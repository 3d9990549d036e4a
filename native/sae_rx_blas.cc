// sae-rx BLAS addon: float32 GEMM through OpenBLAS's cblas_sgemm, for the tfjs BatchMatMul
// kernel in src/backend/kernels/blasBatchMatMul.ts. Operands are Float32Array views that may
// point into the wasm backend's heap or the cpu backend's arrays: nothing is copied, and the
// call is synchronous so the views stay valid (no JS runs, so wasm memory cannot grow).
#include <napi.h>
#include <cblas.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

// Declared here as well as (usually) in cblas.h: the alternatives system may point cblas.h at
// another implementation's header, and we link libopenblas by name either way.
extern "C" {
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char* openblas_get_config(void);
}

namespace {

struct F32View {
  float* data = nullptr;
  size_t length = 0;
};

bool GetF32(const Napi::Env& env, const Napi::Value& v, const char* name, F32View* out) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    Napi::TypeError::New(env, std::string(name) + " must be a Float32Array").ThrowAsJavaScriptException();
    return false;
  }
  auto arr = v.As<Napi::Float32Array>();
  out->data = arr.Data();
  out->length = arr.ElementLength();
  return true;
}

bool GetDim(const Napi::Env& env, const Napi::Value& v, const char* name, size_t* out) {
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

bool GetOffsets(const Napi::Env& env, const Napi::Value& v, const char* name, size_t batch,
                size_t extent, size_t length, const double** out) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    Napi::TypeError::New(env, std::string(name) + " must be a Float64Array").ThrowAsJavaScriptException();
    return false;
  }
  auto arr = v.As<Napi::Float64Array>();
  if (arr.ElementLength() != batch) {
    Napi::RangeError::New(env, std::string(name) + " must have one offset per batch entry")
        .ThrowAsJavaScriptException();
    return false;
  }
  const double* p = arr.Data();
  // Every matrix the offsets name must lie inside its array: a bad offset from JS must not
  // let BLAS read or write outside the buffer.
  for (size_t i = 0; i < batch; ++i) {
    double o = p[i];
    if (!(o >= 0) || o != std::floor(o) || o + static_cast<double>(extent) > static_cast<double>(length)) {
      Napi::RangeError::New(env, std::string(name) + "[" + std::to_string(i) + "] = " + std::to_string(o) +
                                     " puts a matrix of " + std::to_string(extent) +
                                     " floats outside an array of " + std::to_string(length))
          .ThrowAsJavaScriptException();
      return false;
    }
  }
  *out = p;
  return true;
}

// gemm(transA, transB, m, n, k, a, b, c, aOffsets, bOffsets, cOffsets): for each batch entry i,
// C_i[m x n] = op(A_i) op(B_i), row-major, where A_i starts at a[aOffsets[i]] and is k x m when
// transA (else m x k), and B_i starts at b[bOffsets[i]] and is n x k when transB (else k x n).
// Repeated offsets express broadcast batch dimensions.
Napi::Value Gemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 11) {
    Napi::TypeError::New(env, "gemm expects 11 arguments").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const bool ta = info[0].ToBoolean().Value();
  const bool tb = info[1].ToBoolean().Value();
  size_t m, n, k;
  if (!GetDim(env, info[2], "m", &m) || !GetDim(env, info[3], "n", &n) || !GetDim(env, info[4], "k", &k)) {
    return env.Undefined();
  }
  F32View a, b, c;
  if (!GetF32(env, info[5], "a", &a) || !GetF32(env, info[6], "b", &b) || !GetF32(env, info[7], "c", &c)) {
    return env.Undefined();
  }
  if (!info[8].IsTypedArray()) {
    Napi::TypeError::New(env, "aOffsets must be a Float64Array").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const size_t batch = info[8].As<Napi::TypedArray>().ElementLength();
  const double *ao, *bo, *co;
  if (!GetOffsets(env, info[8], "aOffsets", batch, m * k, a.length, &ao) ||
      !GetOffsets(env, info[9], "bOffsets", batch, k * n, b.length, &bo) ||
      !GetOffsets(env, info[10], "cOffsets", batch, m * n, c.length, &co)) {
    return env.Undefined();
  }
  if (m == 0 || n == 0) return env.Undefined();
  // Leading dimensions must be >= 1 even for empty operands, or cblas reports an error.
  const int lda = static_cast<int>(std::max<size_t>(1, ta ? m : k));
  const int ldb = static_cast<int>(std::max<size_t>(1, tb ? k : n));
  const int ldc = static_cast<int>(std::max<size_t>(1, n));
  for (size_t i = 0; i < batch; ++i) {
    float* ci = c.data + static_cast<size_t>(co[i]);
    if (k == 0) {
      // An empty inner dimension gives zeros; don't rely on the BLAS for this corner.
      for (size_t j = 0; j < m * n; ++j) ci[j] = 0.0f;
      continue;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), 1.0f,
                a.data + static_cast<size_t>(ao[i]), lda, b.data + static_cast<size_t>(bo[i]), ldb, 0.0f, ci, ldc);
  }
  return env.Undefined();
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t t;
  if (info.Length() != 1 || !GetDim(env, info[0], "threads", &t) || t < 1 || t > 1024) {
    if (!env.IsExceptionPending()) {
      Napi::RangeError::New(env, "threads must be an integer in [1, 1024]").ThrowAsJavaScriptException();
    }
    return env.Undefined();
  }
  openblas_set_num_threads(static_cast<int>(t));
  return env.Undefined();
}

Napi::Value NumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), openblas_get_num_threads());
}

Napi::Value Config(const Napi::CallbackInfo& info) {
  const char* cfg = openblas_get_config();
  return Napi::String::New(info.Env(), cfg ? cfg : "OpenBLAS");
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("gemm", Napi::Function::New(env, Gemm, "gemm"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("numThreads", Napi::Function::New(env, NumThreads, "numThreads"));
  exports.Set("config", Napi::Function::New(env, Config, "config"));
  exports.Set("abiVersion", Napi::Number::New(env, 1));
  return exports;
}

}  // namespace

NODE_API_MODULE(sae_rx_blas, Init)
