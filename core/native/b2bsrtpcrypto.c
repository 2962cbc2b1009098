/*
 * libsrtp's AES counter mode (128/192/256) and HMAC-SHA1 replaced by OpenSSL implementations, through libsrtp's
 * public srtp_replace_cipher_type / srtp_replace_auth_type.
 *
 * Why: Debian builds libsrtp2 on NSS, whose AES-ICM creates a PK11 context for every packet (set_iv) and whose
 * HMAC goes through PK11 for every packet too: profiled on the media bench, libsoftokn3 took ~45 % of a media
 * worker's CPU (README "Performance"). rtpengine does its SRTP crypto with OpenSSL; so do we now, keeping libsrtp
 * for everything else (key derivation, replay windows, rollover counters, SRTCP, MKI, GCM).
 *
 * Semantics follow libsrtp's cipher/auth interface (cipher.h, auth.h): an AES-ICM key is the session key followed
 * by the 14-byte salt; set_iv receives the RFC 3711 section 4.1.1 IV without the salt (SSRC and packet index),
 * which is XORed with the salt to form the counter block; encrypt = decrypt = XOR with the key stream, continuing
 * across calls until the next set_iv. HMAC-SHA1 (RFC 2104): start, update*, compute (last data, then the tag
 * truncated to tag_len). libsrtp runs each replacement against its own test vectors (and ours, the same ones) and
 * random invertibility tests before it takes it; a refusal leaves libsrtp's own implementation in place.
 *
 * HMAC uses OpenSSL's SHA1_* low-level calls (deprecated in OpenSSL 3, still shipped): the inner and outer pad
 * states are computed once per key and copied by assignment per packet, where the EVP interface would allocate
 * on every copy.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <glib.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <srtp2/auth.h>
#include <srtp2/cipher.h>
#include <string.h>

/* In libsrtp's crypto_kernel.h, not installed: the types in use, for their test vectors. */
extern srtp_cipher_type_t *srtp_crypto_kernel_get_cipher_type(srtp_cipher_type_id_t id);
extern srtp_auth_type_t *srtp_crypto_kernel_get_auth_type(srtp_auth_type_id_t id);

#define SALT_LEN 14

typedef struct {
  EVP_CIPHER_CTX *ctx;
  const EVP_CIPHER *evp;
  int key_size;
  guint8 offset[16]; /* salt, then two zero octets */
} Icm;

static srtp_cipher_type_t icm_types[3];

static srtp_err_status_t icm_alloc(srtp_cipher_pointer_t *cp, int key_len, int tag_len) {
  (void)tag_len;
  int slot;
  switch (key_len) {
    case 16 + SALT_LEN: slot = 0; break;
    case 24 + SALT_LEN: slot = 1; break;
    case 32 + SALT_LEN: slot = 2; break;
    default: return srtp_err_status_bad_param;
  }
  srtp_cipher_t *c = g_new0(srtp_cipher_t, 1);
  Icm *icm = g_new0(Icm, 1);
  icm->ctx = EVP_CIPHER_CTX_new();
  if (!icm->ctx) {
    g_free(icm);
    g_free(c);
    return srtp_err_status_alloc_fail;
  }
  icm->key_size = key_len - SALT_LEN;
  icm->evp = slot == 0 ? EVP_aes_128_ctr() : slot == 1 ? EVP_aes_192_ctr() : EVP_aes_256_ctr();
  c->type = &icm_types[slot];
  c->state = icm;
  c->key_len = key_len;
  c->algorithm = icm_types[slot].id;
  *cp = c;
  return srtp_err_status_ok;
}

static srtp_err_status_t icm_dealloc(srtp_cipher_pointer_t c) {
  Icm *icm = c->state;
  if (icm) {
    EVP_CIPHER_CTX_free(icm->ctx);
    memset(icm, 0, sizeof *icm);
    g_free(icm);
  }
  g_free(c);
  return srtp_err_status_ok;
}

static srtp_err_status_t icm_init(void *state, const uint8_t *key) {
  Icm *icm = state;
  memset(icm->offset, 0, sizeof icm->offset);
  memcpy(icm->offset, key + icm->key_size, SALT_LEN);
  return EVP_EncryptInit_ex(icm->ctx, icm->evp, NULL, key, NULL) == 1 ? srtp_err_status_ok : srtp_err_status_cipher_fail;
}

static srtp_err_status_t icm_set_iv(void *state, uint8_t *iv, srtp_cipher_direction_t direction) {
  (void)direction;
  Icm *icm = state;
  guint8 counter[16];
  for (int i = 0; i < 16; i++) counter[i] = iv[i] ^ icm->offset[i];
  return EVP_EncryptInit_ex(icm->ctx, NULL, NULL, NULL, counter) == 1 ? srtp_err_status_ok : srtp_err_status_cipher_fail;
}

static srtp_err_status_t icm_crypt(void *state, uint8_t *buffer, unsigned int *octets) {
  Icm *icm = state;
  int out = 0;
  if (*octets > G_MAXINT) return srtp_err_status_bad_param;
  return EVP_EncryptUpdate(icm->ctx, buffer, &out, buffer, (int)*octets) == 1 ? srtp_err_status_ok : srtp_err_status_cipher_fail;
}

typedef struct {
  SHA_CTX inner, outer, work;
} Hmac;

static srtp_auth_type_t hmac_type;

static srtp_err_status_t hmac_alloc(srtp_auth_pointer_t *ap, int key_len, int out_len) {
  if (out_len > SHA_DIGEST_LENGTH || key_len < 0) return srtp_err_status_bad_param;
  srtp_auth_t *a = g_new0(srtp_auth_t, 1);
  a->type = &hmac_type;
  a->state = g_new0(Hmac, 1);
  a->out_len = out_len;
  a->key_len = key_len;
  a->prefix_len = 0;
  *ap = a;
  return srtp_err_status_ok;
}

static srtp_err_status_t hmac_dealloc(srtp_auth_pointer_t a) {
  if (a->state) {
    memset(a->state, 0, sizeof(Hmac));
    g_free(a->state);
  }
  g_free(a);
  return srtp_err_status_ok;
}

static srtp_err_status_t hmac_init(void *state, const uint8_t *key, int key_len) {
  Hmac *h = state;
  guint8 block[SHA_CBLOCK], ipad[SHA_CBLOCK], opad[SHA_CBLOCK];
  memset(block, 0, sizeof block);
  if (key_len > SHA_CBLOCK) SHA1(key, (size_t)key_len, block);
  else memcpy(block, key, (size_t)key_len);
  for (int i = 0; i < SHA_CBLOCK; i++) {
    ipad[i] = block[i] ^ 0x36;
    opad[i] = block[i] ^ 0x5c;
  }
  SHA1_Init(&h->inner);
  SHA1_Update(&h->inner, ipad, sizeof ipad);
  SHA1_Init(&h->outer);
  SHA1_Update(&h->outer, opad, sizeof opad);
  h->work = h->inner;
  memset(block, 0, sizeof block);
  memset(ipad, 0, sizeof ipad);
  memset(opad, 0, sizeof opad);
  return srtp_err_status_ok;
}

static srtp_err_status_t hmac_start(void *state) {
  Hmac *h = state;
  h->work = h->inner;
  return srtp_err_status_ok;
}

static srtp_err_status_t hmac_update(void *state, const uint8_t *buffer, int octets) {
  Hmac *h = state;
  if (octets < 0) return srtp_err_status_bad_param;
  SHA1_Update(&h->work, buffer, (size_t)octets);
  return srtp_err_status_ok;
}

static srtp_err_status_t hmac_compute(void *state, const uint8_t *buffer, int octets, int tag_len, uint8_t *tag) {
  Hmac *h = state;
  guint8 digest[SHA_DIGEST_LENGTH];
  if (octets < 0 || tag_len < 0 || tag_len > SHA_DIGEST_LENGTH) return srtp_err_status_bad_param;
  SHA1_Update(&h->work, buffer, (size_t)octets);
  SHA1_Final(digest, &h->work);
  SHA_CTX outer = h->outer;
  SHA1_Update(&outer, digest, sizeof digest);
  SHA1_Final(digest, &outer);
  memcpy(tag, digest, (size_t)tag_len);
  return srtp_err_status_ok;
}

static gboolean replaced;

const gchar *b2b_srtp_crypto_backend(void) { return replaced ? "openssl" : "libsrtp"; }

gboolean b2b_srtp_crypto_use_openssl(void) {
  static const srtp_cipher_type_id_t icm_ids[3] = { SRTP_AES_ICM_128, SRTP_AES_ICM_192, SRTP_AES_ICM_256 };
  static const char *const icm_names[3] = { "AES-128 counter mode (OpenSSL)", "AES-192 counter mode (OpenSSL)", "AES-256 counter mode (OpenSSL)" };
  gboolean all = TRUE;
  for (int i = 0; i < 3; i++) {
    const srtp_cipher_type_t *current = srtp_crypto_kernel_get_cipher_type(icm_ids[i]);
    if (!current) continue; /* this libsrtp build lacks the size: nothing to replace */
    icm_types[i] = (srtp_cipher_type_t){ icm_alloc, icm_dealloc, icm_init, NULL, icm_crypt, icm_crypt, icm_set_iv, NULL,
                                         icm_names[i], current->test_data, icm_ids[i] };
    srtp_err_status_t status = srtp_replace_cipher_type(&icm_types[i], icm_ids[i]);
    if (status != srtp_err_status_ok) {
      g_warning("b2bsrtp: libsrtp refused the OpenSSL %s (status %d): its own implementation stays", icm_names[i], status);
      all = FALSE;
    }
  }
  const srtp_auth_type_t *current = srtp_crypto_kernel_get_auth_type(SRTP_HMAC_SHA1);
  if (current) {
    hmac_type = (srtp_auth_type_t){ hmac_alloc, hmac_dealloc, hmac_init, hmac_compute, hmac_update, hmac_start,
                                    "HMAC-SHA1 (OpenSSL)", current->test_data, SRTP_HMAC_SHA1 };
    srtp_err_status_t status = srtp_replace_auth_type(&hmac_type, SRTP_HMAC_SHA1);
    if (status != srtp_err_status_ok) {
      g_warning("b2bsrtp: libsrtp refused the OpenSSL HMAC-SHA1 (status %d): its own implementation stays", status);
      all = FALSE;
    }
  }
  replaced = all;
  return all;
}
