/* A one-datum batch from text for tests: bytes are tokens, each predicts the next, weight 1. */
#ifndef FWT_TEST_TEXT_BATCH_H
#define FWT_TEST_TEXT_BATCH_H

#include "fwtrain/training.h"

/* Fails the running cmocka test (never returns NULL) if text is shorter than 2 or longer than 127 bytes
 * or the batch cannot be built. */
fwt_batch *fwt_test_text_batch(const char *text);

#endif
