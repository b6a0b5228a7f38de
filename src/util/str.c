/* Random identifiers and small string helpers. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <openssl/rand.h>

#include "fwt_util.h"

/* Every request that may be retried gets an idempotency key, and one RAND_bytes call costs about as much for
 * 16 bytes as for 1 KiB (several microseconds: more than building the rest of a small request). So each thread
 * draws 1 KiB at a time and hands it out 16 bytes per key. A forked child must never hand out the unspent bytes
 * its parent will also use (the same key from two processes), so a fork empties every pool through a
 * generation counter bumped in the child. */
#define FWT__KEY_POOL 1024

static atomic_uint g_fork_gen;
static pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;
static _Thread_local struct {
    unsigned char bytes[FWT__KEY_POOL];
    size_t left;
    unsigned gen;
} t_pool;

static void pool_on_fork_child(void) { atomic_fetch_add(&g_fork_gen, 1); }

static void pool_register_atfork(void) { pthread_atfork(NULL, NULL, pool_on_fork_child); }

/* n (<= FWT__KEY_POOL) random bytes from this thread's pool. 0, or -1 when the generator fails. */
static int pool_take(unsigned char *out, size_t n)
{
    pthread_once(&g_atfork_once, pool_register_atfork);
    unsigned gen = atomic_load(&g_fork_gen);
    if (t_pool.gen != gen) {
        t_pool.left = 0;
        t_pool.gen = gen;
    }
    if (t_pool.left < n) {
        if (RAND_bytes(t_pool.bytes, FWT__KEY_POOL) != 1)
            return -1;
        t_pool.left = FWT__KEY_POOL;
    }
    unsigned char *src = t_pool.bytes + FWT__KEY_POOL - t_pool.left;
    memcpy(out, src, n);
    memset(src, 0, n); /* a handed-out key is not kept twice */
    t_pool.left -= n;
    return 0;
}

int fwt__random_hex(char *out, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char buf[64];
    if (nbytes > sizeof buf)
        return FWT_EINVAL;
    if (RAND_bytes(buf, (int)nbytes) != 1)
        return FWT_EIO;
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hex[buf[i] >> 4];
        out[2 * i + 1] = hex[buf[i] & 15];
    }
    out[2 * nbytes] = '\0';
    return FWT_OK;
}

int fwt__uuid4(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    if (pool_take(b, sizeof b) != 0)
        return FWT_EIO;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
    return FWT_OK;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

char *fwt__strtrim_dup(const char *s)
{
    if (!s)
        return NULL;
    while (is_space(*s))
        s++;
    size_t n = strlen(s);
    while (n && is_space(s[n - 1]))
        n--;
    return fwt__strndup(s, n);
}

int fwt__check_id(const char *arg, const char *value)
{
    if (!value || !*value)
        return fwt__last_set(FWT_EINVAL, "%s is required", arg);
    size_t n = strlen(value);
    if (n > 63)
        return fwt__last_set(FWT_EINVAL, "%s is longer than 63 characters", arg);
    for (size_t i = 0; i < n; i++) {
        char ch = value[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
            return fwt__last_set(FWT_EINVAL, "%s \"%.80s\" may only contain lowercase letters, digits and '-'", arg,
                                 value);
    }
    return FWT_OK;
}
