/*
 * Sparse sampler deltas (version 3, what fwl_delta_encode writes). After a training step most of the weights are
 * bit-identical (only the context rows a batch touched, and the small dense tensors, move), so a delta lists the
 * 4 KiB chunks that changed and carries the XOR of just those; applying it reads and writes only them.
 *
 * Layout (little-endian):
 *   "FWLDELTA" | u32 3 | i32 zstd level | u64 raw length | u64 root of the base | u64 root of the target |
 *   u32 chunk size (4096) | u32 n = changed chunks | n x u32 their indices, strictly ascending |
 *   one zstd frame (with zstd's content checksum) of the changed chunks' XOR, back to back (the weights' last
 *   chunk may be short).
 *
 * Integrity. The root of a buffer is the sum mod 2^64 of XXH3-64(chunk c, seed c) over its chunks: an additive
 * hash, so the root of the result follows from the root of the base and the chunks that changed alone,
 * root(target) = root(base) - sum H(base chunk) + sum H(target chunk) over the changed chunks, and checking it
 * costs what the changed chunks cost. The applier starts from the root of the weights it holds (known when those
 * came from a version-3 delta, whose target root was checked; else computed from the bytes, one read of the
 * weights) and refuses a delta whose base root differs: a wrong base is caught wherever it differs, not only in
 * the changed chunks. It then recomputes the target root from the chunks it wrote and compares it with the
 * header's, which catches a corrupt chunk or index (zstd's frame checksum catches most of those first). A caller
 * may instead vouch for the base root (fwl_delta_roots + fwl_delta_patch_prepare's `trust`): fwtrain-local's
 * replica does so only when the delta names, by its creation stamp, the very snapshot it holds; the changed
 * chunks are still checked against the base they were computed from. The sum is not collision resistant
 * against an adversary who picks chunks; it guards against mistakes and corruption, like the checksums it
 * replaces (the deltas are fwtrain-local's own files).
 */
#include "model.h"
#include "bytes.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#define XXH_INLINE_ALL /* header-only: no library to link */
#include <xxhash.h>

#define FWL_DELTA_MAGIC "FWLDELTA"
#define FWL_DELTA_V3 3u
#define FWL_DELTA_V3_HDR 48u
#define FWL_DELTA_STAGE ((size_t)1 << 20) /* XOR staged for zstd: 256 chunks a call */

/* H(chunk c): XXH3-64 seeded with the index, so equal chunks at different places hash differently. */
static inline uint64_t chunk_hash(const uint8_t *p, size_t n, size_t c)
{
    return (uint64_t)XXH3_64bits_withSeed(p, n, (XXH64_hash_t)c);
}

static inline size_t chunk_len(size_t len, size_t c)
{
    size_t pos = c * FWL_DELTA_CHUNK_BYTES;
    return len - pos < FWL_DELTA_CHUNK_BYTES ? len - pos : FWL_DELTA_CHUNK_BYTES;
}

uint64_t fwl_weights_root(const uint8_t *w, size_t len)
{
    uint64_t r = 0;
    for (size_t c = 0, pos = 0; pos < len; c++, pos += FWL_DELTA_CHUNK_BYTES)
        r += chunk_hash(w + pos, chunk_len(len, c), c);
    return r;
}

/* Feeds in[0..n) to the frame (end: finishes it). 0 or -1. */
static int compress_some(ZSTD_CCtx *cc, fwl_obuf *o, const uint8_t *in, size_t n, bool end)
{
    ZSTD_inBuffer ib = {in, n, 0};
    ZSTD_EndDirective mode = end ? ZSTD_e_end : ZSTD_e_continue;
    for (;;) {
        if (fwl_obuf_reserve(o, ZSTD_CStreamOutSize()))
            return -1;
        ZSTD_outBuffer ob = {o->p + o->len, o->cap - o->len, 0};
        size_t left = ZSTD_compressStream2(cc, &ob, &ib, mode);
        if (ZSTD_isError(left))
            return -1;
        o->len += ob.pos;
        if (end ? left == 0 : ib.pos == ib.size)
            return 0;
    }
}

/* One pass over the chunks: unchanged ones are compared and skipped (and hashed only when the base root is not
 * known), changed ones are XORed into a staging buffer for zstd, hashed on both sides, and copied into
 * `advance` (the caller's previous snapshot) when given. */
static int encode3(const uint8_t *prev, uint8_t *advance, const uint8_t *cur, size_t len, int level,
                   fwl_wroot *root, uint8_t **out, size_t *out_len)
{
    if (!out || !out_len || (len && (!prev || !cur)))
        return -1;
    if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
        return -1;
    size_t nch = (len + FWL_DELTA_CHUNK_BYTES - 1) / FWL_DELTA_CHUNK_BYTES;
    if (nch > UINT32_MAX)
        return -1;
    bool known = root && root->known;
    uint32_t *idx = malloc((nch ? nch : 1) * sizeof *idx);
    uint8_t *stage = malloc(FWL_DELTA_STAGE);
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    fwl_obuf fr = {0};
    int rc = -1;
    if (!idx || !stage || !cc)
        goto done;
    if (ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, level)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1)))
        goto done;
    uint64_t base = known ? root->sum : 0, gone = 0, added = 0;
    size_t n = 0, staged = 0;
    for (size_t c = 0; c < nch; c++) {
        size_t pos = c * FWL_DELTA_CHUNK_BYTES, cl = chunk_len(len, c);
        const uint8_t *p = prev + pos, *q = cur + pos;
        uint64_t hp = known ? 0 : chunk_hash(p, cl, c);
        base += hp;
        if (memcmp(p, q, cl) == 0)
            continue;
        idx[n++] = (uint32_t)c;
        gone += known ? chunk_hash(p, cl, c) : hp;
        added += chunk_hash(q, cl, c);
        if (staged + cl > FWL_DELTA_STAGE) {
            if (compress_some(cc, &fr, stage, staged, false))
                goto done;
            staged = 0;
        }
        fwl_xor(stage + staged, p, q, cl);
        staged += cl;
        if (advance)
            memcpy(advance + pos, q, cl);
    }
    if (compress_some(cc, &fr, stage, staged, true))
        goto done;
    size_t total = FWL_DELTA_V3_HDR + n * 4 + fr.len;
    uint8_t *o = malloc(total);
    if (!o)
        goto done;
    uint64_t target = base - gone + added;
    memcpy(o, FWL_DELTA_MAGIC, 8);
    fwl_put_le32(o + 8, FWL_DELTA_V3);
    fwl_put_le32(o + 12, (uint32_t)level);
    fwl_put_le64(o + 16, (uint64_t)len);
    fwl_put_le64(o + 24, base);
    fwl_put_le64(o + 32, target);
    fwl_put_le32(o + 40, (uint32_t)FWL_DELTA_CHUNK_BYTES);
    fwl_put_le32(o + 44, (uint32_t)n);
    for (size_t k = 0; k < n; k++)
        fwl_put_le32(o + FWL_DELTA_V3_HDR + 4 * k, idx[k]);
    memcpy(o + FWL_DELTA_V3_HDR + 4 * n, fr.p, fr.len);
    *out = o;
    *out_len = total;
    if (root) {
        root->sum = target;
        root->known = true;
    }
    rc = 0;
done:
    free(fr.p);
    ZSTD_freeCCtx(cc);
    free(stage);
    free(idx);
    return rc;
}

int fwl_delta_encode(const uint8_t *prev, const uint8_t *cur, size_t len, int zstd_level, uint8_t **out,
                     size_t *out_len)
{
    return encode3(prev, NULL, cur, len, zstd_level, NULL, out, out_len);
}

int fwl_delta_encode_advance(uint8_t *prev, const uint8_t *cur, size_t len, int zstd_level, fwl_wroot *root,
                             uint8_t **out, size_t *out_len)
{
    return encode3(prev, prev, cur, len, zstd_level, root, out, out_len);
}

int fwl_delta_version(const uint8_t *delta, size_t delta_len)
{
    if (!delta || delta_len < 12 || memcmp(delta, FWL_DELTA_MAGIC, 8) != 0)
        return -1;
    uint32_t v = fwl_get_le32(delta + 8);
    return v >= 1 && v <= 3 ? (int)v : -1;
}

/* The parsed header of a version-3 delta for `len` bytes: its indices (still little-endian in the file), the
 * frame, and the byte count the frame must decompress to. 0, or -1 with err. */
typedef struct v3hdr {
    uint64_t base, target;
    size_t n, data_len;
    const uint8_t *idx, *frame;
    size_t frame_len;
} v3hdr;

static int parse3(const uint8_t *d, size_t dl, size_t len, v3hdr *h, char *err, size_t el)
{
    if (!d || dl < FWL_DELTA_V3_HDR || memcmp(d, FWL_DELTA_MAGIC, 8) != 0)
        return fwl_errf(err, el, "corrupt delta: not an fwtrain-local delta");
    uint32_t ver = fwl_get_le32(d + 8);
    if (ver != FWL_DELTA_V3)
        return fwl_errf(err, el, "corrupt delta: unsupported version %u", ver);
    uint64_t raw = fwl_get_le64(d + 16);
    if (raw != (uint64_t)len)
        return fwl_errf(err, el, "length mismatch: delta is for %llu bytes, base has %zu", (unsigned long long)raw,
                        len);
    if (fwl_get_le32(d + 40) != FWL_DELTA_CHUNK_BYTES)
        return fwl_errf(err, el, "corrupt delta: chunk size %u (want %u)", fwl_get_le32(d + 40),
                        (unsigned)FWL_DELTA_CHUNK_BYTES);
    size_t nch = (len + FWL_DELTA_CHUNK_BYTES - 1) / FWL_DELTA_CHUNK_BYTES;
    uint32_t n = fwl_get_le32(d + 44);
    if ((size_t)n > nch || (size_t)n > (dl - FWL_DELTA_V3_HDR) / 4)
        return fwl_errf(err, el, "corrupt delta: %u changed chunks of %zu", n, nch);
    h->base = fwl_get_le64(d + 24);
    h->target = fwl_get_le64(d + 32);
    h->n = n;
    h->idx = d + FWL_DELTA_V3_HDR;
    h->data_len = 0;
    for (size_t k = 0; k < n; k++) {
        uint32_t c = fwl_get_le32(h->idx + 4 * k);
        if (c >= nch || (k && c <= fwl_get_le32(h->idx + 4 * (k - 1))))
            return fwl_errf(err, el, "corrupt delta: chunk index %u out of order or range", c);
        h->data_len += chunk_len(len, c);
    }
    h->frame = h->idx + 4 * (size_t)n;
    h->frame_len = dl - FWL_DELTA_V3_HDR - 4 * (size_t)n;
    unsigned long long fcs = ZSTD_getFrameContentSize(h->frame, h->frame_len);
    if (fcs == ZSTD_CONTENTSIZE_ERROR || (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs != (unsigned long long)h->data_len))
        return fwl_errf(err, el, "corrupt delta: bad zstd frame header");
    size_t fsz = ZSTD_findFrameCompressedSize(h->frame, h->frame_len);
    if (ZSTD_isError(fsz) || fsz != h->frame_len)
        return fwl_errf(err, el, "corrupt delta: truncated or trailing data");
    return 0;
}

int fwl_delta_roots(const uint8_t *delta, size_t delta_len, size_t len, uint64_t *base_root, uint64_t *target_root,
                    char *err, size_t errlen)
{
    v3hdr h;
    if (parse3(delta, delta_len, len, &h, err, errlen) != 0)
        return -1;
    if (base_root)
        *base_root = h.base;
    if (target_root)
        *target_root = h.target;
    return 0;
}

void fwl_delta_patch_free(fwl_delta_patch *p)
{
    if (!p)
        return;
    free(p->idx);
    free(p->data);
    memset(p, 0, sizeof *p);
}

int fwl_delta_patch_prepare(const uint8_t *w, size_t len, const fwl_wroot *root, const uint8_t *delta,
                            size_t delta_len, fwl_delta_patch *p, char *err, size_t errlen)
{
    if (!p)
        return fwl_errf(err, errlen, "corrupt delta: bad arguments");
    memset(p, 0, sizeof *p);
    if (!w && len)
        return fwl_errf(err, errlen, "corrupt delta: bad arguments");
    v3hdr h;
    if (parse3(delta, delta_len, len, &h, err, errlen) != 0)
        return -1;
    uint64_t have = root && root->known ? root->sum : fwl_weights_root(w, len);
    if (have != h.base)
        return fwl_errf(err, errlen, "checksum mismatch: wrong base (the held weights are not the snapshot this "
                                     "delta was computed against)");
    p->idx = malloc((h.n ? h.n : 1) * sizeof *p->idx);
    p->data = malloc(h.data_len ? h.data_len : 1);
    ZSTD_DCtx *dc = ZSTD_createDCtx();
    if (!p->idx || !p->data || !dc) {
        ZSTD_freeDCtx(dc);
        fwl_delta_patch_free(p);
        return fwl_errf(err, errlen, "out of memory");
    }
    /* dst holds exactly data_len bytes: a frame that would write more fails instead of overflowing */
    size_t got = ZSTD_decompressDCtx(dc, p->data, h.data_len ? h.data_len : 1, h.frame, h.frame_len);
    ZSTD_freeDCtx(dc);
    if (ZSTD_isError(got) || got != h.data_len) {
        fwl_delta_patch_free(p);
        return fwl_errf(err, errlen, "corrupt delta: %s",
                        ZSTD_isError(got) ? ZSTD_getErrorName(got) : "frame does not match the changed chunks");
    }
    /* each XOR chunk becomes the target chunk (base XOR it), hashed on both sides while in cache */
    uint64_t gone = 0, added = 0;
    size_t off = 0;
    for (size_t k = 0; k < h.n; k++) {
        uint32_t c = fwl_get_le32(h.idx + 4 * k);
        size_t cl = chunk_len(len, c);
        const uint8_t *b = w + (size_t)c * FWL_DELTA_CHUNK_BYTES;
        uint8_t *t = p->data + off;
        gone += chunk_hash(b, cl, c);
        fwl_xor(t, t, b, cl);
        added += chunk_hash(t, cl, c);
        p->idx[k] = c;
        off += cl;
    }
    if (h.base - gone + added != h.target) {
        fwl_delta_patch_free(p);
        return fwl_errf(err, errlen, "checksum mismatch: wrong base or corrupt delta (the changed chunks do not "
                                     "give the target)");
    }
    p->n = h.n;
    p->len = len;
    p->data_len = h.data_len;
    p->root = h.target;
    return 0;
}

void fwl_delta_patch_apply(const fwl_delta_patch *p, uint8_t *w)
{
    size_t off = 0;
    for (size_t k = 0; k < p->n; k++) {
        size_t cl = chunk_len(p->len, p->idx[k]);
        memcpy(w + (size_t)p->idx[k] * FWL_DELTA_CHUNK_BYTES, p->data + off, cl);
        off += cl;
    }
}

int fwl_delta_apply_inplace(uint8_t *w, size_t len, fwl_wroot *root, const uint8_t *delta, size_t delta_len,
                            char *err, size_t errlen)
{
    int ver = fwl_delta_version(delta, delta_len);
    if (ver != (int)FWL_DELTA_V3) {
        /* versions 1 and 2 rewrite every byte and check a checksum of the whole target, not a root */
        if (root)
            root->known = false;
        return fwl_delta_apply_into(w, w, len, delta, delta_len, err, errlen);
    }
    fwl_delta_patch p;
    if (fwl_delta_patch_prepare(w, len, root, delta, delta_len, &p, err, errlen) != 0)
        return -1;
    fwl_delta_patch_apply(&p, w);
    if (root) {
        root->sum = p.root;
        root->known = true;
    }
    fwl_delta_patch_free(&p);
    return 0;
}
