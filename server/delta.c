/*
 * Sampler deltas (docs/protocol.md §4.6, §3.8, docs/internals.md "Sampler deltas"). A delta is written as
 * version 3: the indices of the 4 KiB chunks that changed and one zstd frame of their XOR, behind a header
 * carrying the content roots of the base and of the target. Applying one touches only the changed chunks, so a
 * hotload costs what changed, not the size of the weights; versions 1 and 2 (zstd of the XOR of every byte plus
 * a checksum of the whole target) are still read.
 */
#include "model.h"
#include "bytes.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#define XXH_INLINE_ALL /* header-only: no library to link */
#include <xxhash.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/*
 * Versions 1 and 2: header (little-endian, 32 bytes), then one zstd frame of prev XOR cur:
 *   version 2: "FWLDELTA" | u32 2 | i32 zstd level | u64 raw length | u64 XXH3-64 of the target
 *   version 1 (still read): "FWLDELTA" | u32 1 | i32 zstd level | u64 raw length | u32 adler32 of the target |
 *                           u32 reserved (0)
 * Only the target is checksummed: a wrong base yields a wrong result, which that checksum catches (zstd's own
 * frame checksum covers the XOR, so it could not). XXH3 runs at memory speed, where zlib's adler32 took about
 * half of the encode time; the checksum is computed per 1 MiB chunk while the chunk is in cache.
 */
#define FWL_DELTA_MAGIC "FWLDELTA"
#define FWL_DELTA_V1 1u
#define FWL_DELTA_V2 2u
#define FWL_DELTA_HDR 32u

uint32_t fwl_adler32(const uint8_t *buf, size_t len)
{
    uLong a = adler32(0L, Z_NULL, 0);
    while (len) {
        uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
        a = adler32(a, buf, n);
        buf += n;
        len -= n;
    }
    return (uint32_t)a;
}

/* 16-byte lanes: SSE2 on x86-64, NEON on arm64, plain words elsewhere; gcc and clang both speak it. */
typedef uint64_t fwl__v128 __attribute__((vector_size(16)));

/* 64 bytes a round through memcpy'd vectors: no aliasing or alignment assumptions (the loads and
 * stores become unaligned vector moves). dst may be a or b exactly: each block is read first. */
static size_t fwl__xor_blocks(uint8_t *dst, const uint8_t *a, const uint8_t *b, size_t len)
{
    size_t i = 0;
    for (; i + 64 <= len; i += 64) {
        fwl__v128 x0, x1, x2, x3, y0, y1, y2, y3;
        memcpy(&x0, a + i, 16);
        memcpy(&x1, a + i + 16, 16);
        memcpy(&x2, a + i + 32, 16);
        memcpy(&x3, a + i + 48, 16);
        memcpy(&y0, b + i, 16);
        memcpy(&y1, b + i + 16, 16);
        memcpy(&y2, b + i + 32, 16);
        memcpy(&y3, b + i + 48, 16);
        x0 ^= y0;
        x1 ^= y1;
        x2 ^= y2;
        x3 ^= y3;
        memcpy(dst + i, &x0, 16);
        memcpy(dst + i + 16, &x1, 16);
        memcpy(dst + i + 32, &x2, 16);
        memcpy(dst + i + 48, &x3, 16);
    }
    return i;
}

#if defined(__SSE2__)
/* Whole-snapshot XORs (tens of MiB) are not read back soon: streaming stores skip the read-for-ownership
 * of the destination, which is most of the gap to memcpy (glibc's memcpy does the same for large
 * copies). Below this size the destination is usually consumed at once, so it stays cached. */
#define FWL_XOR_STREAM_MIN ((size_t)8 << 20)

static size_t fwl__xor_stream(uint8_t *dst, const uint8_t *a, const uint8_t *b, size_t len)
{
    size_t i = 0;
    for (; i < len && ((uintptr_t)(dst + i) & 15u); i++)
        dst[i] = a[i] ^ b[i];
    for (; i + 64 <= len; i += 64) {
        __m128i x0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)(a + i)),
                                   _mm_loadu_si128((const __m128i *)(const void *)(b + i)));
        __m128i x1 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)(a + i + 16)),
                                   _mm_loadu_si128((const __m128i *)(const void *)(b + i + 16)));
        __m128i x2 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)(a + i + 32)),
                                   _mm_loadu_si128((const __m128i *)(const void *)(b + i + 32)));
        __m128i x3 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)(a + i + 48)),
                                   _mm_loadu_si128((const __m128i *)(const void *)(b + i + 48)));
        _mm_stream_si128((__m128i *)(void *)(dst + i), x0);
        _mm_stream_si128((__m128i *)(void *)(dst + i + 16), x1);
        _mm_stream_si128((__m128i *)(void *)(dst + i + 32), x2);
        _mm_stream_si128((__m128i *)(void *)(dst + i + 48), x3);
    }
    _mm_sfence(); /* order the streaming stores before anything the caller does next */
    return i;
}
#endif

void fwl_xor(uint8_t *dst, const uint8_t *a, const uint8_t *b, size_t len)
{
    size_t i;
#if defined(__SSE2__)
    if (len >= FWL_XOR_STREAM_MIN)
        i = fwl__xor_stream(dst, a, b, len);
    else
#endif
        i = fwl__xor_blocks(dst, a, b, len);
    for (; i < len; i++)
        dst[i] = a[i] ^ b[i];
}

#define FWL_DELTA_CHUNK ((size_t)1 << 20)

/* Version 2 (kept to test that it still loads): XOR, checksum and compression in one pass over 1 MiB chunks,
 * the chunk still in cache for zstd, with no weight-sized temporary. */
static int fwl__encode(const uint8_t *prev, const uint8_t *cur, size_t len, int zstd_level, uint8_t **out,
                       size_t *out_len);

int fwl_delta_encode_v2(const uint8_t *prev, const uint8_t *cur, size_t len, int zstd_level, uint8_t **out,
                        size_t *out_len)
{
    return fwl__encode(prev, cur, len, zstd_level, out, out_len);
}

static int fwl__encode(const uint8_t *prev, const uint8_t *cur, size_t len, int zstd_level, uint8_t **out,
                       size_t *out_len)
{
    if (!out || !out_len || (len && (!prev || !cur)))
        return -1;
    if (zstd_level < ZSTD_minCLevel() || zstd_level > ZSTD_maxCLevel())
        return -1;
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    XXH3_state_t *hs = XXH3_createState();
    uint8_t *chunk = malloc(FWL_DELTA_CHUNK);
    fwl_obuf o = {0};
    int rc = -1;
    if (!cc || !hs || !chunk || XXH3_64bits_reset(hs) != XXH_OK ||
        fwl_obuf_reserve(&o, FWL_DELTA_HDR + ZSTD_CStreamOutSize()))
        goto done;
    o.len = FWL_DELTA_HDR;
    if (ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, zstd_level)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 1)) ||
        ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(cc, (unsigned long long)len)))
        goto done;
    size_t pos = 0;
    do {
        size_t n = len - pos < FWL_DELTA_CHUNK ? len - pos : FWL_DELTA_CHUNK;
        if (n) {
            fwl_xor(chunk, prev + pos, cur + pos, n);
            XXH3_64bits_update(hs, cur + pos, n);
        }
        pos += n;
        ZSTD_EndDirective mode = pos == len ? ZSTD_e_end : ZSTD_e_continue;
        ZSTD_inBuffer in = {chunk, n, 0};
        for (;;) {
            if (fwl_obuf_reserve(&o, ZSTD_CStreamOutSize()))
                goto done;
            ZSTD_outBuffer ob = {o.p + o.len, o.cap - o.len, 0};
            size_t left = ZSTD_compressStream2(cc, &ob, &in, mode);
            if (ZSTD_isError(left))
                goto done;
            o.len += ob.pos;
            if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size)
                break;
        }
    } while (pos < len);
    memcpy(o.p, FWL_DELTA_MAGIC, 8);
    fwl_put_le32(o.p + 8, FWL_DELTA_V2);
    fwl_put_le32(o.p + 12, (uint32_t)zstd_level);
    fwl_put_le64(o.p + 16, (uint64_t)len);
    fwl_put_le64(o.p + 24, (uint64_t)XXH3_64bits_digest(hs));
    uint8_t *shrunk = realloc(o.p, o.len);
    *out = shrunk ? shrunk : o.p;
    *out_len = o.len;
    o.p = NULL;
    rc = 0;
done:
    free(o.p);
    free(chunk);
    XXH3_freeState(hs);
    ZSTD_freeCCtx(cc);
    return rc;
}

/* Header and frame checks of a delta for `len` bytes; sets *ver. 0, or -1 with err. */
static int fwl__delta_check(const uint8_t *delta, size_t delta_len, size_t len, uint32_t *ver, char *err,
                            size_t errlen)
{
    if (delta_len < FWL_DELTA_HDR || memcmp(delta, FWL_DELTA_MAGIC, 8) != 0)
        return fwl_errf(err, errlen, "corrupt delta: not an fwtrain-local delta");
    *ver = fwl_get_le32(delta + 8);
    if (*ver != FWL_DELTA_V1 && *ver != FWL_DELTA_V2)
        return fwl_errf(err, errlen, "corrupt delta: unsupported version %u", *ver);
    uint64_t raw = fwl_get_le64(delta + 16);
    if (raw != (uint64_t)len)
        return fwl_errf(err, errlen, "length mismatch: delta is for %llu bytes, base has %zu",
                         (unsigned long long)raw, len);
    if (*ver == FWL_DELTA_V1 && fwl_get_le32(delta + 28) != 0)
        return fwl_errf(err, errlen, "corrupt delta: reserved header field set");
    const uint8_t *z = delta + FWL_DELTA_HDR;
    size_t zlen = delta_len - FWL_DELTA_HDR;
    /* The frame must declare exactly len bytes and be the whole rest of the file. */
    unsigned long long fcs = ZSTD_getFrameContentSize(z, zlen);
    if (fcs == ZSTD_CONTENTSIZE_ERROR || fcs == ZSTD_CONTENTSIZE_UNKNOWN || fcs != (unsigned long long)len)
        return fwl_errf(err, errlen, "corrupt delta: bad zstd frame header");
    size_t fsz = ZSTD_findFrameCompressedSize(z, zlen);
    if (ZSTD_isError(fsz) || fsz != zlen)
        return fwl_errf(err, errlen, "corrupt delta: truncated or trailing data");
    return 0;
}

/* Decompresses the frame 1 MiB at a time into a scratch chunk (still in cache) and writes out = base XOR chunk,
 * checksumming each finished piece of out. The output window is one chunk, so a lying frame cannot overflow;
 * out may be base itself (each chunk of base is read before it is overwritten). */
static int fwl__delta_stream(ZSTD_DCtx *dc, uint8_t *scratch, const uint8_t *base, uint8_t *out, size_t len,
                             ZSTD_inBuffer *in, uint32_t ver, uint64_t *sum, char *err, size_t errlen)
{
    XXH3_state_t *hs = ver == FWL_DELTA_V2 ? XXH3_createState() : NULL;
    if (ver == FWL_DELTA_V2 && (!hs || XXH3_64bits_reset(hs) != XXH_OK)) {
        XXH3_freeState(hs);
        return fwl_errf(err, errlen, "out of memory");
    }
    uLong ad = adler32(0L, Z_NULL, 0);
    size_t done = 0, ret = 1;
    while (done < len) {
        size_t n = len - done < FWL_DELTA_CHUNK ? len - done : FWL_DELTA_CHUNK;
        ZSTD_outBuffer ob = {scratch, n, 0};
        while (ob.pos < ob.size) {
            size_t before_in = in->pos, before_out = ob.pos;
            ret = ZSTD_decompressStream(dc, &ob, in);
            if (ZSTD_isError(ret) || (ret == 0 && ob.pos < ob.size) ||
                (in->pos == before_in && ob.pos == before_out))
                break;
        }
        if (ZSTD_isError(ret) || ob.pos < ob.size)
            break;
        fwl_xor(out + done, base + done, scratch, n);
        if (hs)
            XXH3_64bits_update(hs, out + done, n);
        else
            ad = adler32(ad, out + done, (uInt)n);
        done += n;
    }
    if (done == len && !ZSTD_isError(ret) && ret != 0) {
        /* All bytes out; let the frame finish (epilogue) and insist nothing more comes. */
        uint8_t extra;
        ZSTD_outBuffer ob = {&extra, 1, 0};
        ret = ZSTD_decompressStream(dc, &ob, in);
        if (!ZSTD_isError(ret) && (ob.pos != 0 || ret != 0))
            ret = (size_t)-1;
    }
    *sum = hs ? (uint64_t)XXH3_64bits_digest(hs) : (uint64_t)(uint32_t)ad;
    XXH3_freeState(hs);
    if (done != len || ZSTD_isError(ret) || ret != 0 || in->pos != in->size)
        return fwl_errf(err, errlen, "corrupt delta: %s",
                         ZSTD_isError(ret) ? ZSTD_getErrorName(ret) : "frame does not match the base length");
    return 0;
}

int fwl_delta_apply_into(const uint8_t *base, uint8_t *out, size_t len, const uint8_t *delta, size_t delta_len,
                         char *err, size_t errlen)
{
    if ((!base || !out) && len)
        return fwl_errf(err, errlen, "corrupt delta: bad arguments");
    if (!delta && delta_len)
        return fwl_errf(err, errlen, "corrupt delta: bad arguments");
    if (fwl_delta_version(delta, delta_len) == 3) {
        /* sparse: checked against the root of base (computed: one read), then only the changed chunks move */
        fwl_delta_patch p;
        if (fwl_delta_patch_prepare(base, len, NULL, delta, delta_len, &p, err, errlen) != 0)
            return -1;
        if (out != base && len)
            memcpy(out, base, len);
        fwl_delta_patch_apply(&p, out);
        fwl_delta_patch_free(&p);
        return 0;
    }
    uint32_t ver = 0;
    if (fwl__delta_check(delta, delta_len, len, &ver, err, errlen) != 0)
        return -1;
    uint8_t *scratch = malloc(FWL_DELTA_CHUNK);
    ZSTD_DCtx *dc = ZSTD_createDCtx();
    int rc = -1;
    uint64_t sum = 0;
    if (!scratch || !dc) {
        fwl_errf(err, errlen, "out of memory");
    } else {
        ZSTD_inBuffer in = {delta + FWL_DELTA_HDR, delta_len - FWL_DELTA_HDR, 0};
        rc = fwl__delta_stream(dc, scratch, base, out, len, &in, ver, &sum, err, errlen);
    }
    ZSTD_freeDCtx(dc);
    free(scratch);
    if (rc != 0)
        return -1;
    uint64_t want = ver == FWL_DELTA_V2 ? fwl_get_le64(delta + 24) : (uint64_t)fwl_get_le32(delta + 24);
    if (sum != want)
        return fwl_errf(err, errlen, "checksum mismatch: wrong base or corrupt delta");
    return 0;
}

int fwl_delta_apply(const uint8_t *base, size_t base_len, const uint8_t *delta, size_t delta_len, uint8_t **out,
                    char *err, size_t errlen)
{
    if (!out || (!base && base_len) || (!delta && delta_len))
        return fwl_errf(err, errlen, "corrupt delta: bad arguments");
    *out = NULL;
    uint8_t *buf = malloc(base_len ? base_len : 1);
    if (!buf)
        return fwl_errf(err, errlen, "out of memory");
    if (fwl_delta_apply_into(base, buf, base_len, delta, delta_len, err, errlen) != 0) {
        free(buf);
        return -1;
    }
    *out = buf;
    return 0;
}
