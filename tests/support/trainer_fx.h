/*
 * The fixture of the tests that drive one training client against the scripted fake trainer of
 * tests/core/core_test_util.h: the trainer, a client of it and a training (with its model, when asked).
 *
 *   typedef trainer_fx fx;
 *   static int setup(void **state)
 *   {
 *       fwt_client_options o;
 *       fwt_client_options_init(&o, FWT_CLIENT_OPTIONS_VERSION);
 *       o.poll_floor_ms = 5;
 *       *state = trainer_fx_new(NULL, &o, 10000);   // model created, 10 s hang guard
 *       return 0;
 *   }
 *   static int teardown(void **state) { trainer_fx_free(*state); return 0; }
 *
 * Header-only like core_test_util.h; include <cmocka.h> first (set-up failures are cmocka assertions).
 */
#ifndef FWT_TEST_TRAINER_FX_H
#define FWT_TEST_TRAINER_FX_H

#include "../core/core_test_util.h"

typedef struct trainer_fx {
    trainer *tr;
    fwt_client *c;   /* a test may free it early and set it NULL */
    fwt_training *t;
} trainer_fx;

/* A trainer on `clk` (NULL: the real clock), a client with `o` (NULL: defaults), a training; its model is
 * created (create_model_ms the hang guard) unless create_model_ms is 0. Fails the test on any error. */
static inline trainer_fx *trainer_fx_new(fclock *clk, fwt_client_options *o, int64_t create_model_ms)
{
    trainer_fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->tr = trainer_start(clk);
    assert_non_null(f->tr);
    f->c = tr_client(f->tr, clk, o);
    assert_non_null(f->c);
    f->t = tr_training(f->tr, f->c, 0, 0);
    assert_non_null(f->t);
    if (create_model_ms)
        assert_int_equal(fwt_training_create_model_result(f->t, create_model_ms), FWT_OK);
    return f;
}

/* Frees the training, the client and the trainer (in that order: a training may outlive its client). */
static inline void trainer_fx_free(trainer_fx *f)
{
    fwt_training_free(f->t);
    fwt_client_free(f->c);
    trainer_stop(f->tr);
    free(f);
}

/*
 * Send n (at most 16) save_state futures named `name` on `t` back to back, then wait for each (timeout_ms, a
 * hang guard): the number that could not be sent, did not finish or did not succeed. No cmocka assertion, so
 * any thread may call it.
 */
static inline int save_state_batch(fwt_training *t, const char *name, int n, int64_t timeout_ms)
{
    fwt_future *fs[16];
    if (n < 0 || n > 16)
        return n < 0 ? 1 : n;
    for (int i = 0; i < n; i++)
        if (fwt_training_save_state(&fs[i], t, name, 0) != FWT_OK)
            fs[i] = NULL;
    int fails = 0;
    for (int i = 0; i < n; i++) {
        if (!fs[i] || fwt_future_wait(fs[i], timeout_ms) != FWT_OK || fwt_future_status(fs[i]) != FWT_OK)
            fails++;
        fwt_future_free(fs[i]);
    }
    return fails;
}

#endif /* FWT_TEST_TRAINER_FX_H */
