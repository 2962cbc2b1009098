/* STUN Binding requests of an ICE-lite agent (see b2bstun.h). HMAC-SHA1 from OpenSSL's libcrypto. */
#include "b2bstun.h"
#include <gst/gst.h>
#include <openssl/hmac.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <string.h>

#define ATTR_USERNAME 0x0006
#define ATTR_MESSAGE_INTEGRITY 0x0008
#define ATTR_XOR_MAPPED_ADDRESS 0x0020
#define ATTR_USE_CANDIDATE 0x0025
#define ATTR_FINGERPRINT 0x8028
#define BINDING_REQUEST 0x0001
#define BINDING_SUCCESS 0x0101
#define FINGERPRINT_XOR 0x5354554eu

static guint32 crc_table[256];

static void crc_init(void) {
  for (guint32 i = 0; i < 256; i++) {
    guint32 c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
}

guint32 b2b_crc32(const guint8 *d, gsize len) {
  static gsize once = 0;
  if (g_once_init_enter(&once)) { crc_init(); g_once_init_leave(&once, 1); }
  guint32 c = 0xFFFFFFFFu;
  for (gsize i = 0; i < len; i++) c = crc_table[(c ^ d[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

gboolean b2b_stun_is_stun(const guint8 *d, gsize len) {
  return len >= 20 && d[0] <= 3 && GST_READ_UINT32_BE(d + 4) == B2B_STUN_MAGIC && (GST_READ_UINT16_BE(d + 2) & 3) == 0 &&
      (gsize)GST_READ_UINT16_BE(d + 2) + 20 == len;
}

/* HMAC-SHA1 over `len` bytes of `msg` whose length field is replaced by `length_field` (RFC 8489 section 14.5). */
static void integrity(const guint8 *msg, gsize len, guint16 length_field, const gchar *pwd, guint8 out[20]) {
  guint8 head[4];
  memcpy(head, msg, 2);
  GST_WRITE_UINT16_BE(head + 2, length_field);
  unsigned int out_len = 20;
  /* HMAC() in one go needs a contiguous buffer: copy (a STUN request is small). */
  guint8 *copy = g_malloc(len);
  memcpy(copy, msg, len);
  memcpy(copy, head, 4);
  HMAC(EVP_sha1(), pwd, (int)strlen(pwd), copy, len, out, &out_len);
  g_free(copy);
}

B2bStunResult b2b_stun_answer(const guint8 *req, gsize len, const gchar *local_ufrag, const gchar *local_pwd, const gchar *remote_ufrag,
    const guint8 *addr, gsize addr_len, guint16 port, guint8 *response, gsize *response_len, gboolean *use_candidate) {
  *use_candidate = FALSE;
  *response_len = 0;
  if (!b2b_stun_is_stun(req, len)) return B2B_STUN_MALFORMED;
  if (GST_READ_UINT16_BE(req) != BINDING_REQUEST) return B2B_STUN_NOT_REQUEST;
  if (!local_ufrag || !*local_ufrag || !local_pwd || !*local_pwd) return B2B_STUN_BAD_USERNAME;
  const guint8 *username = NULL;
  gsize username_len = 0, integrity_at = 0, fingerprint_at = 0;
  gsize at = 20;
  while (at + 4 <= len) {
    guint16 type = GST_READ_UINT16_BE(req + at), alen = GST_READ_UINT16_BE(req + at + 2);
    gsize next = at + 4 + ((alen + 3u) & ~3u);
    if (next > len) return B2B_STUN_MALFORMED;
    if (fingerprint_at) return B2B_STUN_MALFORMED; /* nothing may follow FINGERPRINT */
    if (integrity_at && type != ATTR_FINGERPRINT) { at = next; continue; } /* ignored after MESSAGE-INTEGRITY */
    switch (type) {
      case ATTR_USERNAME: username = req + at + 4; username_len = alen; break;
      case ATTR_USE_CANDIDATE: *use_candidate = TRUE; break;
      case ATTR_MESSAGE_INTEGRITY: if (alen != 20) return B2B_STUN_MALFORMED; integrity_at = at; break;
      case ATTR_FINGERPRINT: if (alen != 4) return B2B_STUN_MALFORMED; fingerprint_at = at; break;
      default: break;
    }
    at = next;
  }
  if (at != len || !integrity_at) return B2B_STUN_MALFORMED;
  if (fingerprint_at) {
    guint32 want = GST_READ_UINT32_BE(req + fingerprint_at + 4);
    if ((b2b_crc32(req, fingerprint_at) ^ FINGERPRINT_XOR) != want) return B2B_STUN_BAD_FINGERPRINT;
  }
  /* USERNAME = "<our ufrag>:<their ufrag>" (RFC 8445 section 7.2.2). */
  gsize lu = strlen(local_ufrag);
  if (!username || username_len <= lu || memcmp(username, local_ufrag, lu) != 0 || username[lu] != ':') return B2B_STUN_BAD_USERNAME;
  if (remote_ufrag && *remote_ufrag && (username_len - lu - 1 != strlen(remote_ufrag) || memcmp(username + lu + 1, remote_ufrag, username_len - lu - 1) != 0)) {
    return B2B_STUN_BAD_USERNAME;
  }
  guint8 mac[20];
  integrity(req, integrity_at, (guint16)(integrity_at + 24 - 20), local_pwd, mac);
  if (CRYPTO_memcmp(mac, req + integrity_at + 4, 20) != 0) return B2B_STUN_BAD_INTEGRITY;

  /* Success response: same transaction id, XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY, FINGERPRINT (RFC 8445 section 7.3.1). */
  guint8 *r = response;
  GST_WRITE_UINT16_BE(r, BINDING_SUCCESS);
  memcpy(r + 4, req + 4, 16); /* magic cookie + transaction id */
  gsize n = 20;
  GST_WRITE_UINT16_BE(r + n, ATTR_XOR_MAPPED_ADDRESS);
  GST_WRITE_UINT16_BE(r + n + 2, addr_len == 16 ? 20 : 8);
  r[n + 4] = 0;
  r[n + 5] = addr_len == 16 ? 2 : 1;
  GST_WRITE_UINT16_BE(r + n + 6, port ^ (B2B_STUN_MAGIC >> 16));
  for (gsize i = 0; i < addr_len; i++) r[n + 8 + i] = addr[i] ^ req[4 + i]; /* cookie then transaction id (IPv6) */
  n += 8 + addr_len;
  GST_WRITE_UINT16_BE(r + n, ATTR_MESSAGE_INTEGRITY);
  GST_WRITE_UINT16_BE(r + n + 2, 20);
  GST_WRITE_UINT16_BE(r + 2, (guint16)(n + 24 - 20));
  integrity(r, n, (guint16)(n + 24 - 20), local_pwd, r + n + 4);
  n += 24;
  GST_WRITE_UINT16_BE(r + 2, (guint16)(n + 8 - 20));
  GST_WRITE_UINT16_BE(r + n, ATTR_FINGERPRINT);
  GST_WRITE_UINT16_BE(r + n + 2, 4);
  GST_WRITE_UINT32_BE(r + n + 4, b2b_crc32(r, n) ^ FINGERPRINT_XOR);
  n += 8;
  *response_len = n;
  return B2B_STUN_ANSWER;
}
