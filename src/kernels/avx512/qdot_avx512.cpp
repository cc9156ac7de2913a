// AVX-512 (VL + VNNI) build of the quantized dot products in ../avx2/qdot_body.inc: the same
// algorithms with 32 vector registers and dpbusd; results are identical to the AVX2 table.
#define CARTLM_QDOT_ISA "avx512"
#define CARTLM_QDOT_FILL fill_qdot_avx512
#include "kernels/avx2/qdot_body.inc"
