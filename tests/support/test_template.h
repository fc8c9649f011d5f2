/* Shared check for the chat-template unit tests: render `tpl` with the JSON context `ctx`
 * (NULL: none) and compare with `want`, reporting the test's source line. */
#ifndef CMLX_TEST_TEMPLATE_H
#define CMLX_TEST_TEMPLATE_H

void test_expect_render(const char *tpl, const char *ctx, const char *want, int line);
#define EXPECT(tpl, ctx, want) test_expect_render(tpl, ctx, want, __LINE__)

#endif
