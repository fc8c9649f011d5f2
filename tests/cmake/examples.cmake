# The README's example program: compiled and run, its output checked.
add_executable(example_c ${PROJECT_SOURCE_DIR}/examples/example.c)
target_link_libraries(example_c PRIVATE cmlx)
add_test(NAME readme_example COMMAND example_c)
set_tests_properties(readme_example PROPERTIES
  PASS_REGULAR_EXPRESSION "shape \\(3, 2\\): 1.6487 7.3891 4.4817 20.0855 12.1825 54.598[12].*\\[add\\] shapes \\(2, 3\\) and \\(4,\\) cannot be broadcast")
