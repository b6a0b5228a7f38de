/* Shortest round-trip formatting of JSON numbers (jnum.h); the parsing half is jnum_parse.c. */
#include <math.h>
#include <string.h>

#include "json/jnum.h"

/* ---- integers ---- */

static const char DIGITS2[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                 "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                 "8081828384858687888990919293949596979899";

/* Digits of v into out (no sign), returns the count. */
static size_t fmt_u64(char *out, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        tmp[n++] = DIGITS2[2 * r + 1];
        tmp[n++] = DIGITS2[2 * r];
    }
    if (v >= 10) {
        tmp[n++] = DIGITS2[2 * v + 1];
        tmp[n++] = DIGITS2[2 * v];
    } else {
        tmp[n++] = (char)('0' + v);
    }
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

size_t fwt__fmt_int64(char *out, int64_t v)
{
    if (v < 0) {
        out[0] = '-';
        return 1 + fmt_u64(out + 1, (uint64_t)0 - (uint64_t)v); /* defined for INT64_MIN too */
    }
    return fmt_u64(out, (uint64_t)v);
}

/* ---- layout: digits × 10^e10 as JSON text ---- */

/* `digits` holds n >= 1 significant digits (no leading zero unless the value is 0). Plain notation
 * while the point falls within [-5, 21] digits of the first one, as JavaScript does; else d.ddde±x. */
static size_t layout(char *out, int neg, const char *digits, int n, int e10)
{
    while (n > 1 && digits[n - 1] == '0') { /* trailing zeros move into the exponent */
        n--;
        e10++;
    }
    size_t k = 0;
    if (neg)
        out[k++] = '-';
    int point = n + e10; /* digits before the decimal point */
    if (point > 0 && point <= 21) {
        if (e10 >= 0) {
            memcpy(out + k, digits, (size_t)n);
            k += (size_t)n;
            memset(out + k, '0', (size_t)e10);
            k += (size_t)e10;
        } else {
            memcpy(out + k, digits, (size_t)point);
            k += (size_t)point;
            out[k++] = '.';
            memcpy(out + k, digits + point, (size_t)(n - point));
            k += (size_t)(n - point);
        }
    } else if (point <= 0 && point > -6) {
        out[k++] = '0';
        out[k++] = '.';
        memset(out + k, '0', (size_t)-point);
        k += (size_t)-point;
        memcpy(out + k, digits, (size_t)n);
        k += (size_t)n;
    } else {
        out[k++] = digits[0];
        if (n > 1) {
            out[k++] = '.';
            memcpy(out + k, digits + 1, (size_t)(n - 1));
            k += (size_t)(n - 1);
        }
        out[k++] = 'e';
        int x = point - 1;
        if (x < 0) {
            out[k++] = '-';
            x = -x;
        }
        k += fmt_u64(out + k, (uint64_t)x);
    }
    return k;
}

/* ---- float32: Ryu (Adams, PLDI 2018), written from the paper's description ---- */

#define F_MANT_BITS 23
#define F_BIAS 127
#define F_POW5_INV_BITCOUNT 59
#define F_POW5_BITCOUNT 61

/* ceil(2^(bitlen(5^i) - 1 + 59) / 5^i) and the top 61 bits of 5^i (generated with exact integers). */
static const uint64_t F_POW5_INV_SPLIT[31] = {
    0x0800000000000001u, 0x0666666666666667u, 0x051eb851eb851eb9u,
    0x04189374bc6a7efau, 0x068db8bac710cb2au, 0x053e2d6238da3c22u,
    0x0431bde82d7b634eu, 0x06b5fca6af2bd216u, 0x055e63b88c230e78u,
    0x044b82fa09b5a52du, 0x06df37f675ef6eaeu, 0x057f5ff85e592558u,
    0x0465e6604b7a8447u, 0x0709709a125da071u, 0x05a126e1a84ae6c1u,
    0x0480ebe7b9d58567u, 0x0734aca5f6226f0bu, 0x05c3bd5191b525a3u,
    0x049c97747490eae9u, 0x0760f253edb4ab0eu, 0x05e72843249088d8u,
    0x04b8ed0283a6d3e0u, 0x078e480405d7b966u, 0x060b6cd004ac9452u,
    0x04d5f0a66a23a9dbu, 0x07bcb43d769f762bu, 0x063090312bb2c4efu,
    0x04f3a68dbc8f03f3u, 0x07ec3daf94180651u, 0x065697bfa9acd1dau,
    0x051212ffbaf0a7e2u,
};
static const uint64_t F_POW5_SPLIT[48] = {
    0x1000000000000000u, 0x1400000000000000u, 0x1900000000000000u,
    0x1f40000000000000u, 0x1388000000000000u, 0x186a000000000000u,
    0x1e84800000000000u, 0x1312d00000000000u, 0x17d7840000000000u,
    0x1dcd650000000000u, 0x12a05f2000000000u, 0x174876e800000000u,
    0x1d1a94a200000000u, 0x12309ce540000000u, 0x16bcc41e90000000u,
    0x1c6bf52634000000u, 0x11c37937e0800000u, 0x16345785d8a00000u,
    0x1bc16d674ec80000u, 0x1158e460913d0000u, 0x15af1d78b58c4000u,
    0x1b1ae4d6e2ef5000u, 0x10f0cf064dd59200u, 0x152d02c7e14af680u,
    0x1a784379d99db420u, 0x108b2a2c28029094u, 0x14adf4b7320334b9u,
    0x19d971e4fe8401e7u, 0x1027e72f1f128130u, 0x1431e0fae6d7217cu,
    0x193e5939a08ce9dbu, 0x1f8def8808b02452u, 0x13b8b5b5056e16b3u,
    0x18a6e32246c99c60u, 0x1ed09bead87c0378u, 0x13426172c74d822bu,
    0x1812f9cf7920e2b6u, 0x1e17b84357691b64u, 0x12ced32a16a1b11eu,
    0x178287f49c4a1d66u, 0x1d6329f1c35ca4bfu, 0x125dfa371a19e6f7u,
    0x16f578c4e0a060b5u, 0x1cb2d6f618c878e3u, 0x11efc659cf7d4b8du,
    0x166bb7f0435c9e71u, 0x1c06a5ec5433c60du, 0x118427b3b4a05bc8u,
};

static uint32_t pow5bits(int32_t e) { return (uint32_t)(((uint32_t)e * 1217359u) >> 19) + 1; } /* bitlen(5^e) */
static uint32_t log10pow2(int32_t e) { return ((uint32_t)e * 78913u) >> 18; }                  /* floor(e log10 2) */
static uint32_t log10pow5(int32_t e) { return ((uint32_t)e * 732923u) >> 20; }                 /* floor(e log10 5) */

static int pow5_factor_at_least(uint32_t v, uint32_t p)
{
    uint32_t count = 0;
    while (v && v % 5 == 0) {
        v /= 5;
        count++;
    }
    return count >= p;
}

static uint32_t mul_shift32(uint32_t m, uint64_t factor, int32_t shift)
{
    uint64_t lo = (uint64_t)m * (uint32_t)factor;
    uint64_t hi = (uint64_t)m * (uint32_t)(factor >> 32);
    uint64_t sum = (lo >> 32) + hi;
    return (uint32_t)(sum >> (shift - 32));
}

/* Shortest digits of a positive finite float: value = *out_digits × 10^*out_e10. */
static void f2d(uint32_t mant, uint32_t expo, uint32_t *out_digits, int32_t *out_e10)
{
    int32_t e2;
    uint32_t m2;
    if (expo == 0) {
        e2 = 1 - F_BIAS - F_MANT_BITS - 2;
        m2 = mant;
    } else {
        e2 = (int32_t)expo - F_BIAS - F_MANT_BITS - 2;
        m2 = (1u << F_MANT_BITS) | mant;
    }
    const int accept_bounds = (m2 & 1) == 0;
    const uint32_t mv = 4 * m2, mp = 4 * m2 + 2;
    const uint32_t mm_shift = mant != 0 || expo <= 1;
    const uint32_t mm = 4 * m2 - 1 - mm_shift;

    uint32_t vr, vp, vm;
    int32_t e10;
    int vm_tz = 0, vr_tz = 0;
    uint32_t last = 0;
    if (e2 >= 0) {
        const uint32_t q = log10pow2(e2);
        e10 = (int32_t)q;
        const int32_t k = F_POW5_INV_BITCOUNT + (int32_t)pow5bits((int32_t)q) - 1;
        const int32_t i = -e2 + (int32_t)q + k;
        vr = mul_shift32(mv, F_POW5_INV_SPLIT[q], i);
        vp = mul_shift32(mp, F_POW5_INV_SPLIT[q], i);
        vm = mul_shift32(mm, F_POW5_INV_SPLIT[q], i);
        if (q != 0 && (vp - 1) / 10 <= vm / 10) {
            /* one more digit is removed below even without the loop: compute it now */
            const int32_t l = F_POW5_INV_BITCOUNT + (int32_t)pow5bits((int32_t)(q - 1)) - 1;
            last = mul_shift32(mv, F_POW5_INV_SPLIT[q - 1], -e2 + (int32_t)q - 1 + l) % 10;
        }
        if (q <= 9) {
            /* only one of mp, mv, mm can be a multiple of 5, if any */
            if (mv % 5 == 0)
                vr_tz = pow5_factor_at_least(mv, q);
            else if (accept_bounds)
                vm_tz = pow5_factor_at_least(mm, q);
            else
                vp -= (uint32_t)pow5_factor_at_least(mp, q);
        }
    } else {
        const uint32_t q = log10pow5(-e2);
        e10 = (int32_t)q + e2;
        const int32_t i = -e2 - (int32_t)q;
        const int32_t k = (int32_t)pow5bits(i) - F_POW5_BITCOUNT;
        int32_t j = (int32_t)q - k;
        vr = mul_shift32(mv, F_POW5_SPLIT[i], j);
        vp = mul_shift32(mp, F_POW5_SPLIT[i], j);
        vm = mul_shift32(mm, F_POW5_SPLIT[i], j);
        if (q != 0 && (vp - 1) / 10 <= vm / 10) {
            j = (int32_t)q - 1 - ((int32_t)pow5bits(i + 1) - F_POW5_BITCOUNT);
            last = mul_shift32(mv, F_POW5_SPLIT[i + 1], j) % 10;
        }
        if (q <= 1) {
            /* mv has at least q trailing zero bits */
            vr_tz = 1;
            if (accept_bounds)
                vm_tz = mm_shift == 1;
            else
                vp--;
        } else if (q < 31) {
            vr_tz = (mv & ((1u << (q - 1)) - 1)) == 0;
        }
    }

    int32_t removed = 0;
    uint32_t output;
    if (vm_tz || vr_tz) {
        while (vp / 10 > vm / 10) {
            vm_tz &= vm % 10 == 0;
            vr_tz &= last == 0;
            last = vr % 10;
            vr /= 10;
            vp /= 10;
            vm /= 10;
            removed++;
        }
        if (vm_tz) {
            while (vm % 10 == 0) {
                vr_tz &= last == 0;
                last = vr % 10;
                vr /= 10;
                vp /= 10;
                vm /= 10;
                removed++;
            }
        }
        if (vr_tz && last == 5 && vr % 2 == 0)
            last = 4; /* exactly halfway: round to even */
        output = vr + ((vr == vm && (!accept_bounds || !vm_tz)) || last >= 5);
    } else {
        while (vp / 10 > vm / 10) {
            last = vr % 10;
            vr /= 10;
            vp /= 10;
            vm /= 10;
            removed++;
        }
        output = vr + (vr == vm || last >= 5);
    }
    *out_digits = output;
    *out_e10 = e10 + removed;
}

size_t fwt__fmt_float(char *out, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    const int neg = (int)(bits >> 31);
    const uint32_t mant = bits & ((1u << F_MANT_BITS) - 1);
    const uint32_t expo = (bits >> F_MANT_BITS) & 0xffu;
    if (expo == 0xffu)
        return 0;
    if (expo == 0 && mant == 0)
        return layout(out, neg, "0", 1, 0);
    uint32_t d;
    int32_t e10;
    f2d(mant, expo, &d, &e10);
    char digits[12];
    int n = (int)fmt_u64(digits, d);
    return layout(out, neg, digits, n, e10);
}

/* ---- doubles (and the float reference): exact free-format digits with big integers ----
 * Steele & White / Burger & Dybvig: with v = f × 2^e, keep r / s = v / 10^k and the half-gaps to the
 * neighbours m+ / s, m- / s exactly; emit digits until the remainder is within a half-gap. The
 * result is the shortest decimal inside the rounding interval, the closest one when two qualify. */

#define BIG_WORDS 44 /* 1408 bits: r, s stay below 2^1140 for doubles */

typedef struct big {
    uint32_t w[BIG_WORDS];
    int n; /* used words; w[n-1] != 0 unless n == 0 */
} big;

static void big_set(big *b, uint64_t v)
{
    b->n = 0;
    while (v) {
        b->w[b->n++] = (uint32_t)v;
        v >>= 32;
    }
}

static void big_mul_small(big *b, uint32_t m)
{
    uint64_t carry = 0;
    for (int i = 0; i < b->n; i++) {
        uint64_t x = (uint64_t)b->w[i] * m + carry;
        b->w[i] = (uint32_t)x;
        carry = x >> 32;
    }
    if (carry)
        b->w[b->n++] = (uint32_t)carry;
}

static void big_mul_pow10(big *b, int k)
{
    for (; k >= 9; k -= 9)
        big_mul_small(b, 1000000000u);
    static const uint32_t P10[9] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};
    if (k > 0)
        big_mul_small(b, P10[k]);
}

static void big_shl(big *b, int bits)
{
    if (!b->n || !bits)
        return;
    int words = bits / 32, sh = bits % 32;
    if (sh) {
        uint32_t carry = 0;
        for (int i = 0; i < b->n; i++) {
            uint32_t x = b->w[i];
            b->w[i] = (x << sh) | carry;
            carry = x >> (32 - sh);
        }
        if (carry)
            b->w[b->n++] = carry;
    }
    if (words) {
        memmove(b->w + words, b->w, (size_t)b->n * sizeof b->w[0]);
        memset(b->w, 0, (size_t)words * sizeof b->w[0]);
        b->n += words;
    }
}

static int big_cmp(const big *a, const big *b)
{
    if (a->n != b->n)
        return a->n < b->n ? -1 : 1;
    for (int i = a->n - 1; i >= 0; i--)
        if (a->w[i] != b->w[i])
            return a->w[i] < b->w[i] ? -1 : 1;
    return 0;
}

static void big_add(big *out, const big *a, const big *b)
{
    const big *lo = a->n < b->n ? a : b, *hi = a->n < b->n ? b : a;
    uint64_t carry = 0;
    int i = 0;
    for (; i < hi->n; i++) {
        uint64_t x = (uint64_t)hi->w[i] + (i < lo->n ? lo->w[i] : 0) + carry;
        out->w[i] = (uint32_t)x;
        carry = x >> 32;
    }
    out->n = hi->n;
    if (carry)
        out->w[out->n++] = (uint32_t)carry;
}

static void big_sub(big *a, const big *b) /* a -= b, a >= b */
{
    int64_t borrow = 0;
    for (int i = 0; i < a->n; i++) {
        int64_t x = (int64_t)a->w[i] - (i < b->n ? b->w[i] : 0) - borrow;
        borrow = x < 0;
        a->w[i] = (uint32_t)(x + (borrow ? ((int64_t)1 << 32) : 0));
    }
    while (a->n && !a->w[a->n - 1])
        a->n--;
}

/* Shortest digits of f × 2^e (f > 0; p = precision in bits, min_e = the subnormals' exponent). Writes
 * the digits, returns their count; *e10 receives the exponent of the last digit. */
static int free_format(char *digits, uint64_t f, int e, int p, int min_e, int *e10)
{
    big r, s, mp, mm, t;
    const int even = (f & 1) == 0; /* IEEE round-half-even: the interval's ends belong to v */
    const int unequal = f == ((uint64_t)1 << (p - 1)) && e > min_e; /* the gap below is half the one above */
    big_set(&r, f);
    if (e >= 0) {
        big_shl(&r, e + 1 + unequal);
        big_set(&s, unequal ? 4 : 2);
        big_set(&mp, 1);
        big_shl(&mp, e + unequal);
        big_set(&mm, 1);
        big_shl(&mm, e);
    } else {
        big_shl(&r, 1 + unequal);
        big_set(&s, 1);
        big_shl(&s, -e + 1 + unequal);
        big_set(&mp, unequal ? 2 : 1);
        big_set(&mm, 1);
    }
    /* k = ceil(log10 v), possibly one too small: estimated from the binary exponent of the leading bit */
    int bitlen = 64 - __builtin_clzll(f);
    double est = (double)(e + bitlen - 1) * 0.30102999566398114 - 1e-10;
    int k = (int)est;
    if ((double)k < est)
        k++; /* ceil */
    if (k >= 0) {
        big_mul_pow10(&s, k);
    } else {
        big_mul_pow10(&r, -k);
        big_mul_pow10(&mp, -k);
        big_mul_pow10(&mm, -k);
    }
    for (;;) { /* fix the estimate up: v + m+ must stay below 10^k */
        big_add(&t, &r, &mp);
        if (even ? big_cmp(&t, &s) < 0 : big_cmp(&t, &s) <= 0)
            break;
        big_mul_small(&s, 10);
        k++;
    }
    int n = 0;
    for (;;) {
        big_mul_small(&r, 10);
        big_mul_small(&mp, 10);
        big_mul_small(&mm, 10);
        int d = 0;
        while (big_cmp(&r, &s) >= 0) {
            big_sub(&r, &s);
            d++;
        }
        int low = even ? big_cmp(&r, &mm) <= 0 : big_cmp(&r, &mm) < 0;
        big_add(&t, &r, &mp);
        int high = even ? big_cmp(&t, &s) >= 0 : big_cmp(&t, &s) > 0;
        if (!low && !high) {
            digits[n++] = (char)('0' + d);
            continue;
        }
        if (low && high) { /* both d and d+1 qualify: the closer one, even on a tie */
            t = r;
            big_shl(&t, 1);
            int c = big_cmp(&t, &s);
            if (c > 0 || (c == 0 && (d & 1)))
                d++;
        } else if (high) {
            d++;
        }
        digits[n++] = (char)('0' + d);
        break;
    }
    *e10 = k - n;
    return n;
}

size_t fwt__fmt_double(char *out, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    const int neg = (int)(bits >> 63);
    const uint64_t mant = bits & (((uint64_t)1 << 52) - 1);
    const int expo = (int)((bits >> 52) & 0x7ff);
    if (expo == 0x7ff)
        return 0;
    if (expo == 0 && mant == 0)
        return layout(out, neg, "0", 1, 0);
    char digits[20];
    int e10;
    if (fabs(v) < 9007199254740992.0 && v == (double)(int64_t)v) {
        /* an integer below 2^53: its digits are the shortest form (temperature 1, top_p 1) */
        int n = (int)fmt_u64(digits, (uint64_t)fabs(v));
        return layout(out, neg, digits, n, 0);
    }
    int n = expo ? free_format(digits, mant | ((uint64_t)1 << 52), expo - 1075, 53, -1074, &e10)
                 : free_format(digits, mant, -1074, 53, -1074, &e10);
    return layout(out, neg, digits, n, e10);
}

size_t fwt__fmt_float_exact(char *out, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    const int neg = (int)(bits >> 31);
    const uint32_t mant = bits & ((1u << 23) - 1);
    const int expo = (int)((bits >> 23) & 0xff);
    if (expo == 0xff)
        return 0;
    if (expo == 0 && mant == 0)
        return layout(out, neg, "0", 1, 0);
    char digits[20];
    int e10;
    int n = expo ? free_format(digits, mant | (1u << 23), expo - 150, 24, -149, &e10)
                 : free_format(digits, mant, -149, 24, -149, &e10);
    return layout(out, neg, digits, n, e10);
}
