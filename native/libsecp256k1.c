/*
 * Signer recovery with the system's libsecp256k1 (Debian's libsecp256k1-dev, 0.2 or later, with its recovery
 * module), for the indexer's worker threads: the `secp256k1` npm package bundles a 2019 libsecp256k1 that takes
 * about 1.5 times the CPU per recovery (npm run bench:signatures). Built at install by scripts/build-native.sh.
 *
 * recover(signature64, recid, digest32, publicKey65) writes the uncompressed public key whose key made the compact
 * signature over the digest and returns true, or returns false when no key is recovered.
 *
 * recoverSigners(jobs, out[, digests]) does a whole part of a range in one call, so that a worker hashes and recovers
 * without a JavaScript allocation per signature: for each job of `jobs` (laid out by src/indexer/signatures.ts's
 * SignatureJobs) it hashes the attestation's EIP-712 struct, then the digest in its domain, recovers the signer's
 * public key and writes, at 21 bytes a job in `out`, 1 and the address (keccak256 of the key's 64 bytes, last 20),
 * or 0 when no key is recovered; with `digests`, each job's digest too (32 bytes a job, for the tests). A job:
 *   domain separator (32) | signature r || s || v (65, v 27 or 28) | item count (1) | items,
 * an item being 0 and a 32-byte word of the struct's encoding, or 1, a length (4, little-endian) and the bytes whose
 * keccak256 is the word (a string's UTF-8, a bytes32[]'s elements). It returns the number of jobs.
 */
#include <stdint.h>
#include <string.h>
#include <node_api.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>

/* ----- keccak256 (Keccak-f[1600], rate 136 bytes, Ethereum's padding 0x01 ... 0x80) ----- */

static const uint64_t ROUND_CONSTANTS[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL, 0x000000000000808bULL,
    0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL, 0x000000000000008aULL, 0x0000000000000088ULL,
    0x0000000080008009ULL, 0x000000008000000aULL, 0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL,
    0x8000000000008003ULL, 0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL};
#define ROTL64(x, n) (((x) << (n)) | ((x) >> (64 - (n))))

/*
 * The permutation, its steps written out lane by lane (lane x + 5y in a<x+5y>; b holds the lanes after rho and pi),
 * about four times as fast as the loops of the compact reference version.
 */
static void keccak_f1600(uint64_t state[25]) {
  uint64_t a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24;
  uint64_t b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15, b16, b17, b18, b19, b20, b21, b22, b23, b24;
  uint64_t c0, c1, c2, c3, c4, d0, d1, d2, d3, d4;
  a0 = state[0];
  a1 = state[1];
  a2 = state[2];
  a3 = state[3];
  a4 = state[4];
  a5 = state[5];
  a6 = state[6];
  a7 = state[7];
  a8 = state[8];
  a9 = state[9];
  a10 = state[10];
  a11 = state[11];
  a12 = state[12];
  a13 = state[13];
  a14 = state[14];
  a15 = state[15];
  a16 = state[16];
  a17 = state[17];
  a18 = state[18];
  a19 = state[19];
  a20 = state[20];
  a21 = state[21];
  a22 = state[22];
  a23 = state[23];
  a24 = state[24];
  for (int round = 0; round < 24; round++) {
    c0 = a0 ^ a5 ^ a10 ^ a15 ^ a20;
    c1 = a1 ^ a6 ^ a11 ^ a16 ^ a21;
    c2 = a2 ^ a7 ^ a12 ^ a17 ^ a22;
    c3 = a3 ^ a8 ^ a13 ^ a18 ^ a23;
    c4 = a4 ^ a9 ^ a14 ^ a19 ^ a24;
    d0 = c4 ^ ROTL64(c1, 1);
    d1 = c0 ^ ROTL64(c2, 1);
    d2 = c1 ^ ROTL64(c3, 1);
    d3 = c2 ^ ROTL64(c4, 1);
    d4 = c3 ^ ROTL64(c0, 1);
    b0 = a0 ^ d0;
    b16 = ROTL64(a5 ^ d0, 36);
    b7 = ROTL64(a10 ^ d0, 3);
    b23 = ROTL64(a15 ^ d0, 41);
    b14 = ROTL64(a20 ^ d0, 18);
    b10 = ROTL64(a1 ^ d1, 1);
    b1 = ROTL64(a6 ^ d1, 44);
    b17 = ROTL64(a11 ^ d1, 10);
    b8 = ROTL64(a16 ^ d1, 45);
    b24 = ROTL64(a21 ^ d1, 2);
    b20 = ROTL64(a2 ^ d2, 62);
    b11 = ROTL64(a7 ^ d2, 6);
    b2 = ROTL64(a12 ^ d2, 43);
    b18 = ROTL64(a17 ^ d2, 15);
    b9 = ROTL64(a22 ^ d2, 61);
    b5 = ROTL64(a3 ^ d3, 28);
    b21 = ROTL64(a8 ^ d3, 55);
    b12 = ROTL64(a13 ^ d3, 25);
    b3 = ROTL64(a18 ^ d3, 21);
    b19 = ROTL64(a23 ^ d3, 56);
    b15 = ROTL64(a4 ^ d4, 27);
    b6 = ROTL64(a9 ^ d4, 20);
    b22 = ROTL64(a14 ^ d4, 39);
    b13 = ROTL64(a19 ^ d4, 8);
    b4 = ROTL64(a24 ^ d4, 14);
    a0 = b0 ^ (~b1 & b2);
    a1 = b1 ^ (~b2 & b3);
    a2 = b2 ^ (~b3 & b4);
    a3 = b3 ^ (~b4 & b0);
    a4 = b4 ^ (~b0 & b1);
    a5 = b5 ^ (~b6 & b7);
    a6 = b6 ^ (~b7 & b8);
    a7 = b7 ^ (~b8 & b9);
    a8 = b8 ^ (~b9 & b5);
    a9 = b9 ^ (~b5 & b6);
    a10 = b10 ^ (~b11 & b12);
    a11 = b11 ^ (~b12 & b13);
    a12 = b12 ^ (~b13 & b14);
    a13 = b13 ^ (~b14 & b10);
    a14 = b14 ^ (~b10 & b11);
    a15 = b15 ^ (~b16 & b17);
    a16 = b16 ^ (~b17 & b18);
    a17 = b17 ^ (~b18 & b19);
    a18 = b18 ^ (~b19 & b15);
    a19 = b19 ^ (~b15 & b16);
    a20 = b20 ^ (~b21 & b22);
    a21 = b21 ^ (~b22 & b23);
    a22 = b22 ^ (~b23 & b24);
    a23 = b23 ^ (~b24 & b20);
    a24 = b24 ^ (~b20 & b21);
    a0 ^= ROUND_CONSTANTS[round];
  }
  state[0] = a0;
  state[1] = a1;
  state[2] = a2;
  state[3] = a3;
  state[4] = a4;
  state[5] = a5;
  state[6] = a6;
  state[7] = a7;
  state[8] = a8;
  state[9] = a9;
  state[10] = a10;
  state[11] = a11;
  state[12] = a12;
  state[13] = a13;
  state[14] = a14;
  state[15] = a15;
  state[16] = a16;
  state[17] = a17;
  state[18] = a18;
  state[19] = a19;
  state[20] = a20;
  state[21] = a21;
  state[22] = a22;
  state[23] = a23;
  state[24] = a24;
}

#define KECCAK_RATE 136

/* A keccak256 being absorbed: lanes are little-endian, as on x86_64 and arm64 (checked at load). */
typedef struct {
  uint64_t state[25];
  size_t at;
} keccak_t;

static void keccak_init(keccak_t *k) {
  memset(k, 0, sizeof *k);
}

static void keccak_absorb(keccak_t *k, const unsigned char *data, size_t length) {
  unsigned char *bytes = (unsigned char *)k->state;
  while (length > 0) {
    size_t take = KECCAK_RATE - k->at < length ? KECCAK_RATE - k->at : length;
    for (size_t i = 0; i < take; i++) bytes[k->at + i] ^= data[i];
    k->at += take;
    data += take;
    length -= take;
    if (k->at == KECCAK_RATE) {
      keccak_f1600(k->state);
      k->at = 0;
    }
  }
}

static void keccak_final(keccak_t *k, unsigned char out[32]) {
  unsigned char *bytes = (unsigned char *)k->state;
  bytes[k->at] ^= 0x01;
  bytes[KECCAK_RATE - 1] ^= 0x80;
  keccak_f1600(k->state);
  memcpy(out, bytes, 32);
}

static void keccak256(const unsigned char *data, size_t length, unsigned char out[32]) {
  keccak_t k;
  keccak_init(&k);
  keccak_absorb(&k, data, length);
  keccak_final(&k, out);
}

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

#define JOB_HEAD (32 + 65 + 1)
#define OUT_SIZE 21

/*
 * The EIP-712 digest of the job at `job` (of `left` bytes), and where the next job starts; NULL when the job does not
 * fit in what is left or has no item.
 */
static const unsigned char *job_digest(const unsigned char *job, size_t left, unsigned char digest[32]) {
  if (left < JOB_HEAD || job[97] == 0) return NULL;
  const unsigned char *at = job + JOB_HEAD, *end = job + left;
  keccak_t hash_struct;
  keccak_init(&hash_struct);
  for (unsigned item = 0; item < job[97]; item++) {
    if (at >= end) return NULL;
    if (*at == 0) {
      if ((size_t)(end - at) < 33) return NULL;
      keccak_absorb(&hash_struct, at + 1, 32);
      at += 33;
    } else if (*at == 1) {
      if ((size_t)(end - at) < 5) return NULL;
      uint32_t length = (uint32_t)at[1] | (uint32_t)at[2] << 8 | (uint32_t)at[3] << 16 | (uint32_t)at[4] << 24;
      if ((size_t)(end - at) - 5 < length) return NULL;
      unsigned char word[32];
      keccak256(at + 5, length, word);
      keccak_absorb(&hash_struct, word, 32);
      at += 5 + length;
    } else {
      return NULL;
    }
  }
  unsigned char envelope[66] = {0x19, 0x01};
  memcpy(envelope + 2, job, 32);
  keccak_final(&hash_struct, envelope + 34);
  keccak256(envelope, sizeof envelope, digest);
  return at;
}

/* The signer's address (20 bytes) from the 65-byte signature over the digest; 0 when no key is recovered. */
static int recover_address(const secp256k1_context *context, const unsigned char signature[65], const unsigned char digest[32], unsigned char address[20]) {
  secp256k1_ecdsa_recoverable_signature parsed;
  secp256k1_pubkey key;
  unsigned char serialized[65], hash[32];
  size_t length = sizeof serialized;
  int recid = signature[64] - 27;
  if (recid < 0 || recid > 1 || !secp256k1_ecdsa_recoverable_signature_parse_compact(context, &parsed, signature, recid) ||
      !secp256k1_ecdsa_recover(context, &key, &parsed, digest) ||
      !secp256k1_ec_pubkey_serialize(context, serialized, &length, &key, SECP256K1_EC_UNCOMPRESSED)) {
    return 0;
  }
  keccak256(serialized + 1, 64, hash);
  memcpy(address, hash + 12, 20);
  return 1;
}

/* The bytes and length of a Uint8Array argument, or NULL. */
static unsigned char *any_bytes_of(napi_env env, napi_value value, size_t *length) {
  bool is_typed_array = false;
  napi_typedarray_type type;
  void *data;
  if (napi_is_typedarray(env, value, &is_typed_array) != napi_ok || !is_typed_array) return NULL;
  if (napi_get_typedarray_info(env, value, &type, length, &data, NULL, NULL) != napi_ok || type != napi_uint8_array) return NULL;
  return data ? data : (unsigned char *)"";
}

static napi_value recover_signers(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  secp256k1_context *context;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || napi_get_instance_data(env, (void **)&context) != napi_ok) {
    return NULL;
  }
  size_t jobs_length = 0, out_length = 0, digests_length = 0;
  const unsigned char *jobs = argc >= 2 ? any_bytes_of(env, argv[0], &jobs_length) : NULL;
  unsigned char *out = argc >= 2 ? any_bytes_of(env, argv[1], &out_length) : NULL;
  unsigned char *digests = argc == 3 ? any_bytes_of(env, argv[2], &digests_length) : NULL;
  if (!jobs || !out || (argc == 3 && !digests)) {
    napi_throw_type_error(env, NULL, "recoverSigners(jobs, out[, digests])");
    return NULL;
  }
  const unsigned char *at = jobs, *end = jobs + jobs_length;
  uint32_t count = 0;
  while (at < end) {
    unsigned char digest[32];
    const unsigned char *next = job_digest(at, (size_t)(end - at), digest);
    if (!next || out_length < OUT_SIZE * ((size_t)count + 1) || (digests && digests_length < 32 * ((size_t)count + 1))) {
      napi_throw_range_error(env, NULL, "recoverSigners: a malformed job, or too small an output");
      return NULL;
    }
    if (digests) memcpy(digests + 32 * count, digest, 32);
    unsigned char *result = out + OUT_SIZE * count;
    result[0] = (unsigned char)recover_address(context, at + 32, digest, result + 1);
    if (!result[0]) memset(result + 1, 0, 20);
    at = next;
    count++;
  }
  napi_value result;
  napi_create_uint32(env, count, &result);
  return result;
}

static void destroy_context(napi_env env, void *context, void *hint) {
  (void)env;
  (void)hint;
  secp256k1_context_destroy(context);
}

/* One context per thread that loads the addon (the main thread and each worker), destroyed with it. */
NAPI_MODULE_INIT() {
  const uint16_t one = 1;
  if (*(const unsigned char *)&one != 1) {
    napi_throw_error(env, NULL, "native/: keccak256 here assumes a little-endian machine");
    return NULL;
  }
  secp256k1_context *context = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  napi_value recover_function, recover_signers_function;
  if (!context || napi_set_instance_data(env, context, destroy_context, NULL) != napi_ok ||
      napi_create_function(env, "recover", NAPI_AUTO_LENGTH, recover, NULL, &recover_function) != napi_ok ||
      napi_set_named_property(env, exports, "recover", recover_function) != napi_ok ||
      napi_create_function(env, "recoverSigners", NAPI_AUTO_LENGTH, recover_signers, NULL, &recover_signers_function) != napi_ok ||
      napi_set_named_property(env, exports, "recoverSigners", recover_signers_function) != napi_ok) {
    napi_throw_error(env, NULL, "libsecp256k1: could not create a context");
    return NULL;
  }
  return exports;
}
