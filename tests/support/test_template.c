#include "test_template.h"

#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"
#include "cmlx/lm_template.h"
#include "test.h"

void test_expect_render(const char *tpl, const char *ctx, const char *want, int line) {
    lm_template *t = lm_template_compile(tpl, strlen(tpl));
    char *got = t ? lm_template_render(t, ctx, NULL) : NULL;
    CHECK_MSG(got && strcmp(got, want) == 0, "line %d: %s\n    want [%s]\n    got  [%s] %s", line, tpl, want,
              got ? got : "(null)", got ? "" : mx_last_error());
    free(got);
    lm_template_free(t);
}
