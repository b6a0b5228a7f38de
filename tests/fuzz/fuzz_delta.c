/*
 * fwtrain-local's sampler deltas (server/delta.c, server/delta_sparse.c): every version the appliers read.
 *
 * Input: byte 0 picks the weights' length (0 to 20 chunks, short last chunks included), byte 1 the mode:
 *  - even: the rest is a delta file, applied to fixed base weights;
 *  - odd: the rest edits the base into a target (pairs of position and value, up to a 0xff 0xff pair), the pair
 *    is encoded (version 3, or version 2 when bit 1 is set), then the last 3 input bytes flip one byte of the file
 *    (offset, xor; xor 0: none). So the fuzzer starts from real deltas and damages them anywhere.
 * Properties: no crash, leak or undefined behaviour; a failure says why; a delta that applies gives the same bytes
 * through every entry (into a new buffer, in place with and without the root, a prepared patch); a version-3
 * delta that fails in place leaves the weights untouched; in the odd mode, whatever applies gives the target.
 */
#include "fuzz.h"

#include "model.h"

static const size_t lens[] = {0, 1, 100, 4095, 4096, 4097, 3 * 4096 + 77, 20 * 4096};

static void fill_base(uint8_t *b, size_t n)
{
    uint64_t st = 12345;
    for (size_t i = 0; i < n; i++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        b[i] = (uint8_t)(st >> 56);
    }
}

/* Applies d to base through every entry; the result (malloc'd) or NULL when it does not apply. */
static uint8_t *apply_all(const uint8_t *base, size_t n, const uint8_t *d, size_t dl)
{
    char err[256] = "";
    uint8_t *out = NULL;
    int rc = fwl_delta_apply(base, n, d, dl, &out, err, sizeof err);
    FUZZ_CHECK(rc == 0 || rc == -1);
    FUZZ_CHECK(rc == 0 ? out != NULL : out == NULL && err[0] != 0);
    uint8_t *w = malloc(n ? n : 1);
    if (!w)
        abort();
    int ver = fwl_delta_version(d, dl);
    /* in place, the root known (version 3 then trusts it and reads only the changed chunks) */
    memcpy(w, base, n);
    fwl_wroot root = {fwl_weights_root(base, n), true};
    err[0] = 0;
    int rc2 = fwl_delta_apply_inplace(w, n, &root, d, dl, err, sizeof err);
    FUZZ_CHECK(rc2 == rc);
    if (rc2 == 0) {
        FUZZ_CHECK(memcmp(w, out, n) == 0);
        FUZZ_CHECK(ver == 3 ? root.known && root.sum == fwl_weights_root(out, n) : !root.known);
    } else {
        FUZZ_CHECK(err[0] != 0);
        if (ver == 3)
            FUZZ_CHECK(memcmp(w, base, n) == 0);
    }
    /* a patch with the base root vouched for by the delta itself */
    uint64_t br = 0, tr = 0;
    err[0] = 0;
    if (fwl_delta_roots(d, dl, n, &br, &tr, err, sizeof err) == 0) {
        FUZZ_CHECK(ver == 3);
        fwl_wroot vouched = {br, true};
        fwl_delta_patch p;
        if (fwl_delta_patch_prepare(base, n, &vouched, d, dl, &p, err, sizeof err) == 0) {
            FUZZ_CHECK(p.root == tr && p.len == n);
            memcpy(w, base, n);
            fwl_delta_patch_apply(&p, w);
            /* the root moved exactly as the header says (the base's own root is what was vouched for) */
            FUZZ_CHECK(fwl_weights_root(w, n) - fwl_weights_root(base, n) == tr - br);
            if (rc == 0)
                FUZZ_CHECK(memcmp(w, out, n) == 0);
            fwl_delta_patch_free(&p);
        } else {
            FUZZ_CHECK(err[0] != 0 && p.data == NULL && p.idx == NULL);
        }
    } else {
        FUZZ_CHECK(err[0] != 0);
    }
    free(w);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t n = lens[data[0] % (sizeof lens / sizeof lens[0])];
    uint8_t mode = data[1];
    data += 2;
    size -= 2;
    uint8_t *base = malloc(n ? n : 1);
    if (!base)
        abort();
    fill_base(base, n);
    if (!(mode & 1)) {
        free(apply_all(base, n, data, size));
        free(base);
        return 0;
    }
    uint8_t *target = malloc(n ? n : 1);
    if (!target)
        abort();
    memcpy(target, base, n);
    size_t i = 0;
    for (; i + 3 <= size && n; i += 3) {
        if (data[i] == 0xff && data[i + 1] == 0xff)
            break;
        size_t pos = ((size_t)data[i] << 8 | data[i + 1]) * 37 % n;
        target[pos] = data[i + 2];
    }
    uint8_t *d = NULL;
    size_t dl = 0;
    int rc = (mode & 2) ? fwl_delta_encode_v2(base, target, n, FWL_DELTA_LEVEL, &d, &dl)
                        : fwl_delta_encode(base, target, n, FWL_DELTA_LEVEL, &d, &dl);
    FUZZ_CHECK(rc == 0);
    if (size >= 3 && dl) {
        size_t at = ((size_t)data[size - 3] << 8 | data[size - 2]) % dl;
        d[at] ^= data[size - 1];
    }
    uint8_t *out = apply_all(base, n, d, dl);
    if (out)
        FUZZ_CHECK(memcmp(out, target, n) == 0);
    else if (size < 3 || data[size - 1] == 0)
        FUZZ_CHECK(0); /* an undamaged delta must apply */
    free(out);
    free(d);
    free(target);
    free(base);
    return 0;
}
