/* core/rng.h - the project's one hash mixer and one PRNG, inline.
 *
 * sr_mix64 is splitmix64's step (add the golden-ratio increment, then the
 * finaliser): a fast, well-spread 64-bit hash of an integer. sr_xoshiro256ss
 * is xoshiro256** (Blackman, Vigna): the generator of every random choice
 * that must be reproducible by seed. Neither has state of its own. */
#ifndef SR_RNG_H
#define SR_RNG_H

#include <stdint.h>

#define SR_GOLDEN64 0x9e3779b97f4a7c15ull

/** splitmix64 of x: mixes x + SR_GOLDEN64. */
static inline uint64_t sr_mix64(uint64_t x)
{
    x += SR_GOLDEN64;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static inline uint64_t sr_rotl64(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/** Next output of xoshiro256** with state s[4] (not all zero). */
static inline uint64_t sr_xoshiro256ss(uint64_t *s)
{
    uint64_t out = sr_rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = sr_rotl64(s[3], 45);
    return out;
}

#endif
