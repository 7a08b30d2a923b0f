# Debian packages with CPack (`compose/package` builds them; `cpack -G DEB` in a build dir
# configured with -DCMAKE_INSTALL_PREFIX=/usr). CPack rather than a debian/ directory: the
# top-level layout is fixed by the developers' guide, and CPack builds from the same install
# rules a plain `cmake --install` uses, so the package cannot drift from them.
#   outbox-toolkit          the daemons, outbox-moderation, systemd units, schemas/SQL/examples
#   liboutbox-consumer0     the shared library
#   liboutbox-consumer-dev  headers, static library, pkg-config file, CMake package
# Each package gets its copyright, changelog and lintian overrides from compose/deb/.

set(OUTBOX_DEB_DIR ${CMAKE_CURRENT_LIST_DIR})
set(OUTBOX_SYSCONFDIR ${CMAKE_INSTALL_FULL_SYSCONFDIR})
set(OUTBOX_BINDIR ${CMAKE_INSTALL_FULL_BINDIR})
set(OUTBOX_DOCDIR ${CMAKE_INSTALL_FULL_DATAROOTDIR}/doc/outbox-toolkit)
# Units under <prefix>/lib/systemd/system: /usr/lib/systemd/system for the package, the
# location Debian's systemd and lintian expect.
set(OUTBOX_UNITDIR lib/systemd/system CACHE STRING "systemd unit directory (relative: to the prefix)")

foreach(unit relay/outbox-relay@.service projector/outbox-projector@.service)
  get_filename_component(name ${unit} NAME)
  configure_file(${OUTBOX_SOURCE_DIR}/${unit}.in ${CMAKE_BINARY_DIR}/units/${name} @ONLY)
  install(FILES ${CMAKE_BINARY_DIR}/units/${name} DESTINATION ${OUTBOX_UNITDIR} COMPONENT toolkit)
endforeach()
# The directory of the instances' configurations (NAME.ini, NAME.env), root-only content.
install(DIRECTORY DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/outbox COMPONENT toolkit)
install(FILES README.md DESTINATION ${OUTBOX_DOCDIR} COMPONENT toolkit)

# Manual pages from --help and --version (help2man), when help2man is there.
find_program(OUTBOX_HELP2MAN help2man)
if(OUTBOX_HELP2MAN)
  set(OUTBOX_MANPAGES)
  foreach(prog outbox-relay outbox-projector outbox-moderation)
    set(page ${CMAKE_BINARY_DIR}/man/${prog}.1.gz)
    add_custom_command(OUTPUT ${page}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
      COMMAND ${OUTBOX_HELP2MAN} --no-info --no-discard-stderr --section=1
              --name=${prog} --version-string=${PROJECT_VERSION} $<TARGET_FILE:${prog}>
              --output=${CMAKE_BINARY_DIR}/man/${prog}.1
      COMMAND gzip -9nf ${CMAKE_BINARY_DIR}/man/${prog}.1
      DEPENDS ${prog} VERBATIM)
    list(APPEND OUTBOX_MANPAGES ${page})
  endforeach()
  add_custom_target(outbox_manpages ALL DEPENDS ${OUTBOX_MANPAGES})
  install(FILES ${OUTBOX_MANPAGES} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT toolkit)
endif()

# Per package: copyright, changelog.Debian.gz (Debian wants both in /usr/share/doc/<package>) and
# lintian overrides.
set(OUTBOX_DEB_PACKAGES toolkit:outbox-toolkit lib:liboutbox-consumer${OUTBOX_CONSUMER_SOVERSION}
                        dev:liboutbox-consumer-dev)
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/deb/changelog.Debian.gz
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/deb
  COMMAND gzip -9nc ${OUTBOX_DEB_DIR}/changelog > ${CMAKE_BINARY_DIR}/deb/changelog.Debian.gz
  DEPENDS ${OUTBOX_DEB_DIR}/changelog)
add_custom_target(outbox_deb_changelog ALL DEPENDS ${CMAKE_BINARY_DIR}/deb/changelog.Debian.gz)
foreach(entry ${OUTBOX_DEB_PACKAGES})
  string(REPLACE ":" ";" pair ${entry})
  list(GET pair 0 comp)
  list(GET pair 1 pkg)
  install(FILES ${OUTBOX_DEB_DIR}/copyright ${CMAKE_BINARY_DIR}/deb/changelog.Debian.gz
          DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${pkg} COMPONENT ${comp})
  if(EXISTS ${OUTBOX_DEB_DIR}/${pkg}.lintian-overrides)
    install(FILES ${OUTBOX_DEB_DIR}/${pkg}.lintian-overrides
            DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides RENAME ${pkg}
            COMPONENT ${comp})
  endif()
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME outbox-toolkit)
set(CPACK_PACKAGE_VENDOR "outbox-toolkit developers")
set(CPACK_PACKAGE_CONTACT "outbox-toolkit developers <outbox-toolkit@example.org>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL toolkit lib dev)
set(CPACK_STRIP_FILES ON)
# /etc/outbox is outside the prefix.
set(CPACK_SET_DESTDIR ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)

set(CPACK_DEBIAN_TOOLKIT_PACKAGE_NAME outbox-toolkit)
set(CPACK_DEBIAN_TOOLKIT_PACKAGE_SECTION net)
set(CPACK_COMPONENT_TOOLKIT_DESCRIPTION
"transactional outbox relay and projector for PostgreSQL and Kafka
outbox-relay tails PostgreSQL's logical replication stream (pgoutput) and
publishes every outbox row to Kafka as Avro, confirming a WAL position only
after Kafka acknowledged everything before it. outbox-projector consumes those
topics and keeps read models up to date, each effect exactly once.
outbox-moderation is the example blog's moderation service. systemd units run
one instance per /etc/outbox/NAME.ini.")

set(CPACK_DEBIAN_LIB_PACKAGE_NAME liboutbox-consumer${OUTBOX_CONSUMER_SOVERSION})
set(CPACK_DEBIAN_LIB_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(CPACK_DEBIAN_LIB_PACKAGE_CONTROL_EXTRA ${OUTBOX_DEB_DIR}/liboutbox-consumer0/triggers
    ${OUTBOX_DEB_DIR}/liboutbox-consumer0/postinst ${OUTBOX_DEB_DIR}/liboutbox-consumer0/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_COMPONENT_LIB_DESCRIPTION
"custom transactional-outbox consumers in C (shared library)
liboutbox-consumer runs a C handler per Kafka event on outbox-projector's
machinery: per batch one PostgreSQL transaction holds the inbox (dedup) rows,
whatever the handler writes (business rows and outbox rows of follow-up
events) and the Kafka offsets, so each effect happens exactly once.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME liboutbox-consumer-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "liboutbox-consumer${OUTBOX_CONSUMER_SOVERSION} (= ${PROJECT_VERSION}-1), libpq-dev, libjansson-dev, librdkafka-dev, libavro-dev, libcurl4-openssl-dev | libcurl-dev, libmicrohttpd-dev, libinih-dev")
set(CPACK_COMPONENT_DEV_DESCRIPTION
"custom transactional-outbox consumers in C (development files)
Headers (<outbox/outbox_consumer.h>), the static library, the pkg-config
file (outbox-consumer) and the CMake package (outbox-toolkit) for
liboutbox-consumer, which runs a C handler per Kafka event with the inbox
rows, the handler's writes and the offsets in one PostgreSQL transaction.")

include(CPack)
