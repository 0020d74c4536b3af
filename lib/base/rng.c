/* rng.c - SplitMix64 as a counter-based generator. */
#include "base/rng.h"

#include <math.h>
#include <stdlib.h>

#define GOLDEN 0x9E3779B97F4A7C15ull

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

void dx_rng_init(dx_rng *r, uint64_t seed, const char *purpose,
                 uint64_t iter)
{
    uint64_t k = mix(seed + GOLDEN);
    k = mix(k ^ hash_str(purpose ? purpose : ""));
    k = mix(k + (iter + 1) * GOLDEN);
    r->key = k;
    r->ctr = 0;
}

dx_rng dx_rng_child(const dx_rng *r, uint64_t i)
{
    dx_rng c = {mix(r->key ^ mix(i + 0x5851F42D4C957F2Dull)), 0};
    return c;
}

uint64_t dx_rng_u64(dx_rng *r)
{
    r->ctr++;
    return mix(r->key + r->ctr * GOLDEN);
}

uint64_t dx_rng_below(dx_rng *r, uint64_t n)
{
    if (n <= 1)
        return 0;
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = dx_rng_u64(r);
    while (x >= limit);
    return x % n;
}

double dx_rng_uniform(dx_rng *r)
{
    return (double)(dx_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

double dx_rng_range(dx_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * dx_rng_uniform(r);
}

int dx_rng_bernoulli(dx_rng *r, double p)
{
    return dx_rng_uniform(r) < p;
}

double dx_rng_normal(dx_rng *r)
{
    double u1 = 1.0 - dx_rng_uniform(r); /* (0, 1] */
    double u2 = dx_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void dx_rng_shuffle(dx_rng *r, uint32_t *v, uint32_t n)
{
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = (uint32_t)dx_rng_below(r, i);
        uint32_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

void dx_rng_choose(dx_rng *r, uint32_t n, uint32_t k, uint32_t *out)
{
    /* Floyd's algorithm: k draws, no allocation proportional to n. */
    uint32_t m = 0;
    for (uint32_t j = n - k; j < n; j++) {
        uint32_t t = (uint32_t)dx_rng_below(r, (uint64_t)j + 1);
        int seen = 0;
        for (uint32_t i = 0; i < m; i++)
            if (out[i] == t)
                seen = 1;
        out[m++] = seen ? j : t;
    }
    /* insertion sort: k is small */
    for (uint32_t i = 1; i < k; i++) {
        uint32_t x = out[i], j = i;
        while (j > 0 && out[j - 1] > x) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = x;
    }
}

dx_rng dx_rng_item(const dx_rng *r, const dx_share *s, int i)
{
    uint64_t k = (uint64_t)i;
    if (s && s->parts > 1)
        k = (uint64_t)s->part + k * (uint64_t)s->parts;
    return dx_rng_child(r, k);
}

int dx_share_count(const dx_share *s, int n)
{
    if (!s || s->parts <= 1)
        return n;
    return s->part < n ? (n - s->part + s->parts - 1) / s->parts : 0;
}
