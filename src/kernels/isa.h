// Internal: the entry points of the ISA translation units (src/kernels/avx2/, src/kernels/avx512/).
// Each overwrites the slots its ISA implements; the others keep the scalar entries they were
// copied from. Only called after CPU detection confirmed the ISA.
//
// ISA files are compiled with -mavx2/-mavx512*: they must keep every function they define in an
// anonymous namespace (except these entry points) and avoid instantiating std templates, so that
// the linker can never pick an AVX-512 copy of a shared inline function for baseline code.
#pragma once
#include "kernels/kernels.h"

namespace cartlm {

void fill_kernels_avx2(KernelTable* k);
void fill_kernels_avx512(KernelTable* k);
// The quantized-dot slots (src/kernels/avx2/qdot_avx2.cpp, src/kernels/avx512/qdot_avx512.cpp).
void fill_qdot_avx2(KernelTable* k);
void fill_qdot_avx512(KernelTable* k);
// The 512-bit VNNI qdot slots, applied after fill_qdot_avx512 (avx512/qdot_zmm_avx512.cpp).
void fill_qdot_zmm_avx512(KernelTable* k);

// matmul_strided on a block-quantized weight type (src/kernels/qmatmul.cpp).
void matmul_quantized(const KernelTable& k, const float* x, size_t ldx, size_t T, size_t in,
                      DType wtype, const void* w, size_t out, const float* bias, float* y,
                      size_t ldy, ThreadPool* pool);

}  // namespace cartlm
