/*
 * Read-only shared memory maps of files, built at install by scripts/build-native.sh:
 * - stored code trees (src/codes/tree-file.ts), so that a Merkle proof (every signed-in scan's) reads its nodes from
 *   the page cache through the process's page tables instead of a system call per node: each pread cost a proof
 *   about as much as all the rest of it on a virtual machine. Tree files are never written once renamed into place.
 * - the start of a SQLite store's -shm file (src/store/kept-read.ts), which SQLite's connections write as they
 *   commit: MAP_SHARED shows their writes.
 *
 * map(fd, length) returns a Buffer over the file's first `length` bytes, unmapped when the Buffer is collected.
 * Writing to it would crash the process: callers only ever copy and compare from it.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <node_api.h>

static void unmap(napi_env env, void *address, void *length) {
  (void)env;
  munmap(address, (size_t)(uintptr_t)length);
}

static napi_value map(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd = -1;
  int64_t length = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_value_int64(env, argv[1], &length) != napi_ok || fd < 0 || length <= 0) {
    napi_throw_type_error(env, NULL, "map(fd, length > 0)");
    return NULL;
  }
  /* Pages past the file's end would raise SIGBUS when read, not an error: refuse a length the file does not have. */
  struct stat file;
  if (fstat(fd, &file) != 0 || file.st_size < length) {
    napi_throw_error(env, NULL, "the file is shorter than the length to map");
    return NULL;
  }
  void *address = mmap(NULL, (size_t)length, PROT_READ, MAP_SHARED, fd, 0);
  if (address == MAP_FAILED) {
    napi_throw_error(env, NULL, strerror(errno));
    return NULL;
  }
  /* A proof touches a few scattered pages: reading ahead around each would only evict other pages. */
  madvise(address, (size_t)length, MADV_RANDOM);
  napi_value buffer;
  if (napi_create_external_buffer(env, (size_t)length, address, unmap, (void *)(uintptr_t)length, &buffer) != napi_ok) {
    munmap(address, (size_t)length);
    napi_throw_error(env, NULL, "the mapping is too large for a Buffer");
    return NULL;
  }
  return buffer;
}

NAPI_MODULE_INIT() {
  napi_value function;
  if (napi_create_function(env, "map", NAPI_AUTO_LENGTH, map, NULL, &function) != napi_ok ||
      napi_set_named_property(env, exports, "map", function) != napi_ok) {
    /* Thrown: a failed load is then one the loader knows of (it reads with pread), not an exports object without map(). */
    napi_throw_error(env, NULL, "native/tree-map: could not register map()");
    return NULL;
  }
  return exports;
}
