# Chat-template conformance: one CTest test per golden file in shared/reference/chat,
# run against the tokenizer directory of the same name.
add_executable(chat_conformance ${PROJECT_SOURCE_DIR}/tests/conformance/chat_conformance.c)
target_link_libraries(chat_conformance PRIVATE cmlx)

file(GLOB CMLX_CHAT_GOLDEN ${CMLX_SHARED_DIR}/reference/chat/*.jsonl)
foreach(golden ${CMLX_CHAT_GOLDEN})
  get_filename_component(name ${golden} NAME_WE)
  add_test(NAME chat_conformance_${name}
           COMMAND chat_conformance ${CMLX_SHARED_DIR}/tokenizers/${name} ${golden})
  set_tests_properties(chat_conformance_${name} PROPERTIES TIMEOUT 300)
endforeach()
if(NOT CMLX_CHAT_GOLDEN)
  add_test(NAME chat_conformance_skipped
           COMMAND ${CMAKE_COMMAND} -E echo "SKIPPED: no golden chat files under ${CMLX_SHARED_DIR}/reference/chat")
endif()
