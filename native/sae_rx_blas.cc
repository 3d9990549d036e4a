// sae-rx BLAS addon: float32 GEMM through OpenBLAS's cblas_sgemm, for the tfjs BatchMatMul
// kernel in src/backend/kernels/blasBatchMatMul.ts. Operands are Float32Array views that may
// point into the wasm backend's heap or the cpu backend's arrays: nothing is copied, and the
// call is synchronous so the views stay valid (no JS runs, so wasm memory cannot grow).
#include <napi.h>
#include <cblas.h>

#include "common.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>


namespace {

using namespace sae_rx;

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


// ---------------------------------------------------------------------------------------------
// Sparse kernels for the SAE step (src/backend/ops/sparse.ts). A "sparse" matrix is a dense
// row-major [rows x cols] float32 array (the relu output, or the masked pre-activation
// gradient) from which a CSR index (rowPtr int32 [rows+1], colIdx int32 [nnz], vals f32 [nnz])
// is built; the products then cost O(nnz * n) instead of O(rows * cols * n). Work is split
// over the same number of threads as OpenBLAS uses; inner loops run over contiguous rows of n
// floats so the compiler vectorizes them (with an AVX2/FMA clone on x86-64 GCC builds).


// A CSR row index over `rows` rows: rowPtr [rows+1] monotone from 0 to nnz, with colIdx and vals
// at least nnz long.
bool CheckRowPtr(const Napi::Env& env, const int32_t* rowPtr, size_t rowPtrLen, size_t rows, size_t colLen,
                 size_t valsLen, size_t* nnzOut) {
  if (rowPtrLen != rows + 1) return Fail(env, "rowPtr must have rows + 1 entries");
  if (rowPtr[0] != 0) return Fail(env, "rowPtr[0] must be 0");
  for (size_t r = 0; r < rows; ++r) {
    if (rowPtr[r + 1] < rowPtr[r]) return Fail(env, "rowPtr must be non-decreasing");
  }
  const size_t nnz = static_cast<size_t>(rowPtr[rows]);
  if (nnz > colLen || nnz > valsLen) return Fail(env, "colIdx/vals are shorter than rowPtr[rows]");
  *nnzOut = nnz;
  return true;
}

// A CSR index over a [rows x cols] matrix: CheckRowPtr, and columns < cols.
// Checked in full before any kernel uses it to address memory.
bool CheckCsr(const Napi::Env& env, const int32_t* rowPtr, size_t rowPtrLen, const int32_t* colIdx,
              size_t colLen, size_t rows, size_t cols, size_t valsLen, size_t* nnzOut) {
  if (!CheckRowPtr(env, rowPtr, rowPtrLen, rows, colLen, valsLen, nnzOut)) return false;
  for (size_t i = 0; i < *nnzOut; ++i) {
    if (colIdx[i] < 0 || static_cast<size_t>(colIdx[i]) >= cols) {
      return Fail(env, "colIdx[" + std::to_string(i) + "] = " + std::to_string(colIdx[i]) + " is outside [0, " +
                           std::to_string(cols) + ")");
    }
  }
  return true;
}

// csrCount(a, rows, cols, rowPtr): rowPtr[0] = 0, rowPtr[r+1] = number of nonzeros in rows 0..r.
Napi::Value CsrCount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 4) return Fail(env, "csrCount expects 4 arguments"), env.Undefined();
  F32View a;
  size_t rows, cols, rpLen;
  int32_t* rowPtr;
  if (!GetF32(env, info[0], "a", &a) || !GetDim(env, info[1], "rows", &rows) || !GetDim(env, info[2], "cols", &cols) ||
      !GetI32(env, info[3], "rowPtr", &rowPtr, &rpLen)) {
    return env.Undefined();
  }
  if (rows * cols > a.length) return Fail(env, "a is smaller than rows * cols"), env.Undefined();
  if (rpLen != rows + 1) return Fail(env, "rowPtr must have rows + 1 entries"), env.Undefined();
  if (rows * cols > 2147483647.0) return Fail(env, "more than 2^31 entries: int32 CSR cannot index them"), env.Undefined();
  rowPtr[0] = 0;
  ParallelFor(rows, 16, [&](size_t b, size_t e) {
    for (size_t r = b; r < e; ++r) {
      const float* row = a.data + r * cols;
      int32_t c = 0;
      for (size_t j = 0; j < cols; ++j) c += row[j] != 0.0f;
      rowPtr[r + 1] = c;
    }
  });
  for (size_t r = 0; r < rows; ++r) rowPtr[r + 1] += rowPtr[r];
  return Napi::Number::New(env, rowPtr[rows]);
}

// csrFill(a, rows, cols, rowPtr, colIdx, vals): the nonzeros of a, row by row, in column order.
Napi::Value CsrFill(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 6) return Fail(env, "csrFill expects 6 arguments"), env.Undefined();
  F32View a, vals;
  size_t rows, cols, rpLen, ciLen;
  int32_t *rowPtr, *colIdx;
  if (!GetF32(env, info[0], "a", &a) || !GetDim(env, info[1], "rows", &rows) || !GetDim(env, info[2], "cols", &cols) ||
      !GetI32(env, info[3], "rowPtr", &rowPtr, &rpLen) || !GetI32(env, info[4], "colIdx", &colIdx, &ciLen) ||
      !GetF32(env, info[5], "vals", &vals)) {
    return env.Undefined();
  }
  if (rows * cols > a.length) return Fail(env, "a is smaller than rows * cols"), env.Undefined();
  size_t nnz;
  if (!CheckRowPtr(env, rowPtr, rpLen, rows, ciLen, vals.length, &nnz)) return env.Undefined();
  ParallelFor(rows, 16, [&](size_t b, size_t e) {
    for (size_t r = b; r < e; ++r) {
      const float* row = a.data + r * cols;
      size_t o = static_cast<size_t>(rowPtr[r]);
      const size_t end = static_cast<size_t>(rowPtr[r + 1]);
      for (size_t j = 0; j < cols && o < end; ++j) {
        if (row[j] != 0.0f) {
          colIdx[o] = static_cast<int32_t>(j);
          vals.data[o] = row[j];
          ++o;
        }
      }
    }
  });
  return env.Undefined();
}

SAE_RX_CLONES void Axpy(float* __restrict o, const float* __restrict x, float v, size_t n) {
  for (size_t i = 0; i < n; ++i) o[i] += v * x[i];
}

SAE_RX_CLONES float Dot(const float* __restrict a, const float* __restrict b, size_t n) {
  // Eight partial sums: vectorizes without -ffast-math reassociation.
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (size_t l = 0; l < 8; ++l) s[l] += a[i + l] * b[i + l];
  }
  float t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (; i < n; ++i) t += a[i] * b[i];
  return t;
}

// The arguments of spmm and spmmT, (rowPtr, colIdx, vals, rows, k, dense, n, out), for the
// sparse A [rows x k]: the dense operand is [k x n] and out [rows x n], or both transposed
// (spmmT: dense [rows x n], out [k x n]). Sizes and the CSR index are checked.
struct CsrProduct {
  int32_t *rowPtr, *colIdx;
  F32View vals, dense, out;
  size_t rows, k, n;
};

bool GetCsrProduct(const Napi::CallbackInfo& info, const char* fn, const char* denseName, bool transposed, CsrProduct* p) {
  Napi::Env env = info.Env();
  if (info.Length() != 8) return Fail(env, std::string(fn) + " expects 8 arguments");
  size_t rpLen, ciLen, nnz;
  if (!GetI32(env, info[0], "rowPtr", &p->rowPtr, &rpLen) || !GetI32(env, info[1], "colIdx", &p->colIdx, &ciLen) ||
      !GetF32(env, info[2], "vals", &p->vals) || !GetDim(env, info[3], "rows", &p->rows) || !GetDim(env, info[4], "k", &p->k) ||
      !GetF32(env, info[5], denseName, &p->dense) || !GetDim(env, info[6], "n", &p->n) || !GetF32(env, info[7], "out", &p->out)) {
    return false;
  }
  const size_t denseRows = transposed ? p->rows : p->k, outRows = transposed ? p->k : p->rows;
  if (denseRows * p->n > p->dense.length || outRows * p->n > p->out.length) {
    return Fail(env, std::string(fn) + ": " + denseName + " or out is too small");
  }
  return CheckCsr(env, p->rowPtr, rpLen, p->colIdx, ciLen, p->rows, p->k, p->vals.length, &nnz);
}

// spmm(rowPtr, colIdx, vals, rows, k, w, n, out): out[r,:] = sum over row r's nonzeros (j, v)
// of v * w[j,:]; w is [k x n], out [rows x n] (overwritten).
Napi::Value Spmm(const Napi::CallbackInfo& info) {
  CsrProduct p;
  if (!GetCsrProduct(info, "spmm", "w", false, &p)) return info.Env().Undefined();
  const size_t n = p.n;
  ParallelFor(p.rows, 4, [&](size_t b, size_t e) {
    for (size_t r = b; r < e; ++r) {
      float* o = p.out.data + r * n;
      std::memset(o, 0, n * sizeof(float));
      for (int32_t q = p.rowPtr[r]; q < p.rowPtr[r + 1]; ++q) {
        Axpy(o, p.dense.data + static_cast<size_t>(p.colIdx[q]) * n, p.vals.data[q], n);
      }
    }
  });
  return info.Env().Undefined();
}

// spmmT(rowPtr, colIdx, vals, rows, k, x, n, out): out = Aᵀ x for the sparse A [rows x k]:
// out[j,:] = sum over nonzeros (r, j, v) of v * x[r,:]; x is [rows x n], out [k x n]
// (overwritten). Threads own disjoint ranges of j, so no two write the same row.
Napi::Value SpmmT(const Napi::CallbackInfo& info) {
  CsrProduct p;
  if (!GetCsrProduct(info, "spmmT", "x", true, &p)) return info.Env().Undefined();
  const size_t n = p.n;
  ParallelFor(p.k, 64, [&](size_t jb, size_t je) {
    std::memset(p.out.data + jb * n, 0, (je - jb) * n * sizeof(float));
    const int32_t lo = static_cast<int32_t>(jb), hi = static_cast<int32_t>(je);
    for (size_t r = 0; r < p.rows; ++r) {
      const float* xr = p.dense.data + r * n;
      for (int32_t q = p.rowPtr[r]; q < p.rowPtr[r + 1]; ++q) {
        const int32_t j = p.colIdx[q];
        if (j >= lo && j < hi) Axpy(p.out.data + static_cast<size_t>(j) * n, xr, p.vals.data[q], n);
      }
    }
  });
  return info.Env().Undefined();
}

// sddmm(rowPtr, colIdx, rows, k, a, w, n, out): out [rows x k] = (a wᵀ) masked to A's nonzero
// pattern, zero elsewhere; a is [rows x n], w [k x n].
Napi::Value Sddmm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 8) return Fail(env, "sddmm expects 8 arguments"), env.Undefined();
  int32_t *rowPtr, *colIdx;
  size_t rpLen, ciLen, rows, k, n, nnz;
  F32View a, w, out;
  if (!GetI32(env, info[0], "rowPtr", &rowPtr, &rpLen) || !GetI32(env, info[1], "colIdx", &colIdx, &ciLen) ||
      !GetDim(env, info[2], "rows", &rows) || !GetDim(env, info[3], "k", &k) || !GetF32(env, info[4], "a", &a) ||
      !GetF32(env, info[5], "w", &w) || !GetDim(env, info[6], "n", &n) || !GetF32(env, info[7], "out", &out)) {
    return env.Undefined();
  }
  if (rows * n > a.length || k * n > w.length || rows * k > out.length) {
    return Fail(env, "sddmm: a, w or out is too small"), env.Undefined();
  }
  if (!CheckCsr(env, rowPtr, rpLen, colIdx, ciLen, rows, k, ciLen, &nnz)) return env.Undefined();
  ParallelFor(rows, 4, [&](size_t b, size_t e) {
    std::memset(out.data + b * k, 0, (e - b) * k * sizeof(float));
    for (size_t r = b; r < e; ++r) {
      const float* ar = a.data + r * n;
      float* o = out.data + r * k;
      for (int32_t q = rowPtr[r]; q < rowPtr[r + 1]; ++q) {
        const size_t j = static_cast<size_t>(colIdx[q]);
        o[j] = Dot(ar, w.data + j * n, n);
      }
    }
  });
  return env.Undefined();
}

// transpose(src, rows, cols, dst): dst [cols x rows] = srcᵀ, in 32x32 tiles.
Napi::Value Transpose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 4) return Fail(env, "transpose expects 4 arguments"), env.Undefined();
  F32View src, dst;
  size_t rows, cols;
  if (!GetF32(env, info[0], "src", &src) || !GetDim(env, info[1], "rows", &rows) || !GetDim(env, info[2], "cols", &cols) ||
      !GetF32(env, info[3], "dst", &dst)) {
    return env.Undefined();
  }
  if (rows * cols > src.length || rows * cols > dst.length) return Fail(env, "transpose: src or dst is too small"), env.Undefined();
  constexpr size_t T = 32;
  const size_t tilesR = (rows + T - 1) / T;
  ParallelFor(tilesR, 4, [&](size_t tb, size_t te) {
    for (size_t ti = tb; ti < te; ++ti) {
      const size_t r0 = ti * T, r1 = std::min(rows, r0 + T);
      for (size_t c0 = 0; c0 < cols; c0 += T) {
        const size_t c1 = std::min(cols, c0 + T);
        for (size_t r = r0; r < r1; ++r) {
          for (size_t c = c0; c < c1; ++c) dst.data[c * rows + r] = src.data[r * cols + c];
        }
      }
    }
  });
  return env.Undefined();
}

// Fused Adam step (src/backend/kernels/adamKernel.ts): p, m, v, g in; pOut, mOut, vOut out,
// all of length n. The scalars are float32 (the caller's float64 values rounded) and every
// operation is a float32 operation in the order of src/train/Adam.ts's tfjs ops, so the result
// is bit-identical to them (no -ffast-math, no FMA: each product and sum is rounded).
Napi::Value AdamUpdate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 14) return Fail(env, "adam expects 14 arguments"), env.Undefined();
  const char* names[] = {"p", "m", "v", "g", "pOut", "mOut", "vOut"};
  F32View a[7];
  if (!GetSameLengthF32(info, "adam", names, 7, a)) return env.Undefined();
  float s[7];
  for (int i = 0; i < 7; ++i) {
    if (!info[7 + i].IsNumber()) return Fail(env, "adam: scalar arguments must be numbers"), env.Undefined();
    s[i] = static_cast<float>(info[7 + i].As<Napi::Number>().DoubleValue());
  }
  const size_t n = a[0].length;
  const float b1 = s[0], ob1 = s[1], b2 = s[2], ob2 = s[3], sqBc2 = s[4], eps = s[5], negStep = s[6];
  const float *p = a[0].data, *m = a[1].data, *v = a[2].data, *g = a[3].data;
  float *po = a[4].data, *mo = a[5].data, *vo = a[6].data;
  ParallelFor(n, 1 << 16, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      const float gi = g[i];
      const float mb = m[i] * b1, mg = gi * ob1;
      const float mi = mb + mg;
      const float vb = v[i] * b2, g2 = gi * gi, vg = g2 * ob2;
      const float vi = vb + vg;
      const float root = std::sqrt(vi);
      const float scaled = root / sqBc2;
      const float denom = scaled + eps;
      const float ratio = mi / denom;
      const float upd = ratio * negStep;
      po[i] = p[i] + upd;
      mo[i] = mi;
      vo[i] = vi;
    }
  });
  return env.Undefined();
}

// The relu gradient (src/backend/kernels/reluGradKernel.ts): out = y > 0 ? dy : 0, from the
// relu's output y (y > 0 exactly where its input is). One pass and one output where tfjs's
// Relu gradient runs step, cast and multiply, each allocating a [batch, d_sae] array.
Napi::Value ReluGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3) return Fail(env, "reluGrad expects 3 arguments"), env.Undefined();
  const char* names[] = {"dy", "y", "out"};
  F32View a[3];
  if (!GetSameLengthF32(info, "reluGrad", names, 3, a)) return env.Undefined();
  const size_t n = a[0].length;
  const float *dy = a[0].data, *y = a[1].data;
  float* out = a[2].data;
  ParallelFor(n, 1 << 16, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) out[i] = y[i] > 0.0f ? dy[i] : 0.0f;
  });
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
  exports.Set("csrCount", Napi::Function::New(env, CsrCount, "csrCount"));
  exports.Set("csrFill", Napi::Function::New(env, CsrFill, "csrFill"));
  exports.Set("spmm", Napi::Function::New(env, Spmm, "spmm"));
  exports.Set("spmmT", Napi::Function::New(env, SpmmT, "spmmT"));
  exports.Set("sddmm", Napi::Function::New(env, Sddmm, "sddmm"));
  exports.Set("transpose", Napi::Function::New(env, Transpose, "transpose"));
  exports.Set("adam", Napi::Function::New(env, AdamUpdate, "adam"));
  exports.Set("reluGrad", Napi::Function::New(env, ReluGrad, "reluGrad"));
  AddModelKernels(env, exports);
  AddTopkKernels(env, exports);
  exports.Set("abiVersion", Napi::Number::New(env, 4));
  return exports;
}

}  // namespace

NODE_API_MODULE(sae_rx_blas, Init)
