/* simd.h - DX_WIDE: build a compute-bound loop for AVX2 and AVX-512 too.
 *
 * On x86-64 with GCC, a function marked DX_WIDE is compiled three times
 * (AVX-512F, AVX2, baseline SSE2) and the loader picks the widest the CPU
 * has.  Every clone does the same IEEE operations in the same order (the
 * build's -std=c11 turns FMA contraction off), so results are the same
 * bits on any machine.  Elsewhere it expands to nothing. */
#ifndef DACS_SIMD_H
#define DACS_SIMD_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define DX_WIDE __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define DX_WIDE
#endif

#endif
