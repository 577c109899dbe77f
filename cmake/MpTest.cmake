# mp_test(NAME <name> SOURCES <files...> [TIMEOUT <s>] [LIBS <libs...>]
#         [CORE <library>])  CORE: libmpool's build to link (default mpool;
#         mpool_faults has the fault-injection hooks)
# One cmocka executable per module; every test gets a TIMEOUT so a hung
# worker can never stall CI (nng's nng_test()).
function(mp_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT;CORE" "SOURCES;LIBS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 60)
  endif()
  if(NOT T_CORE)
    set(T_CORE mpool)
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_include_directories(${T_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/src
                                               ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(${T_NAME} PRIVATE ${T_CORE} ${CMOCKA_LINK_LIBRARIES} ${T_LIBS})
  target_include_directories(${T_NAME} PRIVATE ${CMOCKA_INCLUDE_DIRS})
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "MP_TEST_SERVER=$<TARGET_FILE:mp-testserver>;MP_BAD_SERVER=$<TARGET_FILE:mp-badserver>;MP_MPFETCH=${PROJECT_BINARY_DIR}/mpfetch;MP_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()
