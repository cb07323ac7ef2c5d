# Runs at build time (cmake -P): schema -> .proto files -> FileDescriptorSet.
# Inputs: PROTOGEN PROTOC SCHEMA PACKAGE SOURCE_LOCK BUILD_LOCK PROTO_DIR IMPORT_ROOTS DESCRIPTORS
#         LEAN_DESCRIPTORS STAMP

# Work on a copy of the committed lock: the build never writes into the source tree.
if(EXISTS "${SOURCE_LOCK}")
  file(COPY_FILE "${SOURCE_LOCK}" "${BUILD_LOCK}")
else()
  file(REMOVE "${BUILD_LOCK}")
endif()

execute_process(
  COMMAND "${PROTOGEN}" "--schema=${SCHEMA}" "--out=${PROTO_DIR}" "--lock=${BUILD_LOCK}"
          "--package=${PACKAGE}"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pve-protogen failed (exit ${rc}) on ${SCHEMA}")
endif()

if(EXISTS "${SOURCE_LOCK}")
  file(SHA256 "${SOURCE_LOCK}" source_hash)
else()
  set(source_hash "")
endif()
file(SHA256 "${BUILD_LOCK}" build_hash)
if(NOT source_hash STREQUAL build_hash)
  message(NOTICE
    "NOTE: ${SCHEMA} has fields the committed lock ${SOURCE_LOCK} does not pin.\n"
    "      The build extended its own copy (${BUILD_LOCK}); the source tree is unchanged.\n"
    "      To pin the new numbers: scripts/update-lock.sh   (then commit the lock)")
endif()

string(REPLACE "." "/" package_dir "${PACKAGE}")
file(GLOB protos RELATIVE "${PROTO_DIR}" "${PROTO_DIR}/${package_dir}/*.proto")
list(SORT protos)
set(includes "-I${PROTO_DIR}")
foreach(root IN LISTS IMPORT_ROOTS)
  list(APPEND includes "-I${root}")
endforeach()
get_filename_component(out_dir "${DESCRIPTORS}" DIRECTORY)
file(MAKE_DIRECTORY "${out_dir}")
execute_process(
  COMMAND "${PROTOC}" ${includes} --include_imports --include_source_info
          "--descriptor_set_out=${DESCRIPTORS}.tmp" ${protos}
  WORKING_DIRECTORY "${PROTO_DIR}"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "protoc rejected the generated API protos in ${PROTO_DIR}")
endif()
# The same set without comments: what the gateway parses at start-up (reflection reads the
# full one lazily), a third of the size and of the start-up time.
execute_process(
  COMMAND "${PROTOC}" ${includes} --include_imports
          "--descriptor_set_out=${LEAN_DESCRIPTORS}.tmp" ${protos}
  WORKING_DIRECTORY "${PROTO_DIR}"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "protoc rejected the generated API protos in ${PROTO_DIR}")
endif()
# Unchanged descriptors keep their timestamp, so nothing downstream rebuilds.
foreach(out IN ITEMS "${DESCRIPTORS}" "${LEAN_DESCRIPTORS}")
  execute_process(COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${out}.tmp" "${out}")
  file(REMOVE "${out}.tmp")
endforeach()
list(LENGTH protos count)
message(STATUS "Proxmox API descriptor set: ${DESCRIPTORS} (${count} files)")
file(TOUCH "${STAMP}")
