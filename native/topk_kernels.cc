// Kernels of the TopK-family training step (src/backend/kernels/topkKernels.ts, used by
// src/sae/topkSparse.ts). A TopK / BatchTopK / Matryoshka SAE keeps a known, small number of
// active latents per row, so the step carries them as a CSR matrix (rowPtr, colIdx, vals) and
// never materializes [batch, d_sae]:
//
//   topkSelect  the encoder product x·W_enc in row chunks (OpenBLAS), and per row the selection
//               of the latents to keep (TopK: k largest positive scores; BatchTopK: the
//               total largest positive scores of the whole batch; plus AuxK's top-k_aux dead
//               latents), written as CSR with the pre-activations (x·W_enc + b_enc) as values.
//               score = pre · scale (the decoder row norms under rescale_acts_by_decoder_norm).
//   sddmmCsr    out[q] = ⟨a[r], w[colIdx[q]]⟩ for each stored entry q of row r: the gradient of
//               the activations from the decoder output's gradient (compact, [nnz]).
//
// The gather-sum decode (spmm) and the scatter of the weight gradients (spmmT) are the sparse
// kernels of sae_rx_blas.cc.
#include <napi.h>
#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>
#include <vector>

#include "common.h"

namespace sae_rx {
namespace {

struct Cand {
  float score;  // what the selection ranks (pre · scale)
  int32_t col;
  float pre;    // x·W_enc + b_enc at (row, col): the value the step carries
};

// Min-heap on score: the front is the weakest kept candidate.
inline bool Weaker(const Cand& a, const Cand& b) { return a.score > b.score; }

// Offers c to the heap h (capacity cap): kept when there is room or it beats the weakest.
inline void Offer(std::vector<Cand>& h, size_t cap, const Cand& c) {
  if (h.size() < cap) {
    h.push_back(c);
    std::push_heap(h.begin(), h.end(), Weaker);
  } else if (c.score > h.front().score) {
    std::pop_heap(h.begin(), h.end(), Weaker);
    h.back() = c;
    std::push_heap(h.begin(), h.end(), Weaker);
  }
}

inline bool ByCol(const Cand& a, const Cand& b) { return a.col < b.col; }

// topkSelect(x, wEnc, bEnc, scale, rows, dIn, dSae, k, total, dead, kAux,
//            rowPtr, colIdx, vals, auxCol, auxVal) → nnz
//   x [rows×dIn] (the encoder input), wEnc [dIn×dSae], bEnc [dSae], scale [dSae] or empty (1).
//   total = 0: per row the (at most) k largest positive scores (TopK then ReLU: the non-positive
//     ones would be zero activations, so they are not stored).
//   total > 0: the `total` largest positive scores of the whole batch (BatchTopK); k is then the
//     per-row candidate count of the first pass (rows that may hold more are rescanned).
//   dead [numDead] latent indices, kAux <= numDead: per row the kAux largest scores among them
//     (any sign: AuxK does not ReLU), into auxCol/auxVal [rows×kAux].
//   Output rows are sorted by column; entries past nnz are zeroed.
Napi::Value TopkSelect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 16) return Fail(env, "topkSelect expects 16 arguments"), env.Undefined();
  F32View x, wEnc, bEnc, scale, vals, auxVal;
  size_t rows, dIn, dSae, k, total, kAux, rpLen, ciLen, deadLen, acLen;
  int32_t *dead, *rowPtr, *colIdx, *auxCol;
  if (!GetF32(env, info[0], "x", &x) || !GetF32(env, info[1], "wEnc", &wEnc) || !GetF32(env, info[2], "bEnc", &bEnc) ||
      !GetF32(env, info[3], "scale", &scale) || !GetDim(env, info[4], "rows", &rows) || !GetDim(env, info[5], "dIn", &dIn) ||
      !GetDim(env, info[6], "dSae", &dSae) || !GetDim(env, info[7], "k", &k) || !GetDim(env, info[8], "total", &total) ||
      !GetI32(env, info[9], "dead", &dead, &deadLen) || !GetDim(env, info[10], "kAux", &kAux) ||
      !GetI32(env, info[11], "rowPtr", &rowPtr, &rpLen) || !GetI32(env, info[12], "colIdx", &colIdx, &ciLen) ||
      !GetF32(env, info[13], "vals", &vals) || !GetI32(env, info[14], "auxCol", &auxCol, &acLen) ||
      !GetF32(env, info[15], "auxVal", &auxVal)) {
    return env.Undefined();
  }
  if (rows * dIn > x.length || dIn * dSae > wEnc.length || bEnc.length < dSae) {
    return Fail(env, "topkSelect: x, wEnc or bEnc is smaller than rows, dIn, dSae say"), env.Undefined();
  }
  if (scale.length != 0 && scale.length < dSae) return Fail(env, "topkSelect: scale must be empty or have dSae entries"), env.Undefined();
  if (rpLen != rows + 1) return Fail(env, "topkSelect: rowPtr must have rows + 1 entries"), env.Undefined();
  if (vals.length != ciLen) return Fail(env, "topkSelect: colIdx and vals must have the same length"), env.Undefined();
  const size_t cap = ciLen;
  if (total == 0 ? rows * std::min(k, dSae) > cap : total > cap) {
    return Fail(env, "topkSelect: colIdx/vals cannot hold the selection (need rows·k, or total)"), env.Undefined();
  }
  if (kAux > deadLen) return Fail(env, "topkSelect: kAux exceeds the number of dead latents"), env.Undefined();
  if (rows * kAux > acLen || rows * kAux > auxVal.length) return Fail(env, "topkSelect: auxCol/auxVal must hold rows·kAux"), env.Undefined();
  for (size_t i = 0; i < deadLen; ++i) {
    if (dead[i] < 0 || static_cast<size_t>(dead[i]) >= dSae) {
      return Fail(env, "topkSelect: dead[" + std::to_string(i) + "] = " + std::to_string(dead[i]) + " is outside [0, dSae)"), env.Undefined();
    }
  }
  if (rows * dSae > 2147483647.0 && cap > 2147483647.0) return Fail(env, "topkSelect: too many entries for int32 indices"), env.Undefined();
  const bool hasScale = scale.length != 0;
  const size_t m = std::min(k, dSae);  // per-row candidates
  std::vector<std::vector<Cand>> cand(rows);
  std::vector<std::vector<Cand>> aux(kAux > 0 ? rows : 0);

  // Rows of x·W_enc in chunks of ~32 MB of scratch (the whole [rows×dSae] never exists).
  const size_t chunk = std::max<size_t>(1, std::min<size_t>(rows, (size_t{1} << 23) / std::max<size_t>(1, dSae)));
  std::vector<float> h(chunk * dSae);
  for (size_t r0 = 0; r0 < rows; r0 += chunk) {
    const size_t rr = std::min(chunk, rows - r0);
    if (dIn == 0) {
      std::fill(h.begin(), h.begin() + rr * dSae, 0.0f);
    } else {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(rr), static_cast<int>(dSae), static_cast<int>(dIn),
                  1.0f, x.data + r0 * dIn, static_cast<int>(dIn), wEnc.data, static_cast<int>(dSae), 0.0f, h.data(),
                  static_cast<int>(dSae));
    }
    ParallelFor(rr, 4, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) {
        const float* hr = h.data() + i * dSae;
        std::vector<Cand>& heap = cand[r0 + i];
        heap.reserve(m);
        for (size_t j = 0; j < dSae; ++j) {
          const float pre = hr[j] + bEnc.data[j];
          const float s = hasScale ? pre * scale.data[j] : pre;
          if (s > 0.0f && (heap.size() < m || s > heap.front().score)) Offer(heap, m, Cand{s, static_cast<int32_t>(j), pre});
        }
        if (kAux > 0) {
          std::vector<Cand>& ah = aux[r0 + i];
          ah.reserve(kAux);
          for (size_t q = 0; q < deadLen; ++q) {
            const size_t j = static_cast<size_t>(dead[q]);
            const float pre = hr[j] + bEnc.data[j];
            const float s = hasScale ? pre * scale.data[j] : pre;
            Offer(ah, kAux, Cand{s, static_cast<int32_t>(j), pre});
          }
        }
      }
    });
  }

  if (total > 0) {
    // BatchTopK: the `total` best of the union. Rows that kept m candidates may hold more above
    // the threshold the candidates give: rescan those rows in full (their true entries above it
    // are all found), then take the `total` best again (the threshold can only rise).
    auto threshold = [&]() -> float {
      std::vector<float> s;
      for (auto& c : cand) for (auto& e : c) s.push_back(e.score);
      if (s.size() <= total) return 0.0f;  // all positives fit: everything kept is selected
      std::nth_element(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(total - 1), s.end(), std::greater<float>());
      return s[total - 1];
    };
    const float t0 = threshold();
    std::vector<size_t> redo;
    for (size_t r = 0; r < rows; ++r) {
      if (m < dSae && cand[r].size() == m && cand[r].front().score >= t0) redo.push_back(r);
    }
    std::vector<float> row(dSae);
    for (size_t r : redo) {
      // One row of x·W_enc again (OpenBLAS's own threads; rare: only rows that filled m).
      if (dIn == 0) std::fill(row.begin(), row.end(), 0.0f);
      else cblas_sgemv(CblasRowMajor, CblasTrans, static_cast<int>(dIn), static_cast<int>(dSae), 1.0f, wEnc.data,
                       static_cast<int>(dSae), x.data + r * dIn, 1, 0.0f, row.data(), 1);
      cand[r].clear();
      for (size_t j = 0; j < dSae; ++j) {
        const float pre = row[j] + bEnc.data[j];
        const float s = hasScale ? pre * scale.data[j] : pre;
        if (s > 0.0f && s >= t0) cand[r].push_back(Cand{s, static_cast<int32_t>(j), pre});
      }
    }
    // Keep the `total` best over all rows.
    std::vector<std::pair<float, std::pair<int32_t, int32_t>>> all;  // score, (row, position)
    for (size_t r = 0; r < rows; ++r) {
      for (size_t p = 0; p < cand[r].size(); ++p) all.push_back({cand[r][p].score, {static_cast<int32_t>(r), static_cast<int32_t>(p)}});
    }
    if (all.size() > total) {
      std::nth_element(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(total), all.end(),
                       [](const auto& a, const auto& b) { return a.first > b.first; });
      all.resize(total);
      std::vector<std::vector<Cand>> kept(rows);
      for (auto& a : all) kept[a.second.first].push_back(cand[a.second.first][a.second.second]);
      cand.swap(kept);
    }
  }

  rowPtr[0] = 0;
  for (size_t r = 0; r < rows; ++r) rowPtr[r + 1] = rowPtr[r] + static_cast<int32_t>(cand[r].size());
  const size_t nnz = static_cast<size_t>(rowPtr[rows]);
  ParallelFor(rows, 64, [&](size_t b, size_t e) {
    for (size_t r = b; r < e; ++r) {
      std::vector<Cand>& c = cand[r];
      std::sort(c.begin(), c.end(), ByCol);
      size_t o = static_cast<size_t>(rowPtr[r]);
      for (const Cand& v : c) {
        colIdx[o] = v.col;
        vals.data[o] = v.pre;
        ++o;
      }
      if (kAux > 0) {
        std::vector<Cand>& a = aux[r];
        std::sort(a.begin(), a.end(), ByCol);
        for (size_t q = 0; q < kAux; ++q) {
          auxCol[r * kAux + q] = a[q].col;
          auxVal.data[r * kAux + q] = a[q].pre;
        }
      }
    }
  });
  std::fill(colIdx + nnz, colIdx + cap, 0);
  std::fill(vals.data + nnz, vals.data + cap, 0.0f);
  return Napi::Number::New(env, static_cast<double>(nnz));
}

SAE_RX_CLONES float DotF(const float* __restrict a, const float* __restrict b, size_t n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (size_t l = 0; l < 8; ++l) s[l] += a[i + l] * b[i + l];
  }
  float t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (; i < n; ++i) t += a[i] * b[i];
  return t;
}

// sddmmCsr(rowPtr, colIdx, rows, k, a, w, n, out): out[q] = ⟨a[r,:], w[colIdx[q],:]⟩ for the
// entries q of row r; a [rows×n], w [k×n], out [≥ nnz] (entries past nnz zeroed).
Napi::Value SddmmCsr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 8) return Fail(env, "sddmmCsr expects 8 arguments"), env.Undefined();
  int32_t *rowPtr, *colIdx;
  size_t rpLen, ciLen, rows, k, n;
  F32View a, w, out;
  if (!GetI32(env, info[0], "rowPtr", &rowPtr, &rpLen) || !GetI32(env, info[1], "colIdx", &colIdx, &ciLen) ||
      !GetDim(env, info[2], "rows", &rows) || !GetDim(env, info[3], "k", &k) || !GetF32(env, info[4], "a", &a) ||
      !GetF32(env, info[5], "w", &w) || !GetDim(env, info[6], "n", &n) || !GetF32(env, info[7], "out", &out)) {
    return env.Undefined();
  }
  if (rows * n > a.length || k * n > w.length) return Fail(env, "sddmmCsr: a or w is too small"), env.Undefined();
  if (rpLen != rows + 1 || rowPtr[0] != 0) return Fail(env, "sddmmCsr: rowPtr must have rows + 1 entries from 0"), env.Undefined();
  for (size_t r = 0; r < rows; ++r) {
    if (rowPtr[r + 1] < rowPtr[r]) return Fail(env, "sddmmCsr: rowPtr must be non-decreasing"), env.Undefined();
  }
  const size_t nnz = static_cast<size_t>(rowPtr[rows]);
  if (nnz > ciLen || nnz > out.length) return Fail(env, "sddmmCsr: colIdx/out are shorter than rowPtr[rows]"), env.Undefined();
  for (size_t q = 0; q < nnz; ++q) {
    if (colIdx[q] < 0 || static_cast<size_t>(colIdx[q]) >= k) {
      return Fail(env, "sddmmCsr: colIdx[" + std::to_string(q) + "] = " + std::to_string(colIdx[q]) + " is outside [0, k)"), env.Undefined();
    }
  }
  ParallelFor(rows, 16, [&](size_t b, size_t e) {
    for (size_t r = b; r < e; ++r) {
      const float* ar = a.data + r * n;
      for (int32_t q = rowPtr[r]; q < rowPtr[r + 1]; ++q) out.data[q] = DotF(ar, w.data + static_cast<size_t>(colIdx[q]) * n, n);
    }
  });
  std::fill(out.data + nnz, out.data + out.length, 0.0f);
  return env.Undefined();
}

}  // namespace

void AddTopkKernels(Napi::Env env, Napi::Object exports) {
  exports.Set("topkSelect", Napi::Function::New(env, TopkSelect, "topkSelect"));
  exports.Set("sddmmCsr", Napi::Function::New(env, SddmmCsr, "sddmmCsr"));
}

}  // namespace sae_rx
