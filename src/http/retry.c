/* Retry classification and backoff ceilings (docs/protocol.md §2.3, docs/internals.md reliability §1). */
#include "http/engine_int.h"
#include "fwtrain/common.h"

int fwt__retry_retryable(const fwt__retry_policy *p, const fwt__http_result *res, int conn_class)
{
    uint32_t on = p->on;
    if (!on)
        return 0;
    if (res->status != FWT_OK)
        return conn_class && (on & FWT__RETRY_CONN);
    long s = res->http_status;
    switch (s) {
    case 408:
        return (on & FWT__RETRY_408) != 0;
    case 409:
        return (on & FWT__RETRY_409) != 0;
    case 429:
        return (on & FWT__RETRY_429) != 0;
    case 400:
        /* An empty 400 comes from a proxy, not the API (docs/protocol.md §2.3, §11.6). */
        return res->body_len == 0 && (on & FWT__RETRY_EMPTY_400);
    case 500:
    case 502:
    case 503:
    case 504:
        return (on & (FWT__RETRY_5XX_COMMON | FWT__RETRY_5XX_ANY)) != 0;
    default:
        return s >= 500 && s <= 599 && (on & FWT__RETRY_5XX_ANY);
    }
}

void fwt__retry_backoff_init(const fwt__retry_policy *p, fwt__backoff *b)
{
    int64_t base = p->base_ms > 0 ? p->base_ms : 500;
    int64_t cap = p->cap_ms > 0 ? p->cap_ms : 30000;
    fwt__backoff_init_full(b, base < cap ? base : cap, cap);
}

uint64_t fwt__backoff_ceiling(const fwt__retry_policy *p, int n)
{
    fwt__backoff b;
    fwt__retry_backoff_init(p, &b);
    for (int i = 0; i < n && b.ceiling_ms < b.cap_ms; i++)
        fwt__backoff_advance(&b);
    return (uint64_t)b.ceiling_ms;
}

int64_t fwt__retry_budget(const fwt__retry_policy *p, int64_t deadline_ms)
{
    if (p->budget_ms > 0)
        return p->budget_ms;
    /* Nothing else bounds the retries: fall back to the reference clients' 300 s. */
    if (p->max_attempts <= 0 && deadline_ms <= 0)
        return 300000;
    return 0;
}
