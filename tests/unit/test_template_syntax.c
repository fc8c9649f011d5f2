/* Chat templates: lexer and whitespace control (trim_blocks, lstrip_blocks, -, +),
 * comments, raw blocks, newline normalisation, literals. Expected outputs follow Jinja2
 * 3.1's documented behaviour with trim_blocks=True, lstrip_blocks=True. */
#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"
#include "cmlx/lm_template.h"
#include "test.h"
#include "test_template.h"


int main(void) {
    /* trim_blocks: the newline after a block tag goes; one trailing newline of the source goes */
    EXPECT("{% if true %}\nA\n{% endif %}\n", NULL, "A\n");
    EXPECT("a\n\n", NULL, "a\n");
    /* lstrip_blocks: spaces before a block tag at line start go, also at template start */
    EXPECT("  {% if true %}x{% endif %}", NULL, "x");
    EXPECT("a  {% if true %}x{% endif %}", NULL, "a  x");
    EXPECT("{% for i in range(3) %}\n  {{ i }}\n{% endfor %}", NULL, "  0\n  1\n  2\n");
    EXPECT("<\n    {% if true %}\n    y\n    {% endif %}\n>", NULL, "<\n    y\n>");
    /* not for {{ }} */
    EXPECT("{{ 'a' }}  \n  {{ 'b' }}", NULL, "a  \n  b");
    /* explicit control */
    EXPECT("x {%- if true -%} y {%- endif %}", NULL, "xy");
    EXPECT("a\n   {{- 'b' -}}   \n c", NULL, "abc");
    EXPECT("  {%+ if true %}x{% endif %}", NULL, "  x");
    EXPECT("{% if true +%}\nx{% endif %}", NULL, "\nx");
    /* comments strip like blocks */
    EXPECT("a\n  {# c #}\nb", NULL, "a\nb");
    EXPECT("a {#- c -#} b", NULL, "ab");
    EXPECT("{# multi\nline #}z", NULL, "z");
    /* raw */
    EXPECT("{% raw %}{{ x }}{% if %}{% endraw %}", NULL, "{{ x }}{% if %}");
    /* newlines normalised */
    EXPECT("a\r\nb\rc\r\n", NULL, "a\nb\nc");
    /* literals */
    EXPECT("{{ 0x1F }} {{ 1_000 }} {{ 0b11 }} {{ 0o17 }}", NULL, "31 1000 3 15");
    EXPECT("{{ 'a' 'b' \"c\" }}", NULL, "abc");
    EXPECT("{{ '\\u00e9\\x41\\n' }}", NULL, "\xc3\xa9" "A\n");
    EXPECT("{{ 'it\\'s' }}", NULL, "it's");
    EXPECT("{{ 1.5e3 }} {{ 2.50 }}", NULL, "1500.0 2.5");
    EXPECT("{{ {'a': {'b': 1}} }}", NULL, "{'a': {'b': 1}}");
    EXPECT("{{ {'a': 1}['a'] }}", NULL, "1");
    EXPECT("{% set x = {'k': [1, 2]} %}{{ x.k[1] }}", NULL, "2");
    /* generation tag (transformers' AssistantTracker) renders its body */
    EXPECT("{% generation %}gen{% endgeneration %}", NULL, "gen");
    EXPECT("a{% block b %}B{% endblock %}c", NULL, "aBc");
    /* non-ASCII text passes through */
    EXPECT("<｜User｜>{{ m }}", "{\"m\": \"\xe4\xbd\xa0\xe5\xa5\xbd\"}", "<｜User｜>\xe4\xbd\xa0\xe5\xa5\xbd");
    return test_finish();
}
