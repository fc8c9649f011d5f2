# Speculative decoding and the stopping flags through the real binary (test_lm_generate
# itself is a plain unit test, registered by the glob).
add_executable(test_speculative ${PROJECT_SOURCE_DIR}/tests/e2e/test_speculative.c)
target_link_libraries(test_speculative PRIVATE cmlx_test_support)
add_dependencies(test_speculative cmlx_cli)
add_test(NAME e2e_speculative COMMAND test_speculative $<TARGET_FILE:cmlx_cli> ${CMLX_SHARED_DIR})
set_tests_properties(e2e_speculative PROPERTIES TIMEOUT 300)
