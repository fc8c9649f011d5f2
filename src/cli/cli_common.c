#include "cli/cli_common.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/file.h"

int cli_fail(const char *cmd, const char *msg) {
    fprintf(stderr, "cmlx %s: %s\n", cmd, msg ? msg : mx_last_error());
    return 1;
}

int cli_parse_dtype(const char *s, mx_dtype *t) {
    if (!strcmp(s, "float32") || !strcmp(s, "f32")) *t = MX_FLOAT32;
    else if (!strcmp(s, "bfloat16") || !strcmp(s, "bf16")) *t = MX_BFLOAT16;
    else if (!strcmp(s, "float16") || !strcmp(s, "f16")) *t = MX_FLOAT16;
    else return mx_set_error("unknown dtype '%s' (use float32, bfloat16 or float16)", s);
    return 0;
}

char *cli_read_stdin(void) { return util_read_stream(stdin, "standard input", NULL); }

char *cli_messages_json(const char *system_prompt, const char *user) {
    json_t *msgs = json_array();
    if (!msgs) return NULL;
    if (system_prompt)
        json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "system", "content", system_prompt));
    json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user", "content", user));
    char *s = json_dumps(msgs, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(msgs);
    if (!s) mx_set_error("out of memory building the messages");
    return s;
}

int cli_encode_prompt(const char *model_dir, const lm_tokenizer *tok, const char *messages_json,
                      int ignore_chat_template, const char *raw_prompt, const char *kwargs_json,
                      int32_t **ids, size_t *n) {
    lm_chat_template *tpl = NULL;
    if (!ignore_chat_template) {
        tpl = lm_chat_template_load(model_dir);
        /* no template: plain encoding, as mlx-lm; a broken template is an error */
        if (!tpl && !strstr(mx_last_error(), "has no chat template")) return -1;
    }
    if (tpl && lm_chat_template_source(tpl, 0)) {
        char *text = lm_chat_template_apply(tpl, messages_json, NULL, 1, kwargs_json);
        lm_chat_template_free(tpl);
        if (!text) return -1;
        int rc = lm_tokenizer_encode(tok, text, strlen(text), 0, ids, n);
        free(text);
        return rc;
    }
    lm_chat_template_free(tpl);
    return lm_tokenizer_encode(tok, raw_prompt, strlen(raw_prompt), 1, ids, n);
}
