/* A minimal test harness shared by every test program: CHECK records a failure with
 * its location and keeps going; test_finish() prints "N passed, M failed" and gives
 * the exit code. */
#ifndef CMLX_TEST_H
#define CMLX_TEST_H

#include <stdint.h>
#include <stdio.h>

extern int test_checks_passed, test_checks_failed;

#define CHECK(cond) test_check((cond) != 0, #cond, __FILE__, __LINE__)
#define CHECK_MSG(cond, ...) test_check_msg((cond) != 0, __FILE__, __LINE__, __VA_ARGS__)

int test_check(int ok, const char *expr, const char *file, int line);
int test_check_msg(int ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int test_finish(void);
/* The ../shared directory (CMLX_SHARED), or NULL after printing a loud SKIPPED line. */
const char *test_shared_dir(const char *why);

/* Array helpers for op tests (they need the library). */
struct mx_array;
/* Evaluates a and compares shape and values (read as float64) exactly; records a check. */
int test_expect(struct mx_array *a, const int64_t *shape, int ndim, const double *want, const char *what);
/* 0, 1, 2, ... of the given shape and dtype. */
struct mx_array *test_iota(const int64_t *shape, int ndim, int dtype);
/* Records a check that the last error message contains s. */
int test_error_has(const char *s);

#endif
