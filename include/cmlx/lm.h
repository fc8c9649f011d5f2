/* cmlx language-model toolkit (lm_): the public API.
 * One header per area, all included here. */
#ifndef CMLX_LM_H
#define CMLX_LM_H

#include "cmlx/error.h"
#include "cmlx/lm_tokenizer.h"
#include "cmlx/lm_template.h"
#include "cmlx/lm_hub.h"
#include "cmlx/lm_model.h"
#include "cmlx/lm_generate.h"

#endif
