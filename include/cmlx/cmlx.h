/* cmlx: the umbrella header of the array framework (mx_). */
#ifndef CMLX_CMLX_H
#define CMLX_CMLX_H

#include "cmlx/array.h"
#include "cmlx/custom.h"
#include "cmlx/error.h"
#include "cmlx/fast.h"
#include "cmlx/io.h"
#include "cmlx/memory.h"
#include "cmlx/ops.h"
#include "cmlx/quant.h"
#include "cmlx/random.h"
#include "cmlx/stream.h"
#include "cmlx/transforms.h"

#endif
