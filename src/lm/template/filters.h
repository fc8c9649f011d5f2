/* Filters shared between filters.c (the table) and filters_seq.c (sequence filters). */
#ifndef CMLX_LM_TEMPLATE_FILTERS_H
#define CMLX_LM_TEMPLATE_FILTERS_H

#include "lm/template/interp.h"

int lm_tpl_f_attr(interp *in, tv v, const targs *a, tv *out);
int lm_tpl_f_batch(interp *in, tv v, const targs *a, tv *out);
int lm_tpl_f_dictsort(interp *in, tv v, const targs *a, tv *out);
int lm_tpl_f_groupby(interp *in, tv v, const targs *a, tv *out);
int lm_tpl_f_join(interp *in, tv v, const targs *a, tv *out);
int lm_tpl_f_map(interp *in, tv v, const targs *a, tv *out);
int lm_tpl_f_max(interp *in, tv v, const targs *a, tv *out);
int lm_tpl_f_min(interp *in, tv v, const targs *a, tv *out);
int lm_tpl_f_reject(interp *in, tv v, const targs *a, tv *out);
int lm_tpl_f_rejectattr(interp *in, tv v, const targs *a, tv *out);
int lm_tpl_f_select(interp *in, tv v, const targs *a, tv *out);
int lm_tpl_f_selectattr(interp *in, tv v, const targs *a, tv *out);
int lm_tpl_f_slice(interp *in, tv v, const targs *a, tv *out);
int lm_tpl_f_sort(interp *in, tv v, const targs *a, tv *out);
int lm_tpl_f_sum(interp *in, tv v, const targs *a, tv *out);
int lm_tpl_f_unique(interp *in, tv v, const targs *a, tv *out);
/* Python "fmt % args" (also the format filter). */
int lm_tpl_percent_format(interp *in, const char *fmt, size_t n, const targs *a, tv *out);

#endif
