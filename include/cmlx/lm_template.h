/* Chat templates (placeholder: the chat-template work fills this header). */
#ifndef CMLX_LM_TEMPLATE_H
#define CMLX_LM_TEMPLATE_H
#endif
