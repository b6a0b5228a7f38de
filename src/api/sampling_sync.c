/*
 * fwt_sample_result: the blocking twin of fwt_sample, performed on the
 * calling thread (no hand-off to the worker: one sequential sample costs one
 * round trip), with the same retries, the same 404/425 hotload retries and
 * the same decoding.
 */
#include <stdio.h>
#include <time.h>

#include "api/jobs_internal.h"
#include "api/sampling_internal.h"

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

int fwt_sample_result(fwt_completion **out, fwt_client *client, const char *deployment_id,
                      const fwt_sample_request *req, int64_t timeout_ms)
{
    if (out)
        *out = NULL;
    if (timeout_ms < -1)
        return fwt__last_set(FWT_EINVAL, "fwt_sample_result: timeout_ms must be -1, 0 or > 0");
    fwt__sample_spec s;
    int rc = fwt__sample_prepare(&s, client, deployment_id, req, "fwt_sample_result");
    if (rc)
        return rc;
    fwt__engine *eng = fwt__client_engine(client);
    uint64_t start = fwt__engine_now_ms(eng);
    uint64_t hl_since = 0;
    int hl_retries = 0;
    char ctx[160];
    snprintf(ctx, sizeof ctx, "completions from deployment \"%s\"", s.deployment_id);
    for (;;) {
        fwt__call call;
        fwt__sample_call(&s, &call);
        int64_t left = -1;
        if (timeout_ms > 0) {
            left = timeout_ms - (int64_t)(fwt__engine_now_ms(eng) - start);
            if (left <= 0) {
                rc = fwt__last_set(FWT_ETIMEDOUT, "%s: no answer within %lld ms", ctx, (long long)timeout_ms);
                break;
            }
            call.deadline_ms = left;
        }
        fwt__reply r;
        rc = fwt__call_sync(client, &call, &r);
        if (rc == FWT_OK) {
            fwt_completion *c = NULL;
            fwt__err e;
            fwt__err_init(&e);
            rc = r.json ? fwt__completion_decode(&c, r.json, &s, &e)
                        : fwt__err_set(&e, FWT_EPROTO, "completions: the response body is not JSON");
            if (rc == FWT_OK) {
                if (out)
                    *out = c;
                else
                    fwt_completion_free(c);
                fwt__last_ok();
            } else {
                fwt__err_set_request_id(&e, r.err.pub.request_id);
                e.pub.http_status = (int32_t)r.http_status;
                e.pub.attempts = r.attempts;
                fwt__last_set_err(&e);
            }
            fwt__err_clear(&e);
            fwt__reply_clear(&r);
            break;
        }
        if (!r.transport_failed && fwt__sample_hotloading(r.http_status)) {
            uint64_t now = fwt__engine_now_ms(eng);
            if (!hl_since)
                hl_since = now ? now : 1;
            int64_t spent = (int64_t)(now - hl_since);
            int64_t wait = s.hl_interval_ms;
            if ((s.hl_timeout_ms < 0 || spent + wait <= s.hl_timeout_ms) && (left < 0 || wait < left)) {
                hl_retries++;
                fwt__log(fwt__client_logger(client), FWT_LOG_INFO,
                         "deployment %s answered HTTP %ld (hotload in progress?): retry %d in %lld ms",
                         s.deployment_id, r.http_status, hl_retries, (long long)wait);
                fwt__reply_clear(&r);
                sleep_ms(wait);
                continue;
            }
        }
        rc = fwt__last_set_reply(&r, ctx);
        fwt__reply_clear(&r);
        break;
    }
    fwt__sample_spec_clear(&s);
    return rc;
}
