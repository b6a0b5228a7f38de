/* Random identifiers and small string helpers. */
#include <string.h>

#include <openssl/rand.h>

#include "fwt_util.h"

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
    if (RAND_bytes(b, sizeof b) != 1)
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
