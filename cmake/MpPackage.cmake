# Man pages, bash completion and the Debian packages.
#
# Three components, three packages (cpack -G DEB in a tree configured with
# -DCMAKE_INSTALL_PREFIX=/usr; scripts/package-check.sh does it):
#   mpfetch       the CLI, mpfetch(1), its bash completion
#   libmpool0     the shared library
#   libmpool-dev  header, static library, .so link, mpool.pc, CMake package,
#                 libmpool(3)
#   python3-mpool the CPython module mpool (python/), when it is built
# Dependencies on shared libraries come from dpkg-shlibdeps; the -dev
# package names the -dev packages its pkg-config and CMake files need.
# Man pages are installed gzip -9n'd, as Debian policy asks.
set(MP_MAN_GZ)
foreach(page mpfetch.1 libmpool.3)
  add_custom_command(OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/man/${page}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/man
    COMMAND sh -c "gzip -9n -c '${PROJECT_SOURCE_DIR}/man/${page}' > '${CMAKE_CURRENT_BINARY_DIR}/man/${page}.gz'"
    DEPENDS ${PROJECT_SOURCE_DIR}/man/${page} VERBATIM)
  list(APPEND MP_MAN_GZ ${CMAKE_CURRENT_BINARY_DIR}/man/${page}.gz)
endforeach()
add_custom_target(mp_man_pages ALL DEPENDS ${MP_MAN_GZ})
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/man/mpfetch.1.gz
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT mpfetch)
install(FILES ${PROJECT_SOURCE_DIR}/completion/mpfetch.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        RENAME mpfetch COMPONENT mpfetch)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/man/libmpool.3.gz
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man3 COMPONENT dev)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME mpool)
set(CPACK_PACKAGE_VENDOR "mpfetch/libmpool")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "mpfetch maintainers <mpfetch@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "run many IO-bound tasks at once across all cores")
set(CPACK_COMPONENTS_ALL mpfetch runtime dev)
if(TARGET mpool_python)
  list(APPEND CPACK_COMPONENTS_ALL python)
endif()
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/mpfetch/libmpool")

set(CPACK_DEBIAN_MPFETCH_PACKAGE_NAME mpfetch)
set(CPACK_DEBIAN_MPFETCH_PACKAGE_SECTION net)
set(CPACK_COMPONENT_MPFETCH_DESCRIPTION
    "fetch large batches of URLs across all cores\n mpfetch reads URLs (or JSON requests) one per line and writes one JSON\n record per request, with libcurl in every worker process of a libmpool\n pool. Shards batches across machines (Slurm, Kubernetes, GNU parallel).\n mp-testserver, a small HTTP/1.1 server on loopback, is there to try it on.")

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libmpool0)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
    "run many IO-bound tasks at once across all cores (library)\n A coordinator forks worker processes; each runs a libevent loop and\n many tasks as coroutines; tasks and results travel over nanomsg.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libmpool-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "libmpool0 (= ${PROJECT_VERSION}), libevent-dev, libnanomsg-dev, libcurl4-openssl-dev | libcurl-dev, libnghttp2-dev, zlib1g-dev, libbrotli-dev, libzstd-dev, pkg-config")
set(CPACK_COMPONENT_DEV_DESCRIPTION
    "run many IO-bound tasks at once across all cores (development files)\n Header, static library, pkg-config and CMake package files, and the\n libmpool(3) manual page.")
set(CPACK_DEBIAN_PYTHON_PACKAGE_NAME python3-mpool)
set(CPACK_DEBIAN_PYTHON_PACKAGE_SECTION python)
# The module is built for one CPython ABI (its .so's suffix names it).
set(CPACK_DEBIAN_PYTHON_PACKAGE_DEPENDS
    "python3 (>= ${Python3_VERSION_MAJOR}.${Python3_VERSION_MINOR}~), python3 (<< ${Python3_VERSION_MAJOR}.${MP_PY_NEXT_MINOR})")
set(CPACK_COMPONENT_PYTHON_DESCRIPTION
    "fetch large batches of URLs across all cores, from Python\n import mpool: mpool.fetch(urls) iterates over mpfetch's records,\n mpool.afetch for asyncio, mpool.Pool for a pool kept across calls that\n also runs Python functions in its forked worker processes.")
include(CPack)
