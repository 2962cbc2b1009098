/*
 * b2bsrtp: SRTP/SRTCP protect or unprotect (libsrtp2) for one call leg, keyed by a
 * property so that a re-INVITE re-keys it in place.
 * One file on purpose (~450 lines): the libsrtp sessions, the re-key overlap and the SRTCP tag variants
 * share one lock and one session state; the GObject plumbing is in b2bplugin.h.
 *
 * Why not srtpdec: srtpdec only decrypts SSRCs named in its caps or answered through
 * its `request-key` signal (a JavaScript handler on a streaming thread deadlocks
 * node-gtk), and it does not count authentication failures or replays. Here the
 * libsrtp session takes any inbound/outbound SSRC (ssrc_any_*), so an SSRC change
 * mid-call and a peer without `a=ssrc` just work; failures are counted.
 *
 * `srtp-params` = "<RFC 4568 suite> <base64 key||salt>[ <MKI value>:<MKI length>]", or "" for plain RTP
 * (pass-through, still counted), or "hold": drop every packet (counted in `held`) while a DTLS or ZRTP
 * handshake has not yet given the keys, so nothing passes in the clear or unauthenticated meanwhile. RTP and RTCP may come mixed (rtcp-mux): each packet
 * is classified by the RFC 5761 payload-type rule.
 *
 * SRTCP tag with the _32 suites: RFC 4568 keeps the 80-bit tag on SRTCP, but liblinphone (and
 * other libsrtp users that apply the _32 crypto policy to RTCP too) send a 32-bit one. When
 * unprotecting a _32 suite, an SRTCP packet refused by the RFC session is tried on a second
 * session whose RTCP policy has the 32-bit tag; the first variant that authenticates is kept
 * for the rest of the stream (until re-keyed) and the other session is no longer consulted:
 * one libsrtp call per packet again, and one replay database (an 80-bit packet truncated to
 * 32 bits would otherwise authenticate again in the second session's fresh database).
 * Protecting always uses the RFC 80-bit SRTCP tag.
 *
 * Re-key overlap (RFC 4568 section 7.1.4): in unprotect mode, a re-INVITE's new key is set when
 * the offer arrives, but the peer protects with its old key until it has our answer. So when the
 * key changes, the previous key's sessions are kept: a packet the new key refuses is tried, from
 * a saved copy, on the previous key (its own 32-bit SRTCP variant included) and counted good if
 * it authenticates there (`previous-key-packets`). Any refusal but a replay one sends it there:
 * an old-key SRTCP packet with the 32-bit tag may not even parse as the new key's RFC form (E bit
 * 0 where the 80-bit tag makes libsrtp look for it).
 * Retirement is anchored on the new key's first authenticated packet, not on the re-key: the
 * peer switches at one point of its stream, so before that every packet is old-key (however
 * long our answer takes), and after it only reordered stragglers can be. The previous key is
 * dropped once the new one has authenticated RETIRE_AFTER_PACKETS packets (320 ms of 20 ms
 * audio) or RETIRE_AFTER_US has passed since its first (monotonic clock; for a sparse stream,
 * e.g. an RTCP-only element at one packet per few seconds), whichever comes first: both far
 * beyond real reordering, short enough that the old key is not accepted for long.
 * Replay: each key keeps its own replay databases. A packet authenticates under one key only (a
 * different key gives a different tag); the previous key is consulted only after the new one
 * refused a packet, never after a replay refusal (that index was accepted under the new key),
 * and a packet the new key accepted never reaches the previous one: a packet accepted under one
 * key cannot pass again under the other. Setting the same key again (unprotect) keeps the
 * sessions as they are, overlap included: a fresh session for the same key would have an empty
 * replay database and let every packet pass twice. A `mode` change drops the fallback.
 *
 * Latching (b2bingress `latch-authenticated`): a packet carrying a B2bLatchMeta came from a port the
 * ingress has not latched; once unprotected, the ingress gets the verdict (authenticated or not), so
 * only a packet made with the peer's key moves the latch. Unkeyed ("" params), such a packet is dropped:
 * nothing can vouch for it.
 */
#include "b2bplugin.h"
#include "b2bshared.h"
#include <srtp2/srtp.h>
#include <stdio.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC(b2b_srtp_debug);
#define GST_CAT_DEFAULT b2b_srtp_debug

typedef enum { MODE_PROTECT, MODE_UNPROTECT } B2bSrtpMode;

/* Re-key overlap: the previous key is retired when the new one has authenticated this many packets,
 * or this long after its first (see top). */
#define RETIRE_AFTER_PACKETS 16
#define RETIRE_AFTER_US (1 * G_USEC_PER_SEC)

/* One key's libsrtp sessions. */
typedef struct {
  srtp_t session;
  guint use_mki; /* packets carry an MKI (RFC 3711 section 3.1) */
  /* Unprotect, _32 suites: same keys, RTCP policy with the 32-bit tag. NULL when not applicable
   * or once the RFC variant has authenticated an SRTCP packet. */
  srtp_t rtcp_short_session;
  gboolean rtcp_short_locked; /* the 32-bit variant authenticated: SRTCP goes to it only */
} KeyState;

static void key_state_clear(KeyState *k) {
  if (k->session) srtp_dealloc(k->session);
  if (k->rtcp_short_session) srtp_dealloc(k->rtcp_short_session);
  memset(k, 0, sizeof *k);
}

struct _B2bSrtp {
  GstElement parent;
  GstPad *sinkpad, *srcpad;
  GMutex lock; /* context, params and counters */
  B2bSrtpMode mode;
  gchar *params;
  gboolean keyed;  /* params name a suite, or "hold" */
  KeyState key;    /* key.session NULL when keyed but the params were refused */
  KeyState prev;   /* unprotect: the previous key during a re-key overlap (see top); prev.session NULL otherwise */
  guint new_key_good;      /* packets the current key authenticated while prev is kept */
  gint64 new_key_first_us; /* monotonic time of the first of them */
  guint64 packets, bytes, auth_failures, replays, errors, rekeys, prev_key_packets, held;
};

G_DEFINE_TYPE(B2bSrtp, b2b_srtp, GST_TYPE_ELEMENT)

enum { PROP_0, PROP_MODE, PROP_PARAMS, PROP_PACKETS, PROP_BYTES, PROP_AUTH_FAILURES, PROP_REPLAYS, PROP_ERRORS, PROP_REKEYS, PROP_SUPPORTED,
       PROP_SRTCP_SHORT_TAG, PROP_PREV_KEY_PACKETS, PROP_HELD, PROP_CRYPTO };

static GstStaticPadTemplate sink_tpl = B2B_PAD_TEMPLATE("sink", GST_PAD_SINK, "ANY");
static GstStaticPadTemplate src_tpl = B2B_PAD_TEMPLATE("src", GST_PAD_SRC, "ANY");

static const B2bCounter counters[] = {
  B2B_COUNTER(B2bSrtp, PROP_PACKETS, "packets", packets, "Packets passed (protected/unprotected)"),
  B2B_COUNTER(B2bSrtp, PROP_BYTES, "bytes", bytes, "Bytes passed (after processing)"),
  B2B_COUNTER(B2bSrtp, PROP_AUTH_FAILURES, "auth-failures", auth_failures, "Packets dropped: SRTP/SRTCP authentication failed"),
  B2B_COUNTER(B2bSrtp, PROP_REPLAYS, "replays", replays, "Packets dropped: replayed or too old"),
  B2B_COUNTER(B2bSrtp, PROP_ERRORS, "errors", errors, "Packets dropped for another reason (no usable key, malformed)"),
  B2B_COUNTER(B2bSrtp, PROP_REKEYS, "rekeys", rekeys, "Times a key was set"),
  B2B_COUNTER(B2bSrtp, PROP_PREV_KEY_PACKETS, "previous-key-packets", prev_key_packets,
      "Unprotect: packets (counted in packets) authenticated by the previous key during a re-key overlap"),
  B2B_COUNTER(B2bSrtp, PROP_HELD, "held", held, "Packets dropped while srtp-params is \"hold\" (handshake keys not there yet)"),
};

typedef struct {
  const char *name;
  void (*rtp)(srtp_crypto_policy_t *);
  void (*rtcp)(srtp_crypto_policy_t *);
  gboolean short_tag; /* a _32 suite: peers may put the 32-bit tag on SRTCP too */
} SuiteDef;

/* SRTCP keeps the 80-bit tag with the _32 suites (RFC 4568 section 6.2, RFC 6188). */
static const SuiteDef SUITES[] = {
  {"AES_CM_128_HMAC_SHA1_80", srtp_crypto_policy_set_rtp_default, srtp_crypto_policy_set_rtcp_default, FALSE},
  {"AES_CM_128_HMAC_SHA1_32", srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32, srtp_crypto_policy_set_rtcp_default, TRUE},
  {"AES_192_CM_HMAC_SHA1_80", srtp_crypto_policy_set_aes_cm_192_hmac_sha1_80, srtp_crypto_policy_set_aes_cm_192_hmac_sha1_80, FALSE},
  {"AES_192_CM_HMAC_SHA1_32", srtp_crypto_policy_set_aes_cm_192_hmac_sha1_32, srtp_crypto_policy_set_aes_cm_192_hmac_sha1_80, TRUE},
  {"AES_256_CM_HMAC_SHA1_80", srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80, srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80, FALSE},
  {"AES_256_CM_HMAC_SHA1_32", srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32, srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80, TRUE},
  {"AEAD_AES_128_GCM", srtp_crypto_policy_set_aes_gcm_128_16_auth, srtp_crypto_policy_set_aes_gcm_128_16_auth, FALSE},
  {"AEAD_AES_256_GCM", srtp_crypto_policy_set_aes_gcm_256_16_auth, srtp_crypto_policy_set_aes_gcm_256_16_auth, FALSE},
};

static const SuiteDef *find_suite(const char *name, gsize len) {
  for (guint i = 0; i < G_N_ELEMENTS(SUITES); i++)
    if (strlen(SUITES[i].name) == len && strncmp(SUITES[i].name, name, len) == 0) return &SUITES[i];
  return NULL;
}

/* Creates a libsrtp session; on failure returns NULL and sets *why. mki_len 0 = no MKI.
 * short_rtcp_tag: RTCP under the suite's RTP policy (32-bit tag with the _32 suites). */
static srtp_t create_session(const SuiteDef *suite, const guint8 *key, gsize key_len, const guint8 *mki, guint mki_len,
                             B2bSrtpMode mode, gboolean short_rtcp_tag, const char **why) {
  srtp_policy_t policy;
  srtp_master_key_t master = {(unsigned char *)key, (unsigned char *)mki, mki_len};
  srtp_master_key_t *masters[1] = {&master};
  memset(&policy, 0, sizeof policy);
  suite->rtp(&policy.rtp);
  (short_rtcp_tag ? suite->rtp : suite->rtcp)(&policy.rtcp);
  if ((gsize)policy.rtp.cipher_key_len != key_len) { *why = "key||salt length does not match the suite"; return NULL; }
  policy.ssrc.type = mode == MODE_PROTECT ? ssrc_any_outbound : ssrc_any_inbound;
  if (mki_len > 0) {
    policy.keys = masters;
    policy.num_master_keys = 1;
  } else {
    policy.key = (unsigned char *)key;
  }
  policy.window_size = 128;
  policy.allow_repeat_tx = 0;
  policy.next = NULL;
  srtp_t session = NULL;
  srtp_err_status_t err = srtp_create(&session, &policy);
  if (err != srtp_err_status_ok) { *why = "libsrtp refused the suite (not built with this cipher?)"; return NULL; }
  return session;
}

/* Lock held. keep_previous: unprotect re-key, the current key stays as a fallback (see top). */
static void apply_params(B2bSrtp *self, const gchar *params, gboolean keep_previous) {
  gboolean same = g_strcmp0(params ? params : "", self->params) == 0;
  if (keep_previous && same) {
    /* The same key set again: the sessions (replay databases) and a running overlap stay. */
    if (self->keyed) self->rekeys++;
    return;
  }
  key_state_clear(&self->prev);
  self->new_key_good = 0;
  self->new_key_first_us = 0;
  if (keep_previous && self->key.session && params && *params) {
    self->prev = self->key;
    memset(&self->key, 0, sizeof self->key);
  }
  key_state_clear(&self->key);
  g_free(self->params);
  self->params = g_strdup(params ? params : "");
  self->keyed = FALSE;
  if (!params || !*params) return;
  self->keyed = TRUE;
  if (strcmp(params, "hold") == 0) return;
  self->rekeys++;
  gchar **words = g_strsplit(params, " ", 4);
  guint n = g_strv_length(words);
  const SuiteDef *suite = n >= 2 ? find_suite(words[0], strlen(words[0])) : NULL;
  if (!suite) {
    GST_WARNING_OBJECT(self, "srtp-params: unknown suite in \"%.40s\": dropping packets", params);
    g_strfreev(words);
    return;
  }
  /* Optional third word: MKI "<value>:<length in bytes>" (RFC 4568), value big-endian in the packet. */
  guint8 mki[SRTP_MAX_MKI_LEN];
  guint mki_len = 0;
  if (n >= 3) {
    guint64 value = 0;
    guint length = 0;
    if (sscanf(words[2], "%" G_GUINT64_FORMAT ":%u", &value, &length) != 2 || length < 1 || length > SRTP_MAX_MKI_LEN ||
        (length < 8 && value >> (8 * length) != 0)) {
      GST_WARNING_OBJECT(self, "srtp-params %s: bad MKI \"%s\": dropping packets", suite->name, words[2]);
      g_strfreev(words);
      return;
    }
    for (guint i = 0; i < length; i++) {
      guint shift = 8 * (length - 1 - i);
      mki[i] = shift < 64 ? (guint8)(value >> shift) : 0;
    }
    mki_len = length;
  }
  gsize key_len = 0;
  guint8 *key = g_base64_decode(words[1], &key_len);
  const char *why = NULL;
  self->key.session = create_session(suite, key, key_len, mki, mki_len, self->mode, FALSE, &why);
  if (!self->key.session) GST_WARNING_OBJECT(self, "srtp-params %s: %s: dropping packets", suite->name, why);
  else if (suite->short_tag && self->mode == MODE_UNPROTECT)
    self->key.rtcp_short_session = create_session(suite, key, key_len, mki, mki_len, self->mode, TRUE, &why);
  self->key.use_mki = mki_len > 0;
  if (!self->key.session) key_state_clear(&self->prev); /* refused params: drop, as before */
  memset(key, 0, key_len);
  g_free(key);
  g_strfreev(words);
}

static gboolean is_rtcp(const guint8 *d, gsize len) {
  return len >= 8 && d[1] >= 192 && d[1] <= 223;
}

static gboolean is_auth_error(srtp_err_status_t err) {
  return err == srtp_err_status_auth_fail || err == srtp_err_status_bad_mki;
}

static gboolean is_replay_error(srtp_err_status_t err) {
  return err == srtp_err_status_replay_fail || err == srtp_err_status_replay_old;
}

/* A packet two sessions refused: the second session's verdict when it is an authentication
 * failure and the first one's is not (e.g. too short for an 80-bit tag, or read with the wrong
 * tag length its E bit is 0: the packet simply did not fit the first session). */
static srtp_err_status_t pick_error(srtp_err_status_t first, srtp_err_status_t second) {
  return is_auth_error(second) && !is_auth_error(first) ? second : first;
}

/* The "try on a copy with another session" step of both fallbacks: restores the packet libsrtp
 * was given (libsrtp leaves a refused packet intact, but we keep a copy rather than rely on it)
 * and unprotects it with `session`. */
static void restore_copy(guint8 *data, int *len, const guint8 *copy, int in_len) {
  memcpy(data, copy, (gsize)in_len);
  *len = in_len;
}

static srtp_err_status_t retry_on_copy(srtp_t session, gboolean rtcp, guint use_mki, guint8 *data, int *len, const guint8 *copy,
                                       int in_len) {
  restore_copy(data, len, copy, in_len);
  return rtcp ? srtp_unprotect_rtcp_mki(session, data, len, use_mki) : srtp_unprotect_mki(session, data, len, use_mki);
}

/* Lock held. SRTCP with the RFC 80-bit tag, or with the 32-bit one for a _32 suite (see top).
 * `copy` holds the packet as received (in_len bytes). */
static srtp_err_status_t unprotect_rtcp(KeyState *k, guint8 *data, int *len, const guint8 *copy, int in_len) {
  if (k->rtcp_short_locked) return srtp_unprotect_rtcp_mki(k->rtcp_short_session, data, len, k->use_mki);
  srtp_err_status_t err = srtp_unprotect_rtcp_mki(k->session, data, len, k->use_mki);
  if (!k->rtcp_short_session) return err;
  if (err == srtp_err_status_ok) {
    srtp_dealloc(k->rtcp_short_session);
    k->rtcp_short_session = NULL;
    return err;
  }
  srtp_err_status_t short_err = retry_on_copy(k->rtcp_short_session, TRUE, k->use_mki, data, len, copy, in_len);
  if (short_err == srtp_err_status_ok) {
    GST_INFO("peer protects SRTCP with the 32-bit tag: keeping that variant");
    k->rtcp_short_locked = TRUE;
    return short_err;
  }
  return pick_error(err, short_err);
}

/* Lock held. One key: RTP, or SRTCP with its tag-length variants. */
static srtp_err_status_t unprotect_with(KeyState *k, gboolean rtcp, guint8 *data, int *len, const guint8 *copy, int in_len) {
  return rtcp ? unprotect_rtcp(k, data, len, copy, in_len) : srtp_unprotect_mki(k->session, data, len, k->use_mki);
}

/* Lock held. The current key, then during a re-key overlap the previous one (see top). */
static srtp_err_status_t unprotect_packet(B2bSrtp *self, guint8 *data, int *len) {
  gboolean rtcp = is_rtcp(data, (gsize)*len);
  int in_len = *len;
  if (self->prev.session && self->new_key_good > 0 &&
      (self->new_key_good >= RETIRE_AFTER_PACKETS || g_get_monotonic_time() - self->new_key_first_us >= RETIRE_AFTER_US)) {
    GST_INFO_OBJECT(self, "new key authenticated %u packets: previous key retired", self->new_key_good);
    key_state_clear(&self->prev);
  }
  /* A copy only when a second session may be consulted. */
  gboolean fallback = self->prev.session != NULL || (rtcp && self->key.rtcp_short_session && !self->key.rtcp_short_locked);
  guint8 *copy = fallback ? g_memdup2(data, (gsize)in_len) : NULL;
  srtp_err_status_t err = unprotect_with(&self->key, rtcp, data, len, copy, in_len);
  if (self->prev.session) {
    if (err == srtp_err_status_ok) {
      if (self->new_key_good++ == 0) self->new_key_first_us = g_get_monotonic_time();
    } else if (!is_replay_error(err)) {
      /* Refused by the new key (failed authentication, or did not fit it: an old-key SRTCP packet
       * with the 32-bit tag read with the 80-bit one). Not after a replay refusal: that index was
       * already accepted under the new key. */
      restore_copy(data, len, copy, in_len);
      srtp_err_status_t prev_err = unprotect_with(&self->prev, rtcp, data, len, copy, in_len);
      if (prev_err == srtp_err_status_ok) self->prev_key_packets++;
      /* A replay under the previous key is reported as such (as libsrtp does: replay is checked
       * before authentication). */
      err = prev_err == srtp_err_status_ok || is_replay_error(prev_err) ? prev_err : pick_error(err, prev_err);
    }
  }
  g_free(copy);
  return err;
}

/* Whether `buf` is ours alone, in one writable memory that can grow to `need` bytes without a copy. */
static gboolean has_tailroom(GstBuffer *buf, gsize need) {
  if (!gst_buffer_is_writable(buf) || gst_buffer_n_memory(buf) != 1) return FALSE;
  GstMemory *mem = gst_buffer_peek_memory(buf, 0);
  gsize offset = 0, maxsize = 0;
  gst_memory_get_sizes(mem, &offset, &maxsize);
  return gst_memory_is_writable(mem) && maxsize >= offset + need;
}

static GstFlowReturn b2b_srtp_chain(GstPad *pad, GstObject *parent, GstBuffer *in) {
  B2bSrtp *self = B2B_SRTP(parent);
  GstBuffer *out = NULL;
  GstMapInfo map;
  (void)pad;
  B2bLatchMeta *tag = self->mode == MODE_UNPROTECT ? b2b_latch_meta_get(in) : NULL;
  g_mutex_lock(&self->lock);
  if (!self->keyed && tag) {
    g_mutex_unlock(&self->lock);
    b2b_ingress_latch_verdict(tag, FALSE);
    gst_buffer_unref(in);
    return GST_FLOW_OK;
  }
  if (!self->keyed) {
    self->packets++;
    self->bytes += gst_buffer_get_size(in);
    g_mutex_unlock(&self->lock);
    return gst_pad_push(self->srcpad, in);
  }
  if (!self->key.session) {
    if (strcmp(self->params, "hold") == 0) self->held++;
    else self->errors++;
    g_mutex_unlock(&self->lock);
    gst_buffer_unref(in);
    return GST_FLOW_OK;
  }

  srtp_err_status_t err;
  int len;
  if (self->mode == MODE_PROTECT) {
    gsize in_len = gst_buffer_get_size(in);
    if (has_tailroom(in, in_len + SRTP_MAX_TRAILER_LEN)) {
      /* b2bsocketsrc's buffers have room for the tag: protect in place, no allocation and no copy per packet. */
      out = in;
      gst_buffer_set_size(out, (gssize)(in_len + SRTP_MAX_TRAILER_LEN));
      gst_buffer_map(out, &map, GST_MAP_READWRITE);
    } else {
      out = gst_buffer_new_allocate(NULL, in_len + SRTP_MAX_TRAILER_LEN, NULL);
      gst_buffer_map(out, &map, GST_MAP_READWRITE);
      gst_buffer_extract(in, 0, map.data, in_len);
      gst_buffer_unref(in);
    }
    len = (int)in_len;
    err = is_rtcp(map.data, in_len) ? srtp_protect_rtcp_mki(self->key.session, map.data, &len, self->key.use_mki, 0)
                                    : srtp_protect_mki(self->key.session, map.data, &len, self->key.use_mki, 0);
    gst_buffer_unmap(out, &map);
  } else {
    out = gst_buffer_make_writable(in);
    gst_buffer_map(out, &map, GST_MAP_READWRITE);
    len = (int)map.size;
    err = unprotect_packet(self, map.data, &len);
    gst_buffer_unmap(out, &map);
    tag = b2b_latch_meta_get(out); /* the writable copy's */
  }
  if (err != srtp_err_status_ok) {
    /* A packet whose MKI names no key of ours cannot be authenticated either. */
    if (is_auth_error(err)) self->auth_failures++;
    else if (is_replay_error(err)) self->replays++;
    else self->errors++;
    if (gst_debug_category_get_threshold(GST_CAT_DEFAULT) >= GST_LEVEL_DEBUG && gst_buffer_map(out, &map, GST_MAP_READ)) {
      const guint8 *h = map.data;
      gboolean rtcp = map.size >= 12 && is_rtcp(h, map.size);
      GST_DEBUG_OBJECT(self, "%s packet dropped: libsrtp status %d, %s ssrc %08x %s %u, %" G_GSIZE_FORMAT " bytes",
                       self->mode == MODE_PROTECT ? "outgoing" : "incoming", (int)err, rtcp ? "RTCP" : "RTP",
                       rtcp ? GST_READ_UINT32_BE(h + 4) : GST_READ_UINT32_BE(h + 8), rtcp ? "type" : "seq",
                       rtcp ? (guint)h[1] : (guint)GST_READ_UINT16_BE(h + 2), map.size);
      gst_buffer_unmap(out, &map);
    }
    g_mutex_unlock(&self->lock);
    if (tag) b2b_ingress_latch_verdict(tag, FALSE);
    gst_buffer_unref(out);
    return GST_FLOW_OK;
  }
  self->packets++;
  self->bytes += (guint64)len;
  g_mutex_unlock(&self->lock);
  if (tag) {
    b2b_ingress_latch_verdict(tag, TRUE);
    gst_buffer_remove_meta(out, (GstMeta *)tag);
  }
  gst_buffer_set_size(out, len);
  return gst_pad_push(self->srcpad, out);
}

/* Declared in b2bplugin.h: b2bdtls offers only the DTLS-SRTP profiles this libsrtp build can do. */
gchar *b2b_srtp_supported_suites(void) {
  static const guint8 zero[64] = {0};
  GString *s = g_string_new(NULL);
  for (guint i = 0; i < G_N_ELEMENTS(SUITES); i++) {
    srtp_crypto_policy_t p;
    memset(&p, 0, sizeof p);
    SUITES[i].rtp(&p);
    const char *why = NULL;
    srtp_t session = create_session(&SUITES[i], zero, (gsize)p.cipher_key_len, NULL, 0, MODE_PROTECT, FALSE, &why);
    if (!session) continue;
    srtp_dealloc(session);
    if (s->len) g_string_append_c(s, ' ');
    g_string_append(s, SUITES[i].name);
  }
  return g_string_free(s, FALSE);
}

static void b2b_srtp_set_property(GObject *object, guint id, const GValue *value, GParamSpec *pspec) {
  B2bSrtp *self = B2B_SRTP(object);
  g_mutex_lock(&self->lock);
  switch (id) {
    case PROP_MODE: {
      const gchar *m = g_value_get_string(value);
      self->mode = g_strcmp0(m, "unprotect") == 0 ? MODE_UNPROTECT : MODE_PROTECT;
      if (self->keyed) { /* the session depends on the direction */
        gchar *p = g_strdup(self->params);
        apply_params(self, p, FALSE);
        g_free(p);
      }
      break;
    }
    case PROP_PARAMS: apply_params(self, g_value_get_string(value), self->mode == MODE_UNPROTECT); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
  g_mutex_unlock(&self->lock);
}

static void b2b_srtp_get_property(GObject *object, guint id, GValue *value, GParamSpec *pspec) {
  B2bSrtp *self = B2B_SRTP(object);
  if (id == PROP_SUPPORTED) { g_value_take_string(value, b2b_srtp_supported_suites()); return; }
  if (id == PROP_CRYPTO) { g_value_set_string(value, b2b_srtp_crypto_backend()); return; }
  g_mutex_lock(&self->lock);
  switch (id) {
    case PROP_MODE: g_value_set_string(value, self->mode == MODE_UNPROTECT ? "unprotect" : "protect"); break;
    case PROP_PARAMS: g_value_set_string(value, self->params); break;
    case PROP_SRTCP_SHORT_TAG: g_value_set_boolean(value, self->key.rtcp_short_locked); break;
    default: if (!b2b_get_counter(self, counters, G_N_ELEMENTS(counters), id, value)) G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
  g_mutex_unlock(&self->lock);
}

static void b2b_srtp_finalize(GObject *object) {
  B2bSrtp *self = B2B_SRTP(object);
  key_state_clear(&self->key);
  key_state_clear(&self->prev);
  g_free(self->params);
  g_mutex_clear(&self->lock);
  G_OBJECT_CLASS(b2b_srtp_parent_class)->finalize(object);
}

static void b2b_srtp_class_init(B2bSrtpClass *klass) {
  static GstStaticPadTemplate *const templates[] = { &sink_tpl, &src_tpl, NULL };
  b2b_element_class_setup(klass, &(B2bElementClassInfo){ b2b_srtp_set_property, b2b_srtp_get_property, b2b_srtp_finalize, templates,
      "B2BUA SRTP", "Filter/Network/SRTP", "SRTP/SRTCP protect or unprotect for any SSRC, re-keyable, with failure counters" });
  GObjectClass *oc = G_OBJECT_CLASS(klass);
  const GParamFlags rw = B2B_PARAM_RW;
  g_object_class_install_property(oc, PROP_MODE, g_param_spec_string("mode", "Mode", "protect (encrypt) or unprotect (decrypt)", "protect", rw));
  g_object_class_install_property(oc, PROP_PARAMS, g_param_spec_string("srtp-params", "SRTP parameters",
      "\"<suite> <base64 key||salt>[ <MKI value>:<MKI bytes>]\"; empty = plain RTP pass-through. Setting it re-keys.", "", rw));
  b2b_install_counters(oc, counters, G_N_ELEMENTS(counters));
  g_object_class_install_property(oc, PROP_SUPPORTED, g_param_spec_string("supported-suites", "Supported suites",
      "Space-separated RFC 4568 suite names this libsrtp build can do", NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property(oc, PROP_CRYPTO, g_param_spec_string("crypto", "AES-CM / HMAC-SHA1 implementation",
      "\"openssl\" (b2bsrtpcrypto.c took libsrtp's place) or \"libsrtp\" (libsrtp refused it: its own, NSS on Debian)", NULL,
      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property(oc, PROP_SRTCP_SHORT_TAG, g_param_spec_boolean("srtcp-short-tag", "SRTCP 32-bit tag",
      "Unprotect, _32 suite: the peer's SRTCP carries a 32-bit tag (libsrtp _32 policy on RTCP) instead of RFC 4568's 80-bit one",
      FALSE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  GST_DEBUG_CATEGORY_INIT(b2b_srtp_debug, "b2bsrtp", 0, "B2BUA SRTP");
}

static void b2b_srtp_init(B2bSrtp *self) {
  g_mutex_init(&self->lock);
  self->params = g_strdup("");
  self->sinkpad = b2b_add_pad(GST_ELEMENT(self), &sink_tpl, GST_DEBUG_FUNCPTR(b2b_srtp_chain), NULL, B2B_CAPS_PROXY);
  self->srcpad = b2b_add_pad(GST_ELEMENT(self), &src_tpl, NULL, NULL, B2B_CAPS_PROXY);
}
