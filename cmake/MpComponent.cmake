# mp_component(<name> SOURCES <files...> [LIBS <libs...>])
# One component of libmpool: an OBJECT library mplib_<name> from the sources
# of one folder under src/ (include root src/, so "pool/ledger.h"; hidden
# visibility: only MP_EXPORT symbols leave libmpool). Every component's
# objects go into the one libmpool, static and shared (CMakeLists.txt);
# MP_SOURCES collects their paths for the tests' mpool_faults copy.
function(mp_component NAME)
  cmake_parse_arguments(C "" "" "SOURCES;LIBS" ${ARGN})
  set(t mplib_${NAME})
  add_library(${t} OBJECT ${C_SOURCES})
  set_target_properties(${t} PROPERTIES POSITION_INDEPENDENT_CODE ON
                                        C_VISIBILITY_PRESET hidden)
  target_include_directories(${t} PUBLIC ${PROJECT_SOURCE_DIR}/include
                                  PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${t} PUBLIC ${C_LIBS})
  list(TRANSFORM C_SOURCES PREPEND ${CMAKE_CURRENT_SOURCE_DIR}/)
  set_property(GLOBAL APPEND PROPERTY MP_SOURCES ${C_SOURCES})
  set_property(GLOBAL APPEND PROPERTY MP_COMPONENTS ${t})
endfunction()
