/* XOR, adler32 and zstd deltas: a deployment following a delta chain holds the trainer's exact bytes; sparse
 * (version-3) deltas carry only the chunks that changed and check both roots; older versions still load. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "model.h"

static void test_xor(void **state)
{
    (void)state;
    uint8_t a[203], b[203], d[208], ref[203];
    for (int i = 0; i < 203; i++) {
        a[i] = (uint8_t)(i * 37 + 1);
        b[i] = (uint8_t)(i * 11 + 200);
        ref[i] = a[i] ^ b[i];
    }
    /* Every length and misalignment of the destination. */
    for (size_t off = 0; off < 5; off++) {
        for (size_t n = 0; n <= 203 - off; n += 13) {
            memset(d, 0xAA, sizeof(d));
            fwl_xor(d + off, a + off, b + off, n);
            assert_memory_equal(d + off, ref + off, n);
            if (off + n < sizeof(d))
                assert_int_equal(d[off + n], 0xAA);
        }
    }
    /* Snapshot-sized buffers take the streaming path: check it at an odd offset and length, in place too. */
    size_t big = ((size_t)9 << 20) + 37;
    uint8_t *x = malloc(big + 3), *y = malloc(big + 3), *z = malloc(big + 3);
    assert_non_null(x);
    assert_non_null(y);
    assert_non_null(z);
    for (size_t i = 0; i < big + 3; i++) {
        x[i] = (uint8_t)(i * 131 + (i >> 13));
        y[i] = (uint8_t)(i * 7 + 3);
    }
    z[0] = z[big + 2] = 0x5A;
    fwl_xor(z + 1, x + 1, y + 1, big + 1);
    for (size_t i = 1; i < big + 2; i++)
        if (z[i] != (uint8_t)(x[i] ^ y[i]))
            fail_msg("streaming xor wrong at %zu", i);
    assert_int_equal(z[0], 0x5A);
    assert_int_equal(z[big + 2], 0x5A);
    fwl_xor(z + 1, z + 1, y + 1, big + 1);
    assert_memory_equal(z + 1, x + 1, big + 1);
    free(x);
    free(y);
    free(z);
    /* In place. */
    memcpy(d, a, 203);
    fwl_xor(d, d, b, 203);
    assert_memory_equal(d, ref, 203);
    /* adler32 agrees with the definition (mod 65521 sums). */
    uint32_t s1 = 1, s2 = 0;
    for (int i = 0; i < 203; i++) {
        s1 = (s1 + a[i]) % 65521;
        s2 = (s2 + s1) % 65521;
    }
    assert_int_equal(fwl_adler32(a, 203), (s2 << 16) | s1);
    assert_int_equal(fwl_adler32(NULL, 0), 1);
}

static void test_delta_chain(void **state)
{
    (void)state;
    /* Trainer: model + Adam, a base snapshot and 5 delta snapshots. */
    fwl_model m;
    fwl_adam a;
    assert_int_equal(fwl_model_init(&m, 4, 2024), 0);
    assert_int_equal(fwl_adam_init(&a, m.n_params), 0);
    float *g = calloc(m.n_params, sizeof(float));
    assert_non_null(g);
    fwl_adam_params p = fwl_adam_defaults();
    p.lr = 1e-3;
    uint8_t *snap[6] = {0}, *delta[6] = {0};
    size_t slen[6], dlen[6] = {0};
    assert_int_equal(fwl_safetensors_encode(&m, &snap[0], &slen[0]), 0);
    const char *text = "delta chains must reproduce the trainer bit for bit";
    for (int k = 1; k <= 5; k++) {
        int64_t tok[16], tgt[16];
        for (int i = 0; i < 16; i++) {
            tok[i] = (unsigned char)text[(k * 5 + i) % 50];
            tgt[i] = (unsigned char)text[(k * 5 + i + 1) % 50];
        }
        fwl_model_forward(&m, tok, tgt, NULL, 16, NULL, g);
        fwl_adam_step(&m, &a, g, &p);
        assert_int_equal(fwl_safetensors_encode(&m, &snap[k], &slen[k]), 0);
        assert_int_equal(slen[k], slen[0]);
        assert_int_equal(fwl_delta_encode(snap[k - 1], snap[k], slen[k], 3, &delta[k], &dlen[k]), 0);
        /* Sparse updates: the delta is far smaller than the snapshot. */
        assert_true(dlen[k] * 10 < slen[k]);
    }
    /* Deployment: base, then each delta in turn. */
    uint8_t *cur = malloc(slen[0]);
    assert_non_null(cur);
    memcpy(cur, snap[0], slen[0]);
    char err[256];
    for (int k = 1; k <= 5; k++) {
        uint8_t *next = NULL;
        assert_int_equal(fwl_delta_apply(cur, slen[0], delta[k], dlen[k], &next, err, sizeof(err)), 0);
        free(cur);
        cur = next;
    }
    fwl_model dep;
    assert_int_equal(fwl_safetensors_decode(&dep, cur, slen[0], err, sizeof(err)), 0);
    assert_memory_equal(dep.w, m.w, m.n_params * sizeof(float));
    fwl_model_free(&dep);

    /* Wrong base: delta 3 applied to snapshot 1. */
    uint8_t *bad = (uint8_t *)1;
    assert_int_equal(fwl_delta_apply(snap[1], slen[1], delta[3], dlen[3], &bad, err, sizeof(err)), -1);
    assert_null(bad);
    assert_non_null(strstr(err, "checksum mismatch"));
    /* Wrong length. */
    assert_int_equal(fwl_delta_apply(snap[2], slen[2] - 4, delta[3], dlen[3], &bad, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "length mismatch"));
    /* Corrupt: truncated, trailing bytes, flipped payload, flipped target checksum, bad magic/version. */
    uint8_t *d = malloc(dlen[3] + 8);
    assert_non_null(d);
    memcpy(d, delta[3], dlen[3]);
    for (size_t cut = 0; cut < dlen[3]; cut += (cut < 64 ? 1 : dlen[3] / 16 + 1)) {
        assert_int_equal(fwl_delta_apply(snap[2], slen[2], d, cut, &bad, err, sizeof(err)), -1);
        assert_null(bad);
    }
    memset(d + dlen[3], 0, 8);
    assert_int_equal(fwl_delta_apply(snap[2], slen[2], d, dlen[3] + 8, &bad, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "corrupt delta"));
    for (size_t at = 32; at < dlen[3]; at += dlen[3] / 23 + 1) {
        d[at] ^= 0x41;
        int rc = fwl_delta_apply(snap[2], slen[2], d, dlen[3], &bad, err, sizeof(err));
        d[at] ^= 0x41;
        assert_int_equal(rc, -1);
        assert_true(strstr(err, "corrupt delta") || strstr(err, "checksum mismatch"));
    }
    for (int at = 24; at < 40; at += 5) { /* the base and target roots (version 3) */
        d[at] ^= 1;
        assert_int_equal(fwl_delta_apply(snap[2], slen[2], d, dlen[3], &bad, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "checksum mismatch"));
        d[at] ^= 1;
    }
    d[0] = 'X';
    assert_int_equal(fwl_delta_apply(snap[2], slen[2], d, dlen[3], &bad, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "corrupt delta"));
    d[0] = 'F';
    assert_int_equal(d[8], 3); /* written as version 3 */
    d[8] = 9;
    assert_int_equal(fwl_delta_apply(snap[2], slen[2], d, dlen[3], &bad, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "unsupported version 9"));
    d[8] = 3;
    /* Still intact after all that. */
    assert_int_equal(fwl_delta_apply(snap[2], slen[2], d, dlen[3], &bad, err, sizeof(err)), 0);
    assert_memory_equal(bad, snap[3], slen[3]);
    free(bad);
    free(d);
    assert_int_equal(fwl_delta_encode(snap[0], snap[1], slen[0], 99, &bad, &dlen[0]), -1);

    /* Empty buffers round-trip too. */
    uint8_t *e = NULL, *eo = NULL;
    size_t elen = 0;
    assert_int_equal(fwl_delta_encode(NULL, NULL, 0, 1, &e, &elen), 0);
    assert_int_equal(fwl_delta_apply(NULL, 0, e, elen, &eo, err, sizeof(err)), 0);
    free(eo);
    free(e);

    free(cur);
    for (int k = 0; k <= 5; k++) {
        free(snap[k]);
        free(delta[k]);
    }
    free(g);
    fwl_adam_free(&a);
    fwl_model_free(&m);
}

/* A version-1 delta (adler32 of the target, reserved word) as earlier servers wrote it, built by hand. */
static uint8_t *v1_delta(const uint8_t *prev, const uint8_t *cur, size_t len, size_t *out_len)
{
    uint8_t *x = malloc(len ? len : 1);
    assert_non_null(x);
    fwl_xor(x, prev, cur, len);
    size_t cap = ZSTD_compressBound(len);
    uint8_t *d = malloc(32 + cap);
    assert_non_null(d);
    size_t z = ZSTD_compress(d + 32, cap, x, len, 3);
    assert_false(ZSTD_isError(z));
    free(x);
    memcpy(d, "FWLDELTA", 8);
    uint32_t words[6] = {1, 3, (uint32_t)len, (uint32_t)((uint64_t)len >> 32), fwl_adler32(cur, len), 0};
    for (int i = 0; i < 6; i++)
        for (int b = 0; b < 4; b++)
            d[8 + 4 * i + b] = (uint8_t)(words[i] >> (8 * b));
    *out_len = 32 + z;
    return d;
}

/* Files written before the XXH3 change still load (and their own checks still bite); unknown versions are
 * refused by name; applying in place (out == base) gives the same bytes as into a separate buffer. */
static void test_delta_v1_and_in_place(void **state)
{
    (void)state;
    size_t n = 3 * 1048576 + 77; /* several chunks and a tail */
    uint8_t *a = malloc(n), *b = malloc(n), *c = malloc(n);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    uint64_t st = 99;
    for (size_t i = 0; i < n; i++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        a[i] = (uint8_t)(st >> 56);
        b[i] = i % 4093 == 0 ? (uint8_t)(a[i] ^ 0x5a) : a[i];
    }
    char err[256];
    size_t l1 = 0;
    uint8_t *d1 = v1_delta(a, b, n, &l1);
    uint8_t *out = NULL;
    assert_int_equal(fwl_delta_apply(a, n, d1, l1, &out, err, sizeof(err)), 0);
    assert_memory_equal(out, b, n);
    free(out);
    d1[29] = 1; /* v1's reserved word */
    assert_int_equal(fwl_delta_apply(a, n, d1, l1, &out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "corrupt delta"));
    d1[29] = 0;
    d1[24] ^= 1; /* v1's adler32 */
    assert_int_equal(fwl_delta_apply(a, n, d1, l1, &out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "checksum mismatch"));
    d1[24] ^= 1;
    /* version 2, in place */
    uint8_t *d2 = NULL;
    size_t l2 = 0;
    assert_int_equal(fwl_delta_encode_v2(a, b, n, FWL_DELTA_LEVEL, &d2, &l2), 0);
    assert_int_equal(fwl_delta_version(d2, l2), 2);
    memcpy(c, a, n);
    assert_int_equal(fwl_delta_apply_into(c, c, n, d2, l2, err, sizeof(err)), 0);
    assert_memory_equal(c, b, n);
    /* the v1 delta in place as well, and back (XOR is its own inverse: a delta b->a applies to b) */
    memcpy(c, a, n);
    assert_int_equal(fwl_delta_apply_into(c, c, n, d1, l1, err, sizeof(err)), 0);
    assert_memory_equal(c, b, n);
    /* a version-2 delta in place through the root-keeping entry: applied, and the root is no longer known */
    fwl_wroot root = {12345, true};
    memcpy(c, a, n);
    assert_int_equal(fwl_delta_apply_inplace(c, n, &root, d2, l2, err, sizeof(err)), 0);
    assert_memory_equal(c, b, n);
    assert_false(root.known);
    /* encode_advance: the same bytes as encode, prev ends up equal to cur, and the root follows it (computed
     * when unknown, carried when known) */
    uint8_t *d3 = NULL, *d4 = NULL;
    size_t l3 = 0, l4 = 0;
    assert_int_equal(fwl_delta_encode(a, b, n, FWL_DELTA_LEVEL, &d4, &l4), 0);
    memcpy(c, a, n);
    root.known = false;
    assert_int_equal(fwl_delta_encode_advance(c, b, n, FWL_DELTA_LEVEL, &root, &d3, &l3), 0);
    assert_int_equal(l3, l4);
    assert_memory_equal(d3, d4, l4);
    assert_memory_equal(c, b, n);
    assert_true(root.known);
    assert_true(root.sum == fwl_weights_root(b, n));
    free(d3);
    memcpy(c, b, n);
    root.sum = fwl_weights_root(b, n); /* known: the base's root is taken as given, the output is the same */
    assert_int_equal(fwl_delta_encode_advance(c, a, n, FWL_DELTA_LEVEL, &root, &d3, &l3), 0);
    assert_true(root.sum == fwl_weights_root(a, n));
    free(d3);
    free(d4);
    d2[8] = 4;
    assert_int_equal(fwl_delta_apply_into(a, c, n, d2, l2, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "unsupported version 4"));
    free(d1);
    free(d2);
    free(a);
    free(b);
    free(c);
}

static uint8_t *rand_buf(size_t n, uint64_t seed)
{
    uint8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (uint8_t)(seed >> 56);
    }
    return p;
}

/* b = a with one byte flipped in each listed chunk (at a position that varies with the chunk). */
static uint8_t *changed_copy(const uint8_t *a, size_t n, const size_t *chunks, size_t k)
{
    uint8_t *b = malloc(n);
    assert_non_null(b);
    memcpy(b, a, n);
    for (size_t i = 0; i < k; i++) {
        size_t pos = chunks[i] * FWL_DELTA_CHUNK_BYTES + (chunks[i] * 131) % FWL_DELTA_CHUNK_BYTES;
        if (pos >= n)
            pos = n - 1;
        b[pos] ^= 0x10;
    }
    return b;
}

/* Encodes a -> b, checks the version-3 layout (changed-chunk count), applies it both ways (into a copy, in
 * place with the root) and returns the delta. */
static uint8_t *sparse_roundtrip(const uint8_t *a, const uint8_t *b, size_t n, uint32_t want_changed, size_t *dl)
{
    uint8_t *d = NULL;
    assert_int_equal(fwl_delta_encode(a, b, n, FWL_DELTA_LEVEL, &d, dl), 0);
    assert_int_equal(fwl_delta_version(d, *dl), 3);
    uint32_t nchg = (uint32_t)d[44] | (uint32_t)d[45] << 8 | (uint32_t)d[46] << 16 | (uint32_t)d[47] << 24;
    assert_int_equal(nchg, want_changed);
    char err[256];
    uint8_t *out = NULL;
    assert_int_equal(fwl_delta_apply(a, n, d, *dl, &out, err, sizeof(err)), 0);
    assert_memory_equal(out, b, n);
    /* in place, the root known: the result's root comes back without reading the unchanged chunks */
    memcpy(out, a, n);
    fwl_wroot root = {fwl_weights_root(a, n), true};
    assert_int_equal(fwl_delta_apply_inplace(out, n, &root, d, *dl, err, sizeof(err)), 0);
    assert_memory_equal(out, b, n);
    assert_true(root.known);
    assert_true(root.sum == fwl_weights_root(b, n));
    uint64_t br = 0, tr = 0;
    assert_int_equal(fwl_delta_roots(d, *dl, n, &br, &tr, err, sizeof(err)), 0);
    assert_true(br == fwl_weights_root(a, n));
    assert_true(tr == fwl_weights_root(b, n));
    free(out);
    return d;
}

/* Version 3: only changed chunks travel (sparse, dense, first and last chunk, a short last chunk, nothing), both
 * roots are checked (a wrong base anywhere, a corrupted chunk, a truncated file), a failed in-place apply leaves
 * the weights untouched, and a prepared patch reproduces the target. */
static void test_delta_sparse(void **state)
{
    (void)state;
    const size_t C = FWL_DELTA_CHUNK_BYTES;
    size_t n = 300 * C + 123; /* 301 chunks, the last one short */
    uint8_t *a = rand_buf(n, 7);
    char err[256];
    size_t dl = 0;

    /* sparse: 3 chunks in the middle; the delta is small */
    size_t mid[] = {17, 150, 151};
    uint8_t *b = changed_copy(a, n, mid, 3);
    uint8_t *d = sparse_roundtrip(a, b, n, 3, &dl);
    assert_true(dl < 48 + 3 * 4 + 3 * C);
    free(d);
    /* first and last (short) chunk */
    size_t ends[] = {0, 300};
    uint8_t *e = changed_copy(a, n, ends, 2);
    d = sparse_roundtrip(a, e, n, 2, &dl);
    free(d);
    /* dense: every chunk */
    uint8_t *f = rand_buf(n, 8);
    d = sparse_roundtrip(a, f, n, 301, &dl);
    free(d);
    free(f);
    /* nothing changed */
    d = sparse_roundtrip(a, a, n, 0, &dl);
    free(d);

    /* a wrong base that differs only in a chunk the delta does not touch: the base root catches it */
    d = sparse_roundtrip(a, b, n, 3, &dl);
    size_t other[] = {99};
    uint8_t *wrong = changed_copy(a, n, other, 1);
    uint8_t *out = NULL;
    assert_int_equal(fwl_delta_apply(wrong, n, d, dl, &out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "checksum mismatch"));
    assert_null(out);
    /* in place with its (true) root: refused, and the weights are untouched */
    uint8_t *w = malloc(n);
    assert_non_null(w);
    memcpy(w, wrong, n);
    fwl_wroot root = {fwl_weights_root(wrong, n), true};
    assert_int_equal(fwl_delta_apply_inplace(w, n, &root, d, dl, err, sizeof(err)), -1);
    assert_memory_equal(w, wrong, n);
    /* a base that differs in a changed chunk, even when the caller vouches for the base root */
    size_t touched[] = {150};
    uint8_t *wrong2 = changed_copy(a, n, touched, 1);
    wrong2[150 * C + 7] ^= 1;
    fwl_delta_patch p;
    fwl_wroot vouched = {0, true};
    assert_int_equal(fwl_delta_roots(d, dl, n, &vouched.sum, NULL, err, sizeof(err)), 0);
    assert_int_equal(fwl_delta_patch_prepare(wrong2, n, &vouched, d, dl, &p, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "checksum mismatch"));
    assert_null(p.data);
    /* the right base, vouched for: the patch is the target's changed chunks */
    assert_int_equal(fwl_delta_patch_prepare(a, n, &vouched, d, dl, &p, err, sizeof(err)), 0);
    assert_int_equal(p.n, 3);
    memcpy(w, a, n);
    fwl_delta_patch_apply(&p, w);
    assert_memory_equal(w, b, n);
    assert_true(p.root == fwl_weights_root(b, n));
    fwl_delta_patch_free(&p);
    free(wrong2);
    free(wrong);

    /* corrupted: every byte of the header, index and frame in turn (a sample), truncated at every length
     * (a sample), trailing bytes; the base stays intact */
    uint8_t *c = malloc(dl + 4);
    assert_non_null(c);
    memcpy(c, d, dl);
    for (size_t at = 8; at < dl; at += (at < 80 ? 1 : dl / 40 + 1)) {
        if (at >= 12 && at < 16)
            continue; /* the zstd level is informational */
        c[at] ^= 0x21;
        memcpy(w, a, n);
        root.sum = fwl_weights_root(a, n);
        root.known = true;
        int rc = fwl_delta_apply_inplace(w, n, &root, c, dl, err, sizeof(err));
        c[at] ^= 0x21;
        if (rc != -1)
            fail_msg("a flipped byte at %zu of %zu was accepted", at, dl);
        assert_true(strstr(err, "corrupt delta") || strstr(err, "checksum mismatch") || strstr(err, "length mismatch"));
        assert_memory_equal(w, a, n);
    }
    for (size_t cut = 0; cut < dl; cut += (cut < 64 ? 1 : dl / 30 + 1))
        assert_int_equal(fwl_delta_apply(a, n, c, cut, &out, err, sizeof(err)), -1);
    memset(c + dl, 0, 4);
    assert_int_equal(fwl_delta_apply(a, n, c, dl + 4, &out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "corrupt delta"));
    /* a chunk index out of range, and out of order */
    memcpy(c, d, dl);
    c[48] = 0xff;
    c[49] = 0xff;
    assert_int_equal(fwl_delta_apply(a, n, c, dl, &out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "chunk index"));
    memcpy(c, d, dl);
    memcpy(c + 52, d + 48, 4); /* second index = first */
    assert_int_equal(fwl_delta_apply(a, n, c, dl, &out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "chunk index"));
    /* wrong length */
    assert_int_equal(fwl_delta_apply(a, n - 1, d, dl, &out, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "length mismatch"));
    /* still intact */
    assert_int_equal(fwl_delta_apply(a, n, d, dl, &out, err, sizeof(err)), 0);
    assert_memory_equal(out, b, n);
    free(out);
    free(c);
    free(d);

    /* a chain a -> b -> e in place, the root carried from an unknown start */
    d = NULL;
    uint8_t *d2 = NULL;
    size_t dl2 = 0;
    assert_int_equal(fwl_delta_encode(a, b, n, FWL_DELTA_LEVEL, &d, &dl), 0);
    assert_int_equal(fwl_delta_encode(b, e, n, FWL_DELTA_LEVEL, &d2, &dl2), 0);
    memcpy(w, a, n);
    root.known = false;
    assert_int_equal(fwl_delta_apply_inplace(w, n, &root, d, dl, err, sizeof(err)), 0);
    assert_int_equal(fwl_delta_apply_inplace(w, n, &root, d2, dl2, err, sizeof(err)), 0);
    assert_memory_equal(w, e, n);
    assert_true(root.known && root.sum == fwl_weights_root(e, n));
    /* the second delta again (its base is b, the weights are e now): refused by the root */
    assert_int_equal(fwl_delta_apply_inplace(w, n, &root, d2, dl2, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "wrong base"));
    free(d);
    free(d2);

    /* empty weights */
    uint8_t *z = NULL, *zo = NULL;
    size_t zl = 0;
    assert_int_equal(fwl_delta_encode(NULL, NULL, 0, FWL_DELTA_LEVEL, &z, &zl), 0);
    assert_int_equal(fwl_delta_apply(NULL, 0, z, zl, &zo, err, sizeof(err)), 0);
    free(zo);
    free(z);
    free(w);
    free(e);
    free(b);
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xor),
        cmocka_unit_test(test_delta_chain),
        cmocka_unit_test(test_delta_v1_and_in_place),
        cmocka_unit_test(test_delta_sparse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
