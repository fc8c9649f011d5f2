# The real cmlx binary end to end: cache-prompt, then generate --prompt-cache-file, on stories260K.
add_executable(test_prompt_cache ${PROJECT_SOURCE_DIR}/tests/e2e/test_prompt_cache.c)
target_link_libraries(test_prompt_cache PRIVATE cmlx_test_support)
add_dependencies(test_prompt_cache cmlx_cli)
add_test(NAME e2e_prompt_cache COMMAND test_prompt_cache $<TARGET_FILE:cmlx_cli> ${CMLX_SHARED_DIR})
