/* A minimal test harness shared by every test program: CHECK records a failure with
 * its location and keeps going; test_finish() prints "N passed, M failed" and gives
 * the exit code. */
#ifndef CMLX_TEST_H
#define CMLX_TEST_H

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

#endif
