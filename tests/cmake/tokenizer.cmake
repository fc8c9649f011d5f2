# Tokenizer conformance: one CTest test per golden file in ${CMLX_SHARED_DIR}/reference/tokenizer,
# run against the tokenizer files in ${CMLX_SHARED_DIR}/tokenizers/<name>.
add_executable(tokenizer_conformance ${PROJECT_SOURCE_DIR}/tests/conformance/tokenizer_conformance.c)
target_link_libraries(tokenizer_conformance PRIVATE cmlx)

file(GLOB CMLX_TOKENIZER_GOLDENS ${CMLX_SHARED_DIR}/reference/tokenizer/*.jsonl)
if(NOT CMLX_TOKENIZER_GOLDENS)
  message(STATUS "tokenizer conformance: no goldens under ${CMLX_SHARED_DIR}/reference/tokenizer (SKIPPED)")
  add_test(NAME tokenizer_conformance_skipped
           COMMAND ${CMAKE_COMMAND} -E echo "SKIPPED: no tokenizer goldens in ${CMLX_SHARED_DIR}/reference/tokenizer")
endif()
foreach(golden ${CMLX_TOKENIZER_GOLDENS})
  get_filename_component(case_name ${golden} NAME)
  string(REGEX REPLACE "\\.jsonl$" "" case_name ${case_name})
  string(REGEX REPLACE "\\.stream$" "" tok_name ${case_name})
  add_test(NAME tokenizer_conformance_${case_name}
           COMMAND tokenizer_conformance ${CMLX_SHARED_DIR}/tokenizers/${tok_name} ${golden})
  set_tests_properties(tokenizer_conformance_${case_name} PROPERTIES TIMEOUT 300)
endforeach()
