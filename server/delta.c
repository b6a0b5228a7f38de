/*
 * Sampler deltas (protocol §4.6, §3.8): a delta is zstd(prev XOR cur) behind
 * a small header carrying the raw length and adler32 checksums, so a
 * deployment applying it to the wrong base, or a truncated/corrupted delta,
 * is detected instead of silently serving wrong weights.
 */
#include "model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

/*
 * Header (little-endian, 32 bytes): "FWLDELTA" | u32 version | i32 zstd level |
 * u64 raw length | u32 adler32(target) | u32 adler32(base), then one zstd frame.
 */
#define FWL_DELTA_MAGIC "FWLDELTA"
#define FWL_DELTA_VERSION 1u
#define FWL_DELTA_HDR 32u

__attribute__((format(printf, 3, 4))) static int fwl__derr(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static void fwl__le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t fwl__rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

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

void fwl_xor(uint8_t *dst, const uint8_t *a, const uint8_t *b, size_t len)
{
    size_t i = 0;
    /* 32 bytes a round through memcpy'd words: no aliasing or alignment assumptions, and the
     * compiler turns it into wide loads/stores. dst may alias a or b exactly (in-place XOR). */
    for (; i + 32 <= len; i += 32) {
        uint64_t x[4], y[4];
        memcpy(x, a + i, 32);
        memcpy(y, b + i, 32);
        x[0] ^= y[0];
        x[1] ^= y[1];
        x[2] ^= y[2];
        x[3] ^= y[3];
        memcpy(dst + i, x, 32);
    }
    for (; i < len; i++)
        dst[i] = a[i] ^ b[i];
}

int fwl_delta_encode(const uint8_t *prev, const uint8_t *cur, size_t len, int zstd_level, uint8_t **out,
                     size_t *out_len)
{
    if (!out || !out_len || (len && (!prev || !cur)))
        return -1;
    if (zstd_level < ZSTD_minCLevel() || zstd_level > ZSTD_maxCLevel())
        return -1;
    uint8_t *x = malloc(len ? len : 1);
    size_t bound = ZSTD_compressBound(len);
    uint8_t *buf = ZSTD_isError(bound) ? NULL : malloc(FWL_DELTA_HDR + bound);
    if (!x || !buf) {
        free(x);
        free(buf);
        return -1;
    }
    fwl_xor(x, prev, cur, len);
    size_t z = ZSTD_compress(buf + FWL_DELTA_HDR, bound, x, len, zstd_level);
    free(x);
    if (ZSTD_isError(z)) {
        free(buf);
        return -1;
    }
    memcpy(buf, FWL_DELTA_MAGIC, 8);
    fwl__le32(buf + 8, FWL_DELTA_VERSION);
    fwl__le32(buf + 12, (uint32_t)zstd_level);
    fwl__le32(buf + 16, (uint32_t)((uint64_t)len & 0xffffffffu));
    fwl__le32(buf + 20, (uint32_t)((uint64_t)len >> 32));
    fwl__le32(buf + 24, fwl_adler32(cur, len));
    fwl__le32(buf + 28, fwl_adler32(prev, len));
    uint8_t *shrunk = realloc(buf, FWL_DELTA_HDR + z);
    *out = shrunk ? shrunk : buf;
    *out_len = FWL_DELTA_HDR + z;
    return 0;
}

int fwl_delta_apply(const uint8_t *base, size_t base_len, const uint8_t *delta, size_t delta_len, uint8_t **out,
                    char *err, size_t errlen)
{
    if (!out || (!base && base_len) || (!delta && delta_len))
        return fwl__derr(err, errlen, "corrupt delta: bad arguments");
    *out = NULL;
    if (delta_len < FWL_DELTA_HDR || memcmp(delta, FWL_DELTA_MAGIC, 8) != 0)
        return fwl__derr(err, errlen, "corrupt delta: not an fwtrain-local delta");
    if (fwl__rd32(delta + 8) != FWL_DELTA_VERSION)
        return fwl__derr(err, errlen, "corrupt delta: unsupported version %u", fwl__rd32(delta + 8));
    uint64_t raw = (uint64_t)fwl__rd32(delta + 16) | (uint64_t)fwl__rd32(delta + 20) << 32;
    if (raw != (uint64_t)base_len)
        return fwl__derr(err, errlen, "length mismatch: delta is for %llu bytes, base has %zu",
                         (unsigned long long)raw, base_len);
    uint32_t want = fwl__rd32(delta + 24), want_base = fwl__rd32(delta + 28);
    if (fwl_adler32(base, base_len) != want_base)
        return fwl__derr(err, errlen, "checksum mismatch: delta was made against a different base");
    const uint8_t *z = delta + FWL_DELTA_HDR;
    size_t zlen = delta_len - FWL_DELTA_HDR;
    /* The frame must declare exactly base_len bytes and be the whole rest of the file. */
    unsigned long long fcs = ZSTD_getFrameContentSize(z, zlen);
    if (fcs == ZSTD_CONTENTSIZE_ERROR || fcs == ZSTD_CONTENTSIZE_UNKNOWN || fcs != (unsigned long long)base_len)
        return fwl__derr(err, errlen, "corrupt delta: bad zstd frame header");
    size_t fsz = ZSTD_findFrameCompressedSize(z, zlen);
    if (ZSTD_isError(fsz) || fsz != zlen)
        return fwl__derr(err, errlen, "corrupt delta: truncated or trailing data");
    uint8_t *buf = malloc(base_len ? base_len : 1);
    if (!buf)
        return fwl__derr(err, errlen, "out of memory");
    size_t got = ZSTD_decompress(buf, base_len, z, zlen);
    if (ZSTD_isError(got) || got != base_len) {
        free(buf);
        return fwl__derr(err, errlen, "corrupt delta: %s",
                         ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short decompression");
    }
    fwl_xor(buf, buf, base, base_len);
    if (fwl_adler32(buf, base_len) != want) {
        free(buf);
        return fwl__derr(err, errlen, "checksum mismatch: result does not match the snapshot");
    }
    *out = buf;
    return 0;
}
