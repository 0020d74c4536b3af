/* rng.h - the one random generator of dacs: counter-based and keyed.
 *
 * A generator is keyed by (seed, purpose, iteration) and then counts.  The
 * n-th number of a key is a pure function of the key and n (SplitMix64's
 * output function applied to key + n * golden ratio), so the same seed gives
 * the same bytes on any machine, a resumed run draws exactly what it would
 * have drawn, and two tools never share a sequence by accident because
 * their purposes differ.  Nothing here uses rand() or the clock.
 *
 * Floating-point draws use only exact IEEE operations (no libm), except
 * dx_rng_normal, which needs log, sqrt and cos.
 */
#ifndef DACS_RNG_H
#define DACS_RNG_H

#include <stdint.h>

typedef struct dx_rng {
    uint64_t key;
    uint64_t ctr;
} dx_rng;

/* purpose: a short constant string naming the use, e.g. "classmix". */
void dx_rng_init(dx_rng *r, uint64_t seed, const char *purpose,
                 uint64_t iter);
/* A child generator for sub-use i (e.g. batch item i), independent of the
 * parent's count. */
dx_rng dx_rng_child(const dx_rng *r, uint64_t i);

uint64_t dx_rng_u64(dx_rng *r);
/* Uniform integer in [0, n); n >= 1.  Unbiased (rejection). */
uint64_t dx_rng_below(dx_rng *r, uint64_t n);
/* Uniform double in [0, 1), 53 random bits. */
double dx_rng_uniform(dx_rng *r);
/* Uniform double in [lo, hi). */
double dx_rng_range(dx_rng *r, double lo, double hi);
/* 1 with probability p. */
int dx_rng_bernoulli(dx_rng *r, double p);
/* Standard normal (Box-Muller). */
double dx_rng_normal(dx_rng *r);
/* Choose k distinct values of [0, n) uniformly; out[] gets them in
 * increasing order.  k <= n. */
void dx_rng_choose(dx_rng *r, uint32_t n, uint32_t k, uint32_t *out);
/* Fisher-Yates shuffle of v[0..n). */
void dx_rng_shuffle(dx_rng *r, uint32_t *v, uint32_t n);

/* A share of a batch split among processes (data parallelism, mpirun -n
 * K): item i of the share is item part + i*parts of the whole batch, so
 * that share r of K holds items r, r+K, r+2K, ...  {0, 1} (or {0, 0}) is
 * the whole batch. */
typedef struct dx_share {
    int part, parts;
} dx_share;

/* The generator of item i of a batch: dx_rng_child(r, its number in the
 * whole batch), so that an item draws the same whatever share it is in.
 * s may be NULL (the whole batch). */
dx_rng dx_rng_item(const dx_rng *r, const dx_share *s, int i);
/* The items of share s of a batch of n. */
int dx_share_count(const dx_share *s, int n);

#endif
