/* Hugging Face hub (placeholder: the hub work fills this header). */
#ifndef CMLX_LM_HUB_H
#define CMLX_LM_HUB_H
#endif
