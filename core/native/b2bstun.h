/* STUN Binding requests of ICE connectivity checks (RFC 8489, RFC 8445 section 7.3), answered by an ICE-lite agent:
 * parse, authenticate (short-term credentials: USERNAME "ourUfrag:theirUfrag", MESSAGE-INTEGRITY keyed by our password,
 * FINGERPRINT), and the success response (XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY, FINGERPRINT). Pure functions on bytes. */
#ifndef B2B_STUN_H
#define B2B_STUN_H
#include <glib.h>

#define B2B_STUN_MAGIC 0x2112A442u
/* The largest response we build: header + XOR-MAPPED-ADDRESS (IPv6) + MESSAGE-INTEGRITY + FINGERPRINT. */
#define B2B_STUN_MAX_RESPONSE (20 + 24 + 24 + 8)

typedef enum {
  B2B_STUN_ANSWER,        /* a valid Binding request: `response` holds the success response */
  B2B_STUN_NOT_REQUEST,   /* a STUN message that is not a Binding request (indication, response...): ignored */
  B2B_STUN_MALFORMED,     /* bad length, attribute overrun, no MESSAGE-INTEGRITY */
  B2B_STUN_BAD_USERNAME,  /* USERNAME missing or not "ourUfrag:theirUfrag" */
  B2B_STUN_BAD_INTEGRITY, /* MESSAGE-INTEGRITY does not verify with our password */
  B2B_STUN_BAD_FINGERPRINT,
} B2bStunResult;

/* TRUE when the datagram looks like STUN (RFC 7983: first byte 0..3; magic cookie; length a multiple of 4). */
gboolean b2b_stun_is_stun(const guint8 *d, gsize len);

/* Checks a Binding request against our credentials (`remote_ufrag` NULL/"" = any peer ufrag) and builds the
 * success response to the sender `addr` (4 or 16 bytes, network order) : `port`. `use_candidate` tells
 * whether the request carried USE-CANDIDATE (nomination). */
B2bStunResult b2b_stun_answer(const guint8 *req, gsize len, const gchar *local_ufrag, const gchar *local_pwd, const gchar *remote_ufrag,
    const guint8 *addr, gsize addr_len, guint16 port, guint8 *response, gsize *response_len, gboolean *use_candidate);

/* CRC-32 (ISO-HDLC, as zlib's crc32) of `len` bytes. */
guint32 b2b_crc32(const guint8 *d, gsize len);
#endif
