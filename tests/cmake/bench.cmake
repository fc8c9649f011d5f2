# cmlx bench end to end: random-weight checkpoints of tiny configs, JSON fields, the roofline
# in quick mode, bad input (tests/e2e/test_bench.c).
add_executable(test_bench ${PROJECT_SOURCE_DIR}/tests/e2e/test_bench.c)
target_link_libraries(test_bench PRIVATE cmlx_test_support)
add_dependencies(test_bench cmlx_cli)
add_test(NAME e2e_bench COMMAND test_bench $<TARGET_FILE:cmlx_cli>)
set_tests_properties(e2e_bench PROPERTIES TIMEOUT 120)
