// AVX2 dot products of block-quantized weight rows with Q8_0 / Q8_1 / Q8_K activation rows; the
// code is in qdot_body.inc (shared with the AVX-512 build).
#define CARTLM_QDOT_ISA "avx2"
#define CARTLM_QDOT_FILL fill_qdot_avx2
#include "kernels/avx2/qdot_body.inc"
