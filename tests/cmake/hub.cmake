# Hub tests: a fake Hugging Face hub (libmicrohttpd on 127.0.0.1, an ephemeral port) that
# the hub unit tests link, and the end-to-end test of `cmlx manage` through the real binary.
pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd)

add_library(cmlx_fake_hub STATIC
  ${PROJECT_SOURCE_DIR}/tests/e2e/fake_hub.c
  ${PROJECT_SOURCE_DIR}/tests/e2e/hub_fixture.c)
target_include_directories(cmlx_fake_hub PUBLIC ${PROJECT_SOURCE_DIR}/tests/e2e)
target_link_libraries(cmlx_fake_hub PUBLIC PkgConfig::MHD Threads::Threads)

# tests/unit/test_hub_*.c are created by tests/CMakeLists.txt; those that talk to the
# fake hub link it here.
foreach(name test_hub_download test_hub_errors test_hub_cache)
  if(TARGET ${name})
    target_link_libraries(${name} PRIVATE cmlx_fake_hub)
  endif()
endforeach()

add_executable(test_hub_manage_e2e ${PROJECT_SOURCE_DIR}/tests/e2e/test_hub_manage.c)
target_link_libraries(test_hub_manage_e2e PRIVATE cmlx_test_support cmlx_fake_hub util)
add_test(NAME hub_manage_e2e COMMAND test_hub_manage_e2e $<TARGET_FILE:cmlx_cli>)
set_tests_properties(hub_manage_e2e PROPERTIES TIMEOUT 120)
