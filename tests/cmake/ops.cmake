# The op conformance harness: the driver plus one cases_<family>.c per op family.
file(GLOB CMLX_CONF_CASES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/conformance/cases_*.c)
add_executable(op_conformance ${PROJECT_SOURCE_DIR}/tests/conformance/op_conformance.c ${CMLX_CONF_CASES})
target_include_directories(op_conformance PRIVATE ${PROJECT_SOURCE_DIR}/tests/conformance)
target_link_libraries(op_conformance PRIVATE cmlx_test_support)
add_test(NAME op_conformance COMMAND op_conformance)
set_tests_properties(op_conformance PROPERTIES TIMEOUT 600)

# Random bits: the plain test_ops_random runs the best path (AVX-512 Threefry blocks where the
# CPU has them); this one the portable one-pair-at-a-time path.
add_test(NAME test_ops_random_portable COMMAND test_ops_random)
set_tests_properties(test_ops_random_portable PROPERTIES ENVIRONMENT "CMLX_CPU_PATH=portable")
