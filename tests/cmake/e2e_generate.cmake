# The real cmlx binary end to end: stories260K greedy continuations, output format, errors.
add_executable(test_generate_stories ${PROJECT_SOURCE_DIR}/tests/e2e/test_generate_stories.c)
target_link_libraries(test_generate_stories PRIVATE cmlx_test_support)
add_dependencies(test_generate_stories cmlx_cli)
add_test(NAME e2e_generate_stories COMMAND test_generate_stories $<TARGET_FILE:cmlx_cli> ${CMLX_SHARED_DIR})
