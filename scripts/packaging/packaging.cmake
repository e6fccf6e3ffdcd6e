# Install layout and the Debian package (CPack DEB), included from the top-level CMakeLists.txt.
# scripts/package.sh configures a build with CMAKE_INSTALL_PREFIX=/usr and runs cpack; the file
# list below is the package's whole content.
#
#   /usr/bin/holdgate, /usr/bin/holdgate-demo-upstream
#   /usr/share/holdgate/{approval-ui,schema,policies}   the page (also embedded in the binary), JSON
#                                                       schemas, OpenAPI, migrations, example policies
#   /etc/holdgate/holdgate.json, /etc/holdgate/policy.json   conffiles: loopback, SQLite in /var/lib/holdgate
#   /lib/systemd/system/holdgate.service                hardened unit (DynamicUser, Type=notify)
#   /usr/share/man/man1/holdgate.1.gz, holdgate-demo-upstream.1.gz
#   /usr/share/doc/holdgate/{copyright,changelog.gz,README.md}

set(HG_PKG_DIR "${CMAKE_SOURCE_DIR}/scripts/packaging")
set(HG_PKG_GEN "${CMAKE_BINARY_DIR}/packaging")
# Maintainer: set HOLDGATE_PACKAGE_MAINTAINER to the real address when publishing the package
# (the changelog's trailer line names the same one).
set(HOLDGATE_PACKAGE_MAINTAINER "holdgate maintainers <maintainers@holdgate.example.org>" CACHE STRING
    "Maintainer field of the Debian package")

# `cmake --install` / cpack must not build every target first (the tests are not packaged).
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY TRUE)

install(TARGETS holdgate holdgate-demo-upstream RUNTIME DESTINATION bin)
install(DIRECTORY "${CMAKE_SOURCE_DIR}/approval-ui/" DESTINATION share/holdgate/approval-ui)
install(FILES "${CMAKE_SOURCE_DIR}/schema/policy.schema.json" "${CMAKE_SOURCE_DIR}/schema/config.schema.json"
              "${CMAKE_SOURCE_DIR}/schema/openapi.yaml"
        DESTINATION share/holdgate/schema)
install(DIRECTORY "${CMAKE_SOURCE_DIR}/schema/migrations" DESTINATION share/holdgate/schema)
install(DIRECTORY "${CMAKE_SOURCE_DIR}/schema/policies/" DESTINATION share/holdgate/policies)
install(FILES "${CMAKE_SOURCE_DIR}/README.md" DESTINATION share/doc/holdgate)
install(FILES "${HG_PKG_DIR}/copyright" DESTINATION share/doc/holdgate)

# Compressed files (Debian policy: man pages and changelogs are gzip -9n, no timestamp). A native
# package's changelog is changelog.gz.
file(MAKE_DIRECTORY "${HG_PKG_GEN}")
configure_file("${HG_PKG_DIR}/changelog.in" "${HG_PKG_GEN}/changelog" @ONLY)
set(hg_pkg_gz)
foreach(src "${HG_PKG_DIR}/holdgate.1" "${HG_PKG_DIR}/holdgate-demo-upstream.1" "${HG_PKG_GEN}/changelog")
  get_filename_component(name "${src}" NAME)
  add_custom_command(OUTPUT "${HG_PKG_GEN}/${name}.gz"
                     COMMAND sh -c "gzip -9nc '${src}' > '${HG_PKG_GEN}/${name}.gz'"
                     DEPENDS "${src}" VERBATIM)
  list(APPEND hg_pkg_gz "${HG_PKG_GEN}/${name}.gz")
endforeach()
add_custom_target(holdgate-package-files DEPENDS ${hg_pkg_gz})
add_dependencies(holdgate holdgate-package-files)
install(FILES "${HG_PKG_GEN}/holdgate.1.gz" "${HG_PKG_GEN}/holdgate-demo-upstream.1.gz" DESTINATION share/man/man1)
install(FILES "${HG_PKG_GEN}/changelog.gz" DESTINATION share/doc/holdgate)

# Absolute destinations: /etc and /lib stay where they are whatever the prefix.
install(FILES "${HG_PKG_DIR}/holdgate.json" DESTINATION /etc/holdgate)
install(FILES "${CMAKE_SOURCE_DIR}/schema/policies/demo.json" DESTINATION /etc/holdgate RENAME policy.json)
install(FILES "${HG_PKG_DIR}/holdgate.service" DESTINATION /lib/systemd/system)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME holdgate)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "${HOLDGATE_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "human-in-the-loop approval gateway for the Model Context Protocol")
# CPack puts the summary first and indents this text itself; an empty line separates paragraphs.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "holdgate sits between AI agents and an MCP server. Every tools/call is
checked against a policy: allowed calls pass through, denied and hidden
tools are refused, and calls that cannot be undone are held until a human
approves or rejects them from a browser, the command line or Slack. Every
step lands in a tamper-evident audit log.

This package ships the gateway, a hardened systemd service, a default
configuration on loopback with SQLite under /var/lib/holdgate, example
policies and a small demo MCP server (holdgate-demo-upstream).")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # holdgate_VERSION_amd64.deb
# dpkg-shlibdeps computes Depends from the binaries' NEEDED libraries (libcpp-httplib0.11,
# libsqlite3-0, libssl3, libstdc++6, libc6, …).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
# Everything under /etc is a conffile: dpkg keeps local edits on upgrade.
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA "${HG_PKG_DIR}/conffiles")
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_SET_DESTDIR OFF)
include(CPack)
