# Speculative decoding, the stopping flags and cmlx chat through the real binary
# (test_lm_generate itself is a plain unit test, registered by the glob).
add_executable(test_chat ${PROJECT_SOURCE_DIR}/tests/e2e/test_chat.c)
target_link_libraries(test_chat PRIVATE cmlx_test_support util)
add_dependencies(test_chat cmlx_cli)
add_test(NAME e2e_chat COMMAND test_chat $<TARGET_FILE:cmlx_cli> ${CMLX_SHARED_DIR})
set_tests_properties(e2e_chat PROPERTIES TIMEOUT 300)

add_executable(test_speculative ${PROJECT_SOURCE_DIR}/tests/e2e/test_speculative.c)
target_link_libraries(test_speculative PRIVATE cmlx_test_support)
add_dependencies(test_speculative cmlx_cli)
add_test(NAME e2e_speculative COMMAND test_speculative $<TARGET_FILE:cmlx_cli> ${CMLX_SHARED_DIR})
set_tests_properties(e2e_speculative PROPERTIES TIMEOUT 300)
