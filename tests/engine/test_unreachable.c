/*
 * Fast, explicit failure when the server cannot be reached (README "When the
 * server cannot be reached"): the unreachable budget, the final message
 * ("connection refused to 127.0.0.1:P after N attempts over X s"), the WARN
 * line per retry, and the client option's default of 30 s. Every wait is on
 * the injected clock: nothing here sleeps for the budget. Built twice: through
 * the worker (engine_unreachable) and, with FWT_TEST_DIRECT, through
 * fwt__engine_run on the test's thread (engine_unreachable_direct).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/client_impl.h"
#include "engine_test_util.h"
#include "fwtrain/fwtrain.h"
#include "responder.h"

#define CONTROL_PLANE (FWT__RETRY_408 | FWT__RETRY_429 | FWT__RETRY_5XX_COMMON | FWT__RETRY_CONN)

/* A loopback port nobody listens on: bound then closed, so a connect is refused. */
static int refused_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

typedef struct fx {
    fwt__engine *e;
    fake_clock clk;
    log_cap lc;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    fake_clock_init(&f->clk, 1000000);
    pthread_mutex_init(&f->lc.mu, NULL);
    fwt__engine_config cfg = {.clock = fake_clock_iface(&f->clk), .log = log_sink, .log_ctx = &f->lc,
                              .skip_debug_log = 1};
    assert_int_equal(fwt__engine_new(&f->e, &cfg), FWT_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    fwt__engine_free(f->e);
    fake_clock_destroy(&f->clk);
    pthread_mutex_destroy(&f->lc.mu);
    free(f);
    return 0;
}

static fwt__http_result *perform(fx *f, const fwt__http_spec *s)
{
#ifdef FWT_TEST_DIRECT
    fwt__http_result *res = NULL;
    assert_int_equal(fwt__engine_run(f->e, s, &res), FWT_OK);
    return res;
#else
    waiter w;
    waiter_init(&w);
    uint64_t id = 0;
    assert_int_equal(fwt__engine_submit(f->e, s, waiter_cb, &w, &id), FWT_OK);
    fwt__http_result *res = waiter_wait_safe(&w, f->e, id, 20000);
    assert_non_null(res);
    w.res = NULL; /* ours now */
    waiter_destroy(&w);
    return res;
#endif
}

static size_t count_lines_with(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* Refused port, 5 s unreachable budget, chosen jitter draws: the last attempt starts at 4 s (1 s before the end). */
static void test_refused_within_budget(void **state)
{
    fx *f = *state;
    /* base 1000: ceilings 1000, 2000, 4000, 8000; draws give waits 1000, 1500, 1000, then 3000 (cut to 500). */
    static const uint64_t seq[] = {1000, 1500, 1000, 3000, 3000, 3000};
    f->clk.rnd_seq = seq;
    f->clk.rnd_len = sizeof seq / sizeof seq[0];
    int port = refused_port();
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/accounts", port);
    fwt__http_spec s = {.method = "GET", .url = url,
                        .retry = {.on = CONTROL_PLANE, .base_ms = 1000, .cap_ms = 30000, .budget_ms = 300000,
                                  .unreachable_ms = 5000}};
    fwt__http_result *res = perform(f, &s);
    assert_int_equal(res->status, FWT_ECONNECT);
    assert_int_equal(res->http_status, 0);
    assert_int_equal(f->clk.n_sleeps, 4);
    assert_int_equal(f->clk.sleeps[0], 1000);
    assert_int_equal(f->clk.sleeps[1], 1500);
    assert_int_equal(f->clk.sleeps[2], 1000);
    assert_int_equal(f->clk.sleeps[3], 500); /* cut: the last attempt starts 1 s before the budget ends */
    assert_int_equal(fake_slept(&f->clk), 4000);
    assert_int_equal(res->attempts, (int)f->clk.n_sleeps + 1);
    char want[128];
    snprintf(want, sizeof want, "connection refused to 127.0.0.1:%d after %d attempts over %.1f s", port,
             res->attempts, (double)fake_slept(&f->clk) / 1000.0);
    assert_string_equal(res->message, want);
    assert_null(strstr(res->message, "after 0 ms"));
    /* one WARN line per retry, naming the URL, the wait and the failure */
    assert_int_equal(count_lines_with(f->lc.text, "retrying GET http://127.0.0.1:"), (size_t)res->attempts - 1);
    assert_non_null(strstr(f->lc.text, "in 1.0 s (attempt 1: connection refused to 127.0.0.1:"));
    assert_non_null(strstr(f->lc.text, "in 0.5 s (attempt 4: "));
    fwt__http_result_free(res);
}

/* A name that resolves nowhere (RFC 2606 reserves .invalid): the same budget, the host named. */
static void test_unknown_host(void **state)
{
    fx *f = *state;
    f->clk.rnd = 700; /* waits of 700 ms; the third is cut to 600 ms: the last attempt starts at 2.0 s */
    fwt__http_spec s = {.method = "GET", .url = "https://nonexistent.invalid/v1/accounts",
                        .retry = {.on = CONTROL_PLANE, .base_ms = 1000, .cap_ms = 30000, .unreachable_ms = 3000}};
    fwt__http_result *res = perform(f, &s);
    assert_int_equal(res->status, FWT_ECONNECT);
    assert_int_equal(fake_slept(&f->clk), 2000);
    char want[128];
    snprintf(want, sizeof want, "could not resolve host nonexistent.invalid after %d attempts over 2.0 s", res->attempts);
    assert_string_equal(res->message, want);
    assert_int_equal(res->attempts, (int)f->clk.n_sleeps + 1);
    fwt__http_result_free(res);
}

/* One answer, then the port closes: once the server was reached, the long budget applies. */
typedef struct once_srv {
    int fd;
    int port;
    pthread_t th;
} once_srv;

static void *once_main(void *arg)
{
    once_srv *o = arg;
    int c = accept(o->fd, NULL, NULL);
    close(o->fd); /* before answering: the retry after our 503 finds the port closed */
    if (c >= 0) {
        char buf[4096];
        (void)!read(c, buf, sizeof buf);
        static const char resp[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy";
        (void)!write(c, resp, sizeof resp - 1);
        /* Closing with unread input would reset the connection before the client reads the
         * answer: half-close, then drain until the client closes (bounded). */
        shutdown(c, SHUT_WR);
        struct timeval tv = {.tv_sec = 5};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        while (read(c, buf, sizeof buf) > 0) {
        }
        close(c);
    }
    return NULL;
}

static void once_start(once_srv *o)
{
    o->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(o->fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(o->fd, (struct sockaddr *)&a, &len);
    o->port = ntohs(a.sin_port);
    assert_int_equal(listen(o->fd, 4), 0);
    assert_int_equal(pthread_create(&o->th, NULL, once_main, o), 0);
}

/* TLS failure (https to a plain-http listener): never retried, still says what was tried. */
static void test_tls_failure_once(void **state)
{
    fx *f = *state;
    once_srv o;
    once_start(&o); /* reads the TLS hello, answers plain HTTP: "wrong version number" */
    f->clk.rnd = 100;
    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%d/v1/x", o.port);
    /* The connect timeout covers the TLS handshake, and loading the CA store under valgrind on a
     * loaded machine can take seconds: generous, so only the handshake's answer decides. */
    fwt__http_spec s = {.method = "GET", .url = url, .connect_timeout_ms = 120000,
                        .retry = {.on = CONTROL_PLANE, .max_attempts = 3, .unreachable_ms = 120000}};
    fwt__http_result *res = perform(f, &s);
    if (res->status != FWT_ETLS)
        fail_msg("status %d after %d attempts: %s\nlog:\n%s", res->status, res->attempts, res->message, f->lc.text);
    assert_int_equal(res->attempts, 1);
    assert_int_equal(f->clk.n_sleeps, 0);
    assert_non_null(strstr(res->message, "TLS"));
    char tail[64];
    snprintf(tail, sizeof tail, "(127.0.0.1:%d) after 1 attempt over 0.0 s", o.port);
    assert_non_null(strstr(res->message, tail));
    fwt__http_result_free(res);
    pthread_join(o.th, NULL);
}

static void test_reached_keeps_long_budget(void **state)
{
    fx *f = *state;
    f->clk.rnd = 999; /* waits of 999 ms, then 999 ms each: the 4 s budget spans several */
    once_srv o;
    once_start(&o);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/x", o.port);
    fwt__http_spec s = {.method = "GET", .url = url,
                        .retry = {.on = CONTROL_PLANE, .base_ms = 1000, .budget_ms = 6000, .unreachable_ms = 1500}};
    fwt__http_result *res = perform(f, &s);
    pthread_join(o.th, NULL);
    /* The latest HTTP answer is what the caller gets, after retrying past the 1.5 s unreachable budget. */
    assert_int_equal(res->status, FWT_OK);
    assert_int_equal(res->http_status, 503);
    assert_true(fake_slept(&f->clk) > 1500);
    assert_true(fake_slept(&f->clk) <= 6000);
    assert_true(res->attempts > 2);
    fwt__http_result_free(res);
}

/* ---- through the client: the option, its default and its -1 ---- */

static fwt_client *client_at(fake_clock *clk, const char *base, int64_t unreachable, int64_t budget, log_cap *lc)
{
    fwt_client_options o;
    assert_int_equal(fwt_client_options_init(&o, FWT_CLIENT_OPTIONS_VERSION), FWT_OK);
    o.base_url = base;
    o.api_key = "test-key-unreachable";
    o.account_id = NULL;
    o.unreachable_timeout_ms = unreachable;
    if (budget)
        o.retry_budget_ms = budget;
    o.log_fn = lc ? log_sink : NULL;
    o.log_payload = lc;
    fwt__clock k = fake_clock_iface(clk);
    fwt_client *c = NULL;
    assert_int_equal(fwt__client_new_with_clock(&c, &o, &k), FWT_OK);
    return c;
}

static void test_client_default_is_30s(void **state)
{
    (void)state;
    fwt_client_options o;
    assert_int_equal(fwt_client_options_init(&o, FWT_CLIENT_OPTIONS_VERSION), FWT_OK);
    assert_int_equal(o.unreachable_timeout_ms, 30000);
    o.unreachable_timeout_ms = -2;
    o.api_key = "k";
    fwt_client *c = NULL;
    assert_int_equal(fwt_client_new(&c, &o), FWT_EINVAL);
    assert_non_null(strstr(fwt_error_last()->message, "unreachable_timeout_ms"));

    /* 0 means the default: a refused port fails within 30 s (its last attempt starts at 29 s, virtual). */
    fake_clock clk;
    fake_clock_init(&clk, 5000);
    clk.rnd = UINT64_C(0x9E3779B97F4A7C15);
    log_cap lc;
    memset(&lc, 0, sizeof lc);
    pthread_mutex_init(&lc.mu, NULL);
    char base[64];
    int port = refused_port();
    snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
    c = client_at(&clk, base, 0, 0, &lc);
    assert_int_equal(fwt__client_options(c)->unreachable_timeout_ms, 30000);
    const char *acct = NULL;
    assert_int_equal(fwt_client_account_id(&acct, c), FWT_ECONNECT);
    const fwt_error *err = fwt_error_last();
    assert_int_equal(fake_slept(&clk), 29000);
    char want[128];
    snprintf(want, sizeof want, "connection refused to 127.0.0.1:%d after %d attempts over 29.0 s", port,
             (int)clk.n_sleeps + 1);
    assert_non_null(strstr(err->message, want));
    assert_int_equal(err->attempts, (int)clk.n_sleeps + 1);
    /* the default log level (WARN) shows every retry */
    assert_int_equal(count_lines_with(lc.text, "retrying GET "), clk.n_sleeps);
    fwt_client_free(c);
    fake_clock_destroy(&clk);
    pthread_mutex_destroy(&lc.mu);
}

static void test_client_option_values(void **state)
{
    (void)state;
    int port = refused_port();
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
    const char *acct = NULL;

    /* >0: that many ms */
    fake_clock clk;
    fake_clock_init(&clk, 5000);
    clk.rnd = 300;
    fwt_client *c = client_at(&clk, base, 2500, 0, NULL);
    assert_int_equal(fwt_client_account_id(&acct, c), FWT_ECONNECT);
    assert_int_equal(fake_slept(&clk), 1500);
    fwt_client_free(c);
    fake_clock_destroy(&clk);

    /* -1: no separate limit, the retry budget (here 45 s) applies */
    fake_clock_init(&clk, 5000);
    clk.rnd = 4999;
    c = client_at(&clk, base, -1, 45000, NULL);
    assert_int_equal(fwt__client_options(c)->unreachable_timeout_ms, -1);
    assert_int_equal(fwt_client_account_id(&acct, c), FWT_ECONNECT);
    assert_true(fake_slept(&clk) > 30000);
    assert_true(fake_slept(&clk) <= 45000);
    assert_non_null(strstr(fwt_error_last()->message, "connection refused to 127.0.0.1:"));
    fwt_client_free(c);
    fake_clock_destroy(&clk);
}

/* A wait on an operation the server accepted (here a job's readiness) polls through an unreachable
 * server for its own whole timeout: the 30 s unreachable budget never cuts it short. */
static void test_accepted_wait_not_cut_short(void **state)
{
    (void)state;
    int port = refused_port();
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
    fake_clock clk;
    fake_clock_init(&clk, 5000);
    clk.rnd = 250;
    fwt_client_options o;
    assert_int_equal(fwt_client_options_init(&o, FWT_CLIENT_OPTIONS_VERSION), FWT_OK);
    o.base_url = base;
    o.api_key = "test-key-unreachable";
    o.account_id = "acct";
    fwt__clock k = fake_clock_iface(&clk);
    fwt_client *c = NULL;
    assert_int_equal(fwt__client_new_with_clock(&c, &o, &k), FWT_OK);
    fwt_job_wait_options w;
    assert_int_equal(fwt_job_wait_options_init(&w, FWT_JOB_WAIT_OPTIONS_VERSION), FWT_OK);
    w.wait.poll_interval_ms = 1000;
    w.pending_timeout_ms = 90000;
    w.wait.timeout_ms = 90000;
    fwt_job *j = NULL;
    uint64_t t0 = fake_now(&clk);
    int rc = fwt_job_wait_ready_result(&j, c, "job-1", &w, -1);
    uint64_t waited = fake_now(&clk) - t0;
    if (waited < 90000)
        fail_msg("gave up after %llu ms (virtual) with %d: %s", (unsigned long long)waited, rc,
                 fwt_error_last()->message);
    assert_int_not_equal(rc, FWT_OK);
    fwt_client_free(c);
    fake_clock_destroy(&clk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refused_within_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_failure_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reached_keeps_long_budget, setup, teardown),
        cmocka_unit_test(test_client_default_is_30s),
        cmocka_unit_test(test_client_option_values),
        cmocka_unit_test(test_accepted_wait_not_cut_short),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
