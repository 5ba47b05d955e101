/*
 * Signer recovery with the system's libsecp256k1 (Debian's libsecp256k1-dev, 0.2 or later, with its recovery
 * module), for the indexer's worker threads: the `secp256k1` npm package bundles a 2019 libsecp256k1 that takes
 * about 1.5 times the CPU per recovery (npm run bench:signatures). Built at install by scripts/build-native.sh.
 *
 * recover(signature64, recid, digest32, publicKey65) writes the uncompressed public key whose key made the compact
 * signature over the digest and returns true, or returns false when no key is recovered.
 */
#include <node_api.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>

/* The bytes of a Uint8Array argument of exactly `length` bytes, or NULL. */
static unsigned char *bytes_of(napi_env env, napi_value value, size_t length) {
  bool is_typed_array = false;
  napi_typedarray_type type;
  size_t actual;
  void *data;
  if (napi_is_typedarray(env, value, &is_typed_array) != napi_ok || !is_typed_array) return NULL;
  if (napi_get_typedarray_info(env, value, &type, &actual, &data, NULL, NULL) != napi_ok) return NULL;
  return type == napi_uint8_array && actual == length ? data : NULL;
}

static napi_value recover(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  secp256k1_context *context;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || napi_get_instance_data(env, (void **)&context) != napi_ok) {
    return NULL;
  }
  int32_t recid = -1;
  unsigned char *signature = argc == 4 ? bytes_of(env, argv[0], 64) : NULL;
  unsigned char *digest = argc == 4 ? bytes_of(env, argv[2], 32) : NULL;
  unsigned char *output = argc == 4 ? bytes_of(env, argv[3], 65) : NULL;
  if (!signature || !digest || !output || napi_get_value_int32(env, argv[1], &recid) != napi_ok || recid < 0 || recid > 3) {
    napi_throw_type_error(env, NULL, "recover(signature64, recid 0-3, digest32, publicKey65)");
    return NULL;
  }
  secp256k1_ecdsa_recoverable_signature parsed;
  secp256k1_pubkey key;
  size_t output_length = 65;
  int recovered = secp256k1_ecdsa_recoverable_signature_parse_compact(context, &parsed, signature, recid) &&
                  secp256k1_ecdsa_recover(context, &key, &parsed, digest) &&
                  secp256k1_ec_pubkey_serialize(context, output, &output_length, &key, SECP256K1_EC_UNCOMPRESSED);
  napi_value result;
  napi_get_boolean(env, recovered, &result);
  return result;
}

static void destroy_context(napi_env env, void *context, void *hint) {
  (void)env;
  (void)hint;
  secp256k1_context_destroy(context);
}

/* One context per thread that loads the addon (the main thread and each worker), destroyed with it. */
NAPI_MODULE_INIT() {
  secp256k1_context *context = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  napi_value function;
  if (!context || napi_set_instance_data(env, context, destroy_context, NULL) != napi_ok ||
      napi_create_function(env, "recover", NAPI_AUTO_LENGTH, recover, NULL, &function) != napi_ok ||
      napi_set_named_property(env, exports, "recover", function) != napi_ok) {
    napi_throw_error(env, NULL, "libsecp256k1: could not create a context");
    return NULL;
  }
  return exports;
}
