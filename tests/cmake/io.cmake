# safetensors (src/io): the seed-corpus replay, built with the project's compiler, and the
# libFuzzer target, built with clang straight from the parser's sources when clang has
# libFuzzer (configure never fails without it; the target and its test are simply absent).
set(CMLX_FUZZ_DIR ${PROJECT_SOURCE_DIR}/tests/fuzz)
set(CMLX_FUZZ_CORPUS ${CMLX_FUZZ_DIR}/corpus/safetensors)

if(TARGET test_io_corpus)
  target_compile_definitions(test_io_corpus PRIVATE CMLX_FUZZ_CORPUS="${CMLX_FUZZ_CORPUS}")
endif()

# The parser and what it needs, nothing else: it must build without the array core.
set(CMLX_FUZZ_SOURCES
  ${CMLX_FUZZ_DIR}/fuzz_safetensors.c
  ${PROJECT_SOURCE_DIR}/src/io/safetensors_parse.c
  ${PROJECT_SOURCE_DIR}/src/io/safetensors_dtype.c
  ${PROJECT_SOURCE_DIR}/src/util/error.c)
set(CMLX_FUZZ_HEADERS
  ${CMLX_FUZZ_DIR}/fuzz_check.h
  ${PROJECT_SOURCE_DIR}/src/io/safetensors_parse.h
  ${PROJECT_SOURCE_DIR}/src/io/safetensors.h
  ${PROJECT_SOURCE_DIR}/include/cmlx/io.h
  ${PROJECT_SOURCE_DIR}/include/cmlx/array.h
  ${PROJECT_SOURCE_DIR}/include/cmlx/error.h)
set(CMLX_FUZZ_FLAGS -std=c11 -g -O1 -D_GNU_SOURCE -Wall -Wextra
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)

# Probe once per build directory: does some clang link a libFuzzer program against jansson?
if(NOT DEFINED CMLX_HAVE_LIBFUZZER)
  set(CMLX_HAVE_LIBFUZZER OFF)
  find_program(CMLX_CLANG NAMES clang clang-19 clang-18 clang-17 clang-16 clang-15 clang-14)
  if(CMLX_CLANG)
    set(_probe_dir ${CMAKE_BINARY_DIR}/fuzz-probe)
    file(MAKE_DIRECTORY ${_probe_dir})
    file(WRITE ${_probe_dir}/probe.c
      "#include <jansson.h>\n#include <stddef.h>\n#include <stdint.h>\n"
      "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {\n"
      "  json_t *j = json_loadb((const char *)d, n, 0, NULL); json_decref(j); return 0; }\n")
    execute_process(
      COMMAND ${CMLX_CLANG} ${CMLX_FUZZ_FLAGS} ${JANSSON_CFLAGS} ${_probe_dir}/probe.c ${JANSSON_LDFLAGS}
              -o ${_probe_dir}/probe
      RESULT_VARIABLE _probe_rc OUTPUT_QUIET ERROR_QUIET)
    if(_probe_rc EQUAL 0)
      set(CMLX_HAVE_LIBFUZZER ON)
    endif()
  endif()
  set(CMLX_HAVE_LIBFUZZER ${CMLX_HAVE_LIBFUZZER} CACHE BOOL "clang with libFuzzer found (fuzz_safetensors is built)")
endif()

if(CMLX_HAVE_LIBFUZZER)
  message(STATUS "libFuzzer: ${CMLX_CLANG}; building fuzz_safetensors")
  set(_fuzz_bin ${CMAKE_BINARY_DIR}/fuzz_safetensors)
  add_custom_command(OUTPUT ${_fuzz_bin}
    COMMAND ${CMLX_CLANG} ${CMLX_FUZZ_FLAGS} -I${PROJECT_SOURCE_DIR}/include -I${PROJECT_SOURCE_DIR}/src
            -I${CMLX_FUZZ_DIR} ${JANSSON_CFLAGS} ${CMLX_FUZZ_SOURCES} ${JANSSON_LDFLAGS} -o ${_fuzz_bin}
    DEPENDS ${CMLX_FUZZ_SOURCES} ${CMLX_FUZZ_HEADERS}
    COMMENT "Building fuzz_safetensors with ${CMLX_CLANG} (libFuzzer, ASan, UBSan)"
    VERBATIM)
  add_custom_target(fuzz_safetensors ALL DEPENDS ${_fuzz_bin})

  # New inputs go to a scratch corpus in the build tree (first directory), never into the
  # committed seeds (second); crashes land in fuzz-artifacts/. Brief by design: a CI smoke
  # run, not a fuzzing campaign (run the binary by hand for that).
  file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz-corpus ${CMAKE_BINARY_DIR}/fuzz-artifacts)
  add_test(NAME fuzz_safetensors
    COMMAND ${_fuzz_bin} -max_total_time=20 -runs=2000000 -timeout=10 -rss_limit_mb=2048 -max_len=16384
            -print_final_stats=1 -dict=${CMLX_FUZZ_DIR}/safetensors.dict
            -artifact_prefix=${CMAKE_BINARY_DIR}/fuzz-artifacts/
            ${CMAKE_BINARY_DIR}/fuzz-corpus ${CMLX_FUZZ_CORPUS})
  set_tests_properties(fuzz_safetensors PROPERTIES TIMEOUT 120)
else()
  message(STATUS "libFuzzer not available (no clang with -fsanitize=fuzzer): fuzz_safetensors is not built; "
                 "test_io_corpus still replays the seed corpus")
endif()
