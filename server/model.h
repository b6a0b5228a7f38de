/*
 * fwtrain-local's model: a small, real byte-level language model that sees
 * the last two bytes.
 *
 *   ctx(i) = (tokens[i-1] or 0 when i == 0) * 256 + tokens[i]
 *   e = E[tokens[i]] + C[ctx(i)]      E: 256 x D ("embed.weight"), C: 65536 x D ("context.weight")
 *   h = tanh(W1 e + b1)               W1: D x D    ("hidden.weight"), b1: D ("hidden.bias")
 *   logits = W2 h + b2                W2: 256 x D  ("lm_head.weight"), b2: 256 ("lm_head.bias")
 *   p(next | prev, token) = softmax(logits)
 *
 * All parameters live in one contiguous float32 buffer in the order
 * E, C, W1, b1, W2, b2, row-major, so a sampler snapshot is exactly these
 * bytes and a delta is the XOR of two such buffers. The context table is most
 * of the model and only the rows a batch touches move in a step (Adam with
 * zero gradient leaves a weight bit-identical when weight_decay is 0), which
 * is what makes XOR deltas compress the way the service's do.
 * Everything is single-threaded and summed in a fixed order, so results are
 * bit-for-bit deterministic for a given seed and input: a deployment's
 * logprobs equal the trainer's exactly.
 */
#ifndef FWL_MODEL_H
#define FWL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FWL_VOCAB 256

typedef struct fwl_tensor {
    const char *name;   /* "embed.weight", "context.weight", "hidden.weight", "hidden.bias", "lm_head.weight", "lm_head.bias" */
    size_t offset;      /* in floats, into fwl_model.w */
    size_t rows, cols;  /* cols = 0 for a vector (shape [rows]) */
} fwl_tensor;

typedef struct fwl_model {
    int dim;            /* D */
    size_t n_params;
    float *w;           /* n_params floats */
} fwl_model;

typedef struct fwl_adam_params {
    double lr, beta1, beta2, eps, weight_decay, grad_clip_norm;
} fwl_adam_params;

typedef struct fwl_adam {
    size_t n;
    float *m, *v;       /* first and second moments */
    int64_t step;
} fwl_adam;

#define FWL_CONTEXTS (FWL_VOCAB * FWL_VOCAB)
#define FWL_TENSORS 6
/* Largest dim accepted by init and the decoders (keeps sizes far from overflow; ~1 GiB of weights). */
#define FWL_MAX_DIM 4096

/* Their layout for a given dim (FWL_TENSORS entries). */
void fwl_model_tensors(int dim, fwl_tensor out[FWL_TENSORS]);
size_t fwl_model_param_count(int dim);

/* Deterministic init from seed (small uniform weights, zero biases). 0 on success, -1 on OOM / dim < 1. */
int fwl_model_init(fwl_model *m, int dim, uint64_t seed);
int fwl_model_copy(fwl_model *dst, const fwl_model *src);
void fwl_model_free(fwl_model *m);
/* Zero-filled weights for dim (what the decoders use). 0 ok, -1 on OOM / dim out of 1..FWL_MAX_DIM.
 * Like init, copy and the decoders, *m (dst) is output only: it is overwritten, never freed, so pass
 * an unused or already freed struct. fwl_model_free accepts NULL and is idempotent. */
int fwl_model_alloc(fwl_model *m, int dim);
/* A buffer for dim in *m, which may already hold weights (or be zeroed): kept when it has that dim (contents
 * left as they are, to be overwritten), else freed and allocated anew. 0 ok, -1 as fwl_model_alloc. */
int fwl_model_fit(fwl_model *m, int dim);

/*
 * One sequence: position i predicts targets[i] from ctx(i) (tokens[i-1], tokens[i]).
 * logprobs_out (n floats, may be NULL) receives log p(targets[i] | tokens[i]).
 * If grad != NULL (n_params floats) the gradient of sum_i weights[i] * -logprob_i
 * is ADDED to it. Returns that weighted loss sum. Tokens outside 0..255 → returns NAN.
 */
double fwl_model_forward(const fwl_model *m, const int64_t *tokens, const int64_t *targets, const float *weights,
                         size_t n, float *logprobs_out, float *grad);

/*
 * The general form: the loss is a sum over positions of loss_fn(ud, i, lp_i, &dlp_i), where lp_i is
 * log p(targets[i] | tokens[i-1], tokens[i]) and dlp_i the loss's derivative with respect to it (loss.h).
 * Returns the summed loss; logprobs_out and grad as in fwl_model_forward (grad += d loss / d weights).
 * fwl_model_forward is this with the weighted cross-entropy term, bit for bit.
 */
typedef double (*fwl_token_loss_fn)(void *ud, size_t i, double lp, double *dlp);
double fwl_model_forward_loss(const fwl_model *m, const int64_t *tokens, const int64_t *targets, size_t n,
                              fwl_token_loss_fn loss_fn, void *ud, float *logprobs_out, float *grad);

/* Floats of scratch fwl_model_next_logits needs for a model of this dim (0 for dim < 1). */
size_t fwl_model_scratch_len(int dim);
/* The next-token logits after (prev, cur) (prev = 0 at the first position) and their log-sum-exp, by the
 * same arithmetic as the trainer: logits[t] - *lse is bit-identical to fwl_model_forward's logprob of t.
 * The returned pointer is inside scratch (fwl_model_scratch_len floats); NULL on bad arguments. */
const float *fwl_model_next_logits(const fwl_model *m, int64_t prev, int64_t cur, float *scratch, float *lse);

/* Log-probabilities of each prompt token given the two before it: out[0] = 0 (no context),
 * out[i] = log p(p[i] | p[i-2] or 0, p[i-1]) — exactly what fwl_model_forward gives for
 * tokens = p[0..n-2], targets = p[1..n-1]. */
void fwl_model_prompt_logprobs(const fwl_model *m, const int64_t *prompt, size_t n, float *out);

int fwl_adam_init(fwl_adam *a, size_t n);        /* zero moments, step 0 */
void fwl_adam_reset(fwl_adam *a);                /* zero moments, step 0 (load without optimizer) */
void fwl_adam_free(fwl_adam *a);
/* Apply one Adam step with grad (then zero grad). Deterministic. Returns the pre-clip grad L2 norm.
 * Semantics (AdamW, bias-corrected, global step count): grad is clipped to grad_clip_norm when that is
 * > 0; a weight whose (clipped) gradient is exactly 0 keeps its moments unchanged and gets no Adam
 * update (sparse-Adam rule, so untouched embedding rows stay bit-identical); decoupled weight decay
 * w -= lr * weight_decay * w applies to every weight when weight_decay != 0.
 * A non-finite norm (NaN/inf gradient) leaves weights, moments and step untouched, zeroes grad and
 * returns the norm; bad arguments (size mismatch, NULL) touch nothing and return NaN. */
double fwl_adam_step(fwl_model *m, fwl_adam *a, float *grad, const fwl_adam_params *p);
/* Tinker's defaults (docs/protocol.md §4.9): lr 1e-4, betas .9/.95, eps 1e-12, no decay, no clipping. */
fwl_adam_params fwl_adam_defaults(void);

/* ---- serialisation (server/serialize.c) ---------------------------------- */

/* safetensors: 8-byte LE header length, JSON header naming dtype "F32", shape and data_offsets
 * for each tensor (plus "__metadata__": {"format":"fwtrain-local","dim":"D"}), then the raw floats. */
/* *out is malloc'd (free with free()); the same dim always gives the same header, so two snapshots of
 * one model have equal length and XOR cleanly. 0 ok, -1 on bad model / OOM. */
int fwl_safetensors_encode(const fwl_model *m, uint8_t **out, size_t *out_len);
/* Validates everything (header size, JSON, dtypes, shapes, offsets, total length). 0 ok, -1 with err text.
 * *m is output only (allocated on success, zeroed on failure). */
int fwl_safetensors_decode(fwl_model *m, const uint8_t *buf, size_t len, char *err, size_t errlen);
/* The same into *m as it is: an allocated model of the snapshot's dim is overwritten in place (no allocation;
 * what a replica's recycled buffer needs), anything else is (re)allocated. On failure *m may hold garbage. */
int fwl_safetensors_decode_into(fwl_model *m, const uint8_t *buf, size_t len, char *err, size_t errlen);
/* The header alone (8-byte length + padded JSON) into out (cap bytes; 2 KiB is enough): the file is this
 * header followed by m->w as is, so it can be written straight from the weights. 0 ok, -1 bad model / small cap. */
int fwl_safetensors_header(const fwl_model *m, uint8_t *out, size_t cap, size_t *out_len);

/* DCP checkpoint: weights + Adam moments + step, with a magic, a version and a CRC. */
int fwl_dcp_encode(const fwl_model *m, const fwl_adam *a, uint8_t **out, size_t *out_len);
/* a may be NULL in encode (moments written as zero, step 0) and in decode (weights only).
 * Decode: *m and *a are output only (allocated on success, zeroed on failure); -1 with err text on a
 * bad magic/version/length or a CRC mismatch. */
int fwl_dcp_decode(fwl_model *m, fwl_adam *a, const uint8_t *buf, size_t len, char *err, size_t errlen);

/* ---- deltas (server/delta.c) ---------------------------------------------- */

/* adler32 of a buffer (zlib). */
uint32_t fwl_adler32(const uint8_t *buf, size_t len);
/* dst[i] = a[i] ^ b[i] over len bytes; word-wise fast path. dst may be a or b (in place). */
void fwl_xor(uint8_t *dst, const uint8_t *a, const uint8_t *b, size_t len);

/* The zstd level of sampler deltas: measured fastest for equal size on XOR deltas of this model (bench/server). */
#define FWL_DELTA_LEVEL 1

/* Deltas are cut into chunks of this many bytes; a version-3 delta carries only the chunks that changed. */
#define FWL_DELTA_CHUNK_BYTES 4096u

/* The content root of a weights buffer: the sum mod 2^64 of XXH3-64 (seeded with the chunk index) over its
 * 4 KiB chunks (server/delta_sparse.c explains why a sum). known = false: not computed yet. */
typedef struct fwl_wroot {
    uint64_t sum;
    bool known;
} fwl_wroot;
/* The root of len bytes (one read of them). */
uint64_t fwl_weights_root(const uint8_t *w, size_t len);

/*
 * Delta file, version 3 (server/delta_sparse.c): a 48-byte header (magic, version, zstd level, raw length, root
 * of the base, root of the target, chunk size, number of changed chunks), their indices, and one zstd frame of
 * the XOR of those chunks. prev and cur have equal length. *out is malloc'd (free with free()). 0 ok, -1 on bad
 * arguments / level / OOM. Versions 1 and 2 (zstd of the whole XOR + a checksum of the target) are still read.
 */
int fwl_delta_encode(const uint8_t *prev, const uint8_t *cur, size_t len, int zstd_level, uint8_t **out,
                     size_t *out_len);
/* The same, and prev becomes cur on the way (only the chunks that differ are written): the trainer's "previous
 * snapshot" advances without a full copy. root (may be NULL): prev's root when known (else it is computed in the
 * same pass), and cur's root on return. On failure prev is partly advanced (discard it and root). */
int fwl_delta_encode_advance(uint8_t *prev, const uint8_t *cur, size_t len, int zstd_level, fwl_wroot *root,
                             uint8_t **out, size_t *out_len);
/* A version-2 delta (zstd of the whole XOR + XXH3 of the target), as servers before version 3 wrote them: kept
 * so tests and benchmarks can check those files still load. */
int fwl_delta_encode_v2(const uint8_t *prev, const uint8_t *cur, size_t len, int zstd_level, uint8_t **out,
                        size_t *out_len);
/* The version of a delta file (1, 2 or 3), or -1 when it is not one. */
int fwl_delta_version(const uint8_t *delta, size_t delta_len);
/* A version-3 delta's header checked against len bytes of weights, and its base and target roots. 0, or -1 with
 * err (also for versions 1 and 2, which carry no roots). */
int fwl_delta_roots(const uint8_t *delta, size_t delta_len, size_t len, uint64_t *base_root, uint64_t *target_root,
                    char *err, size_t errlen);

/* A version-3 delta decoded against some weights without writing them: the new contents of its changed chunks,
 * already checked (fwl_delta_patch_prepare). */
typedef struct fwl_delta_patch {
    size_t len;       /* weights bytes */
    size_t n;         /* changed chunks */
    uint32_t *idx;    /* their indices, ascending */
    uint8_t *data;    /* their new contents back to back (data_len bytes; the weights' last chunk may be short) */
    size_t data_len;
    uint64_t root;    /* root of the result */
} fwl_delta_patch;
/* Decodes a version-3 delta against w (len bytes; only read) into *p and checks it: w's root (root when known,
 * else computed from w) must be the delta's base root, and the root of the result, derived from the changed
 * chunks, its target root. 0, or -1 with err ("checksum mismatch", "length mismatch", "corrupt delta") and *p
 * empty. */
int fwl_delta_patch_prepare(const uint8_t *w, size_t len, const fwl_wroot *root, const uint8_t *delta,
                            size_t delta_len, fwl_delta_patch *p, char *err, size_t errlen);
/* Writes the patch's chunks into w (the weights it was prepared against, or a copy of them). */
void fwl_delta_patch_apply(const fwl_delta_patch *p, uint8_t *w);
void fwl_delta_patch_free(fwl_delta_patch *p);
/* Any version applied to w in place; root (may be NULL) is w's root when known, and the result's on return
 * (unknown after versions 1 and 2). A version-3 delta that fails leaves w untouched; versions 1 and 2 leave
 * garbage (see fwl_delta_apply_into). 0, or -1 with err. */
int fwl_delta_apply_inplace(uint8_t *w, size_t len, fwl_wroot *root, const uint8_t *delta, size_t delta_len,
                            char *err, size_t errlen);
/* Apply into a caller's buffer: out = base XOR unzstd(delta), len bytes; out may be base (in place) but must not
 * overlap it otherwise. Verifies the raw length == len, the zstd frame (content size, no trailing bytes) and the
 * checksum of the result or, for version 3, both roots (a wrong base fails here; the root of base is computed).
 * On failure out holds garbage (in place, base is lost; a version-3 delta leaves it untouched).
 * 0 ok, -1 with err text ("checksum mismatch", "length mismatch", "corrupt delta"). */
int fwl_delta_apply_into(const uint8_t *base, uint8_t *out, size_t len, const uint8_t *delta, size_t delta_len,
                         char *err, size_t errlen);
/* The same into a fresh malloc'd *out (free with free()), NULL on failure. */
int fwl_delta_apply(const uint8_t *base, size_t base_len, const uint8_t *delta, size_t delta_len, uint8_t **out,
                    char *err, size_t errlen);

#endif /* FWL_MODEL_H */
