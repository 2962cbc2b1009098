/*
 * b2bdtls: the DTLS-SRTP handshake (RFC 5763/5764) of one call leg's socket, with OpenSSL 3 on
 * memory BIOs. It only makes keys: SRTP itself is b2bsrtp's job; the worker copies `srtp-send` /
 * `srtp-recv` (b2bsrtp's `srtp-params` format) into them once `state` is "connected".
 *
 *   ingress.dtls_src ! b2bdtls (sink: records from the peer) (src: records to the peer) ! funnel ! b2bsocketsink
 *
 * Shared state. The association lives in a DtlsConn acquired from b2bshared ("dtls", connection-id)
 * so that it survives pipeline rebuilds: every instance attached to one connection-id reads and
 * writes the same state (the worker's holder instance outside any pipeline, the current pipeline's,
 * briefly an old one). Settings made on an instance before it is attached are applied to the
 * connection when it is. Records to the peer leave through the src pad of the attached instance
 * that reached PLAYING last and still is; they wait in a small queue (MAX_QUEUED datagrams) while
 * no instance is PLAYING or `active` is FALSE (nothing is sent before `active`), so a flight made
 * during a pipeline swap, or by a server answering a ClientHello before the worker knew the peer's
 * address, is sent when that becomes possible instead of waiting for the next retransmission.
 * Received records are processed whatever `active` says.
 *
 * Locks: an instance's lock, then a connection's push_lock, then its lock. push_lock serialises the
 * pushes of the timer and of sink chains (one pad, datagrams in order); the connection's lock is
 * never held while pushing, so property reads never wait for the network.
 *
 * Timers. No thread per connection: one shared GstSystemClock and single-shot async clock ids,
 * armed for OpenSSL's DTLS retransmission timeout (DTLSv1_get_timeout) or the handshake deadline
 * (HANDSHAKE_TIMEOUT_US), and "now" to flush the queue when sending becomes possible (so that
 * pushes happen on the clock thread or a streaming thread, never on the thread setting a property,
 * i.e. the worker's JavaScript thread). A connection holds at most one pending id; each id holds a
 * reference on the connection (released when the clock frees the id), so destroying the connection
 * (unschedule, mark dead) is safe with a callback in flight: it finds `dead` and returns.
 *
 * Verification: the peer certificate is requested (SSL_VERIFY_PEER, self-signed accepted: the check
 * is the SDP fingerprint). Once both the certificate and `remote-fingerprint` are known they are
 * compared (in the verify callback when the fingerprint came first: the handshake is then aborted
 * with an alert); a mismatch is "failed" and no key is ever exposed. `state` is "connected" only
 * when the handshake is done AND the fingerprint matched; the keys exported at the end of the
 * handshake stay internal until then.
 */
#include "b2bplugin.h"
#include "b2bshared.h"
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC(b2b_dtls_debug);
#define GST_CAT_DEFAULT b2b_dtls_debug

#define SHARED_KIND "dtls"
#define DTLS_MTU 1200                         /* UDP payload; OpenSSL fragments handshake messages to fit */
#define MAX_QUEUED 32                         /* datagrams waiting for a sender; the oldest go first */
#define HANDSHAKE_TIMEOUT_US (30 * G_USEC_PER_SEC)
#define EXPORTER_LABEL "EXTRACTOR-dtls_srtp"  /* RFC 5764 section 4.2 */

typedef enum { ST_NEW, ST_HANDSHAKING, ST_CONNECTED, ST_FAILED } DtlsState;
static const gchar *const STATE_NAMES[] = {"new", "handshaking", "connected", "failed"};

typedef struct {
  const gchar *openssl; /* use_srtp profile name (RFC 5764 / RFC 7714) */
  const gchar *suite;   /* the RFC 4568 suite b2bsrtp knows it by */
  guint key_len, salt_len;
} Profile;

/* Our preference order (the server's order decides in OpenSSL): _80 first as linphone, then _32, then GCM. */
static const Profile PROFILES[] = {
  {"SRTP_AES128_CM_SHA1_80", "AES_CM_128_HMAC_SHA1_80", 16, 14},
  {"SRTP_AES128_CM_SHA1_32", "AES_CM_128_HMAC_SHA1_32", 16, 14},
  {"SRTP_AEAD_AES_128_GCM", "AEAD_AES_128_GCM", 16, 12},
  {"SRTP_AEAD_AES_256_GCM", "AEAD_AES_256_GCM", 32, 12},
};
#define MAX_KEY_SALT (32 + 14)

/* SDP a=fingerprint hash names (RFC 8122, IANA "Hash Function Textual Names"). */
static const struct { const gchar *sdp, *openssl; } HASHES[] = {
  {"sha-1", "SHA1"}, {"sha-224", "SHA224"}, {"sha-256", "SHA256"}, {"sha-384", "SHA384"}, {"sha-512", "SHA512"},
};

typedef struct {
  gint refs; /* atomic: the registry's, one per pending clock id, callers in flight */
  gchar *id;
  GMutex push_lock; /* see top */
  GMutex lock;      /* everything below */
  gboolean dead;    /* destroyed by the registry: no more processing or timers */
  /* settings */
  gchar *pem;
  gboolean is_client, active;
  gchar *remote_fp; /* normalised: "<lower-case hash> <UPPER:HEX>"; NULL = not known yet */
  /* the association */
  SSL_CTX *ctx;
  SSL *ssl;         /* NULL until the handshake starts */
  BIO *rbio;        /* memory BIO the received datagrams are written into (owned by ssl) */
  gboolean client;  /* the role the handshake started with */
  gboolean handshake_done;
  gchar *verify_error; /* set by the verify callback when it aborted the handshake */
  X509 *peer_cert;
  const Profile *profile;
  guint8 keys[2 * MAX_KEY_SALT]; /* client_key|server_key|client_salt|server_salt, valid when profile */
  DtlsState state;
  gchar *error, *srtp_send, *srtp_recv;
  gint64 started_us; /* monotonic time the handshake started */
  GQueue out;        /* GstBuffer: datagrams for the peer not pushed yet */
  GList *playing;    /* attached B2bDtls instances in PLAYING, latest last (not reffed: they remove themselves) */
  GstClockID timer;  /* the pending single-shot id, NULL = none */
  guint64 records_in, records_out, retransmissions;
} DtlsConn;

struct _B2bDtls {
  GstElement parent;
  GstPad *sinkpad, *srcpad;
  GMutex lock;          /* the fields below; taken before a connection's locks */
  gchar *connection_id; /* "" = not attached */
  DtlsConn *conn;       /* attached connection (one b2b_shared reference), NULL = none */
  gboolean playing;
  /* settings made while not attached, applied to the connection on attach */
  guint pending; /* bit per property id */
  gchar *pem, *remote_fp;
  gboolean is_client, active;
};

G_DEFINE_TYPE(B2bDtls, b2b_dtls, GST_TYPE_ELEMENT)

enum {
  PROP_0, PROP_CONNECTION_ID, PROP_PEM, PROP_IS_CLIENT, PROP_ACTIVE, PROP_REMOTE_FINGERPRINT, PROP_STATE, PROP_ERROR,
  PROP_PEER_FINGERPRINT, PROP_PROFILE, PROP_SRTP_SEND, PROP_SRTP_RECV, PROP_CONNECTIONS,
  PROP_RECORDS_IN, PROP_RECORDS_OUT, PROP_RETRANSMISSIONS
};

static GstStaticPadTemplate sink_tpl = B2B_PAD_TEMPLATE("sink", GST_PAD_SINK, "ANY");
static GstStaticPadTemplate src_tpl = B2B_PAD_TEMPLATE("src", GST_PAD_SRC, "application/x-dtls");

/* Counters live in the connection: shared by every attached instance. */
static const B2bCounter counters[] = {
  B2B_COUNTER(DtlsConn, PROP_RECORDS_IN, "records-in", records_in, "DTLS datagrams received (one or more records each)"),
  B2B_COUNTER(DtlsConn, PROP_RECORDS_OUT, "records-out", records_out, "DTLS datagrams pushed towards the peer"),
  B2B_COUNTER(DtlsConn, PROP_RETRANSMISSIONS, "retransmissions", retransmissions, "Handshake flights retransmitted on timeout"),
};

/* ---- helpers ---- */

static void conn_unref(gpointer data) {
  DtlsConn *c = data;
  if (!g_atomic_int_dec_and_test(&c->refs)) return;
  if (c->ssl) SSL_free(c->ssl); /* frees both BIOs */
  if (c->ctx) SSL_CTX_free(c->ctx);
  if (c->peer_cert) X509_free(c->peer_cert);
  OPENSSL_cleanse(c->keys, sizeof c->keys);
  g_queue_clear_full(&c->out, (GDestroyNotify)gst_buffer_unref);
  g_list_free(c->playing);
  if (c->pem) OPENSSL_cleanse(c->pem, strlen(c->pem));
  g_free(c->pem);
  g_free(c->remote_fp);
  g_free(c->verify_error);
  g_free(c->error);
  g_free(c->srtp_send);
  g_free(c->srtp_recv);
  g_free(c->id);
  g_mutex_clear(&c->lock);
  g_mutex_clear(&c->push_lock);
  g_free(c);
}

static gpointer conn_create(const gchar *id, gpointer user_data) {
  DtlsConn *c = g_new0(DtlsConn, 1);
  c->refs = 1; /* the registry's */
  c->id = g_strdup(id);
  g_mutex_init(&c->lock);
  g_mutex_init(&c->push_lock);
  g_queue_init(&c->out);
  c->srtp_send = g_strdup("");
  c->srtp_recv = g_strdup("");
  return c;
}

static void on_timer_fired(DtlsConn *c, GstClockID id);

static gboolean on_timer(GstClock *clock, GstClockTime time, GstClockID id, gpointer data) {
  on_timer_fired(data, id);
  return TRUE;
}

/* Lock held. Makes the pending clock id fire at `when` or earlier. */
static void arm(DtlsConn *c, GstClockTime when) {
  if (c->dead) return;
  if (c->timer) {
    if (gst_clock_id_get_time(c->timer) <= when) return;
    gst_clock_id_unschedule(c->timer);
    gst_clock_id_unref(c->timer);
  }
  c->timer = gst_clock_new_single_shot_id(b2b_shared_clock(), when);
  g_atomic_int_inc(&c->refs); /* released by the clock when it frees the id (fired or unscheduled) */
  gst_clock_id_wait_async(c->timer, on_timer, c, conn_unref);
}

static gboolean can_send(DtlsConn *c) { return !c->dead && c->active && c->playing != NULL; }

/* Lock held. Queued datagrams and a sender: flush them from the clock thread now. */
static void kick(DtlsConn *c) {
  if (!g_queue_is_empty(&c->out) && can_send(c)) arm(c, gst_clock_get_time(b2b_shared_clock()));
}

/* Lock held. The next retransmission check or the handshake deadline, whichever comes first. */
static void rearm(DtlsConn *c) {
  if (c->state != ST_HANDSHAKING || !c->ssl || c->handshake_done) return;
  GstClockTime now = gst_clock_get_time(b2b_shared_clock());
  gint64 left_us = c->started_us + HANDSHAKE_TIMEOUT_US - g_get_monotonic_time();
  GstClockTime when = now + (left_us > 0 ? (GstClockTime)left_us * GST_USECOND : 0);
  struct timeval tv;
  if (DTLSv1_get_timeout(c->ssl, &tv)) {
    GstClockTime t = now + (GstClockTime)tv.tv_sec * GST_SECOND + (GstClockTime)tv.tv_usec * GST_USECOND;
    if (t < when) when = t;
  }
  arm(c, when);
}

/* Lock held. */
static void fail(DtlsConn *c, const gchar *why) {
  if (c->state == ST_FAILED) return;
  GST_WARNING("dtls %s: failed: %s", c->id, why);
  c->state = ST_FAILED;
  g_free(c->error);
  c->error = g_strdup(why);
  OPENSSL_cleanse(c->keys, sizeof c->keys);
  g_free(c->srtp_send);
  g_free(c->srtp_recv);
  c->srtp_send = g_strdup("");
  c->srtp_recv = g_strdup("");
}

/* The first queued OpenSSL error as text (the queue is cleared), or `fallback`. */
static gchar *openssl_error(const gchar *fallback) {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (!e) return g_strdup(fallback);
  gchar buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return g_strdup(buf);
}

static const gchar *openssl_hash(const gchar *sdp) {
  for (guint i = 0; i < G_N_ELEMENTS(HASHES); i++) if (g_ascii_strcasecmp(HASHES[i].sdp, sdp) == 0) return HASHES[i].openssl;
  return NULL;
}

/* "<hash> AB:CD:.." of `cert`, `hash` an SDP hash name; NULL if OpenSSL lacks it. */
static gchar *fingerprint_of(X509 *cert, const gchar *hash) {
  const gchar *name = openssl_hash(hash);
  const EVP_MD *md = name ? EVP_get_digestbyname(name) : NULL;
  guint8 digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!md || !X509_digest(cert, md, digest, &len)) return NULL;
  GString *s = g_string_new(hash);
  g_string_ascii_down(s);
  g_string_append_c(s, ' ');
  for (unsigned int i = 0; i < len; i++) g_string_append_printf(s, i ? ":%02X" : "%02X", digest[i]);
  return g_string_free(s, FALSE);
}

/* SDP a=fingerprint value, normalised for comparison: "<lower hash> <UPPER HEX>"; NULL if empty. */
static gchar *normalise_fingerprint(const gchar *s) {
  gchar **words = g_strsplit_set(s ? s : "", " \t\r\n", 0);
  const gchar *hash = NULL, *value = NULL;
  for (gchar **w = words; *w; w++) {
    if (!**w) continue;
    if (!hash) hash = *w;
    else if (!value) value = *w;
  }
  gchar *out = NULL;
  if (hash) {
    gchar *h = g_ascii_strdown(hash, -1), *v = g_ascii_strup(value ? value : "", -1);
    out = g_strdup_printf("%s %s", h, v); /* no value: never matches */
    g_free(h);
    g_free(v);
  }
  g_strfreev(words);
  return out;
}

/* Lock held; peer_cert and remote_fp known. TRUE if they match, else *why says why not. */
static gboolean fingerprint_matches(DtlsConn *c, gchar **why) {
  gchar *hash = g_strndup(c->remote_fp, strcspn(c->remote_fp, " "));
  gchar *mine = fingerprint_of(c->peer_cert, hash);
  gboolean ok = mine && strcmp(mine, c->remote_fp) == 0;
  if (!mine) *why = g_strdup_printf("SDP a=fingerprint \"%s\": unsupported hash function", c->remote_fp);
  else if (!ok) *why = g_strdup_printf("peer certificate fingerprint %s does not match SDP a=fingerprint %s", mine, c->remote_fp);
  g_free(mine);
  g_free(hash);
  return ok;
}

/* Lock held. Connected once the handshake is done and the fingerprint verified; failed on a mismatch. */
static void settle(DtlsConn *c) {
  if (c->state == ST_FAILED || !c->remote_fp || !c->peer_cert) return;
  gchar *why = NULL;
  if (!fingerprint_matches(c, &why)) {
    fail(c, why);
    g_free(why);
    return;
  }
  if (!c->handshake_done || !c->profile || c->state == ST_CONNECTED) return;
  const Profile *p = c->profile;
  guint kl = p->key_len, sl = p->salt_len;
  guint8 client[MAX_KEY_SALT], server[MAX_KEY_SALT];
  memcpy(client, c->keys, kl);
  memcpy(client + kl, c->keys + 2 * kl, sl);
  memcpy(server, c->keys + kl, kl);
  memcpy(server + kl, c->keys + 2 * kl + sl, sl);
  gchar *cb = g_base64_encode(client, kl + sl), *sb = g_base64_encode(server, kl + sl);
  g_free(c->srtp_send);
  g_free(c->srtp_recv);
  /* The client protects with the client key and salt (RFC 5764 section 4.2). */
  c->srtp_send = g_strdup_printf("%s %s", p->suite, c->client ? cb : sb);
  c->srtp_recv = g_strdup_printf("%s %s", p->suite, c->client ? sb : cb);
  OPENSSL_cleanse(client, sizeof client);
  OPENSSL_cleanse(server, sizeof server);
  OPENSSL_cleanse(cb, strlen(cb));
  OPENSSL_cleanse(sb, strlen(sb));
  g_free(cb);
  g_free(sb);
  c->state = ST_CONNECTED;
  GST_INFO("dtls %s: connected (%s, %s)", c->id, c->client ? "client" : "server", p->suite);
}

/* ---- OpenSSL ---- */

/* The write BIO: each write is one datagram for the peer, queued on the connection (lock held:
 * OpenSSL is only called under it). A memory BIO would merge a flight's records into one blob. */
static int out_write(BIO *b, const char *data, int len) {
  DtlsConn *c = BIO_get_data(b);
  if (len <= 0) return 0;
  if (g_queue_get_length(&c->out) >= MAX_QUEUED) gst_buffer_unref(g_queue_pop_head(&c->out));
  g_queue_push_tail(&c->out, gst_buffer_new_memdup(data, (gsize)len));
  return len;
}

static long out_ctrl(BIO *b, int cmd, long num, void *ptr) {
  switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_DGRAM_QUERY_MTU: return DTLS_MTU;
    default: return 0; /* no MTU overhead, nothing pending */
  }
}

static int out_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

static BIO_METHOD *out_method(void) {
  static gsize once;
  static BIO_METHOD *method;
  if (g_once_init_enter(&once)) {
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "b2bdtls datagrams");
    BIO_meth_set_write(m, out_write);
    BIO_meth_set_ctrl(m, out_ctrl);
    BIO_meth_set_create(m, out_create);
    method = m;
    g_once_init_leave(&once, 1);
  }
  return method;
}

/* The use_srtp list: PROFILES whose suite this libsrtp build can do. */
static const gchar *offered_profiles(void) {
  static gsize once;
  static gchar *list;
  if (g_once_init_enter(&once)) {
    gchar *supported = b2b_srtp_supported_suites();
    gchar **names = g_strsplit(supported, " ", 0);
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < G_N_ELEMENTS(PROFILES); i++) {
      if (!g_strv_contains((const gchar *const *)names, PROFILES[i].suite)) continue;
      if (s->len) g_string_append_c(s, ':');
      g_string_append(s, PROFILES[i].openssl);
    }
    g_strfreev(names);
    g_free(supported);
    list = g_string_free(s, FALSE);
    g_once_init_leave(&once, 1);
  }
  return list;
}

/* Self-signed certificates are fine: what counts is the SDP fingerprint. Lock held (called inside SSL_do_handshake). */
static int verify_cb(int preverify_ok, X509_STORE_CTX *store) {
  SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
  DtlsConn *c = ssl ? SSL_get_app_data(ssl) : NULL;
  X509 *leaf = X509_STORE_CTX_get0_cert(store);
  if (!c || !leaf) return 0;
  if (!c->peer_cert) {
    X509_up_ref(leaf);
    c->peer_cert = leaf;
  }
  if (!c->remote_fp) return 1; /* checked when it arrives (settle) */
  gchar *why = NULL;
  if (fingerprint_matches(c, &why)) return 1;
  if (!c->verify_error) c->verify_error = why;
  else g_free(why);
  return 0;
}

static SSL_CTX *make_ctx(const gchar *pem, gchar **why) {
  SSL_CTX *ctx = SSL_CTX_new(DTLS_method());
  BIO *cert_bio = BIO_new_mem_buf(pem, -1), *key_bio = BIO_new_mem_buf(pem, -1);
  X509 *cert = ctx ? PEM_read_bio_X509(cert_bio, NULL, NULL, NULL) : NULL;
  EVP_PKEY *key = cert ? PEM_read_bio_PrivateKey(key_bio, NULL, NULL, NULL) : NULL;
  const gchar *problem = !ctx ? "SSL_CTX_new failed" : !cert ? "pem: no certificate" : !key ? "pem: no private key" : NULL;
  if (!problem && (SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1))
    problem = "pem: certificate and key refused";
  if (!problem && (SSL_CTX_set_min_proto_version(ctx, DTLS1_VERSION) != 1 || SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION) != 1))
    problem = "DTLS versions refused";
  /* 0 on success (sic). */
  if (!problem && SSL_CTX_set_tlsext_use_srtp(ctx, offered_profiles()) != 0) problem = "use_srtp profiles refused";
  if (problem) {
    gchar *detail = openssl_error(NULL);
    *why = detail ? g_strdup_printf("%s (%s)", problem, detail) : g_strdup(problem);
    g_free(detail);
    if (ctx) SSL_CTX_free(ctx);
    ctx = NULL;
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_QUERY_MTU);
  }
  X509_free(cert);
  EVP_PKEY_free(key);
  BIO_free(cert_bio);
  BIO_free(key_bio);
  return ctx;
}

/* DTLS retransmission timer (OpenSSL's DTLS_set_timer_cb): start at 100 ms, double up to 2 s. RFC 6347's 1 s
 * initial value is a SHOULD for paths of unknown delay; a flight lost while a re-INVITE rebuilds the pipeline, or
 * on a lossy access network, would otherwise cost a whole second of call set-up (WebRTC stacks start at 50-100 ms). */
#define DTLS_FIRST_TIMEOUT_US 100000
#define DTLS_MAX_TIMEOUT_US 2000000
static unsigned int retransmit_timer(SSL *ssl, unsigned int previous_us) {
  (void)ssl;
  if (previous_us == 0) return DTLS_FIRST_TIMEOUT_US;
  return previous_us >= DTLS_MAX_TIMEOUT_US / 2 ? DTLS_MAX_TIMEOUT_US : previous_us * 2;
}

/* Lock held. Creates the SSL object for the configured role; FALSE if it cannot (yet). */
static gboolean conn_start(DtlsConn *c) {
  if (c->ssl) return TRUE;
  if (c->state != ST_NEW || !c->pem || !*c->pem) return FALSE;
  gchar *why = NULL;
  ERR_clear_error();
  c->ctx = make_ctx(c->pem, &why);
  if (!c->ctx) {
    fail(c, why);
    g_free(why);
    return FALSE;
  }
  c->ssl = SSL_new(c->ctx);
  SSL_set_app_data(c->ssl, c);
  c->rbio = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(c->rbio, -1); /* empty = "retry later", not EOF */
  BIO *wbio = BIO_new(out_method());
  BIO_set_data(wbio, c);
  SSL_set_bio(c->ssl, c->rbio, wbio);
  DTLS_set_link_mtu(c->ssl, DTLS_MTU);
  DTLS_set_timer_cb(c->ssl, retransmit_timer);
  c->client = c->is_client;
  if (c->client) SSL_set_connect_state(c->ssl);
  else SSL_set_accept_state(c->ssl);
  c->state = ST_HANDSHAKING;
  c->started_us = g_get_monotonic_time();
  GST_INFO("dtls %s: handshake starts as %s", c->id, c->client ? "client" : "server");
  return TRUE;
}

/* Lock held. The handshake finished: profile, keys, then verification (settle). */
static void handshake_finished(DtlsConn *c) {
  c->handshake_done = TRUE;
  if (!c->peer_cert) c->peer_cert = SSL_get1_peer_certificate(c->ssl);
  SRTP_PROTECTION_PROFILE *sp = SSL_get_selected_srtp_profile(c->ssl);
  for (guint i = 0; sp && i < G_N_ELEMENTS(PROFILES); i++) if (strcmp(PROFILES[i].openssl, sp->name) == 0) c->profile = &PROFILES[i];
  if (!c->profile) {
    fail(c, sp ? "negotiated an SRTP profile we do not know" : "the peer negotiated no SRTP profile (use_srtp)");
    return;
  }
  gsize n = 2 * (c->profile->key_len + c->profile->salt_len);
  if (SSL_export_keying_material(c->ssl, c->keys, n, EXPORTER_LABEL, strlen(EXPORTER_LABEL), NULL, 0, 0) != 1) {
    c->profile = NULL;
    gchar *why = openssl_error("keying material export failed");
    fail(c, why);
    g_free(why);
    return;
  }
  if (!c->peer_cert) {
    fail(c, "the peer sent no certificate");
    return;
  }
  settle(c);
}

/* Lock held, c->ssl set. Runs OpenSSL on what the read BIO holds (or starts the client's handshake). */
static void conn_drive(DtlsConn *c) {
  if (c->state == ST_FAILED) return;
  ERR_clear_error();
  if (!c->handshake_done) {
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
      handshake_finished(c);
    } else {
      int e = SSL_get_error(c->ssl, r);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        gchar *fallback = g_strdup_printf("DTLS handshake failed (SSL_get_error %d)", e);
        gchar *why = c->verify_error ? g_strdup(c->verify_error) : openssl_error(fallback);
        fail(c, why);
        g_free(why);
        g_free(fallback);
      }
    }
  } else {
    /* After the handshake: lets OpenSSL answer a retransmitted final flight; no application data is expected. */
    guint8 buf[2048];
    int r;
    while ((r = SSL_read(c->ssl, buf, sizeof buf)) > 0) GST_DEBUG("dtls %s: %d bytes of application data ignored", c->id, r);
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_ZERO_RETURN) GST_INFO("dtls %s: the peer closed the association (keys kept)", c->id);
    else if (e != SSL_ERROR_WANT_READ) GST_INFO("dtls %s: record after the handshake refused (SSL_get_error %d)", c->id, e);
  }
  ERR_clear_error();
}

/* Lock held. The client starts when it may send and has its certificate. */
static void maybe_start_client(DtlsConn *c) {
  if (c->ssl || c->state != ST_NEW || !c->is_client || !c->active || !c->pem || !*c->pem) return;
  if (conn_start(c)) conn_drive(c);
  rearm(c);
}

/* ---- sending ---- */

static void ensure_sticky_events(GstPad *pad) {
  GstEvent *ev = gst_pad_get_sticky_event(pad, GST_EVENT_STREAM_START, 0);
  if (ev) gst_event_unref(ev);
  else {
    gchar *sid = g_strdup_printf("b2bdtls/%p", (void *)pad);
    gst_pad_push_event(pad, gst_event_new_stream_start(sid));
    g_free(sid);
  }
  ev = gst_pad_get_sticky_event(pad, GST_EVENT_CAPS, 0);
  if (ev) gst_event_unref(ev);
  else {
    GstCaps *caps = gst_static_pad_template_get_caps(&src_tpl);
    gst_pad_push_event(pad, gst_event_new_caps(caps));
    gst_caps_unref(caps);
  }
  ev = gst_pad_get_sticky_event(pad, GST_EVENT_SEGMENT, 0);
  if (ev) gst_event_unref(ev);
  else {
    GstSegment seg;
    gst_segment_init(&seg, GST_FORMAT_TIME);
    gst_pad_push_event(pad, gst_event_new_segment(&seg));
  }
}

/* Lock NOT held. Pushes the queued datagrams out of the current sender's src pad, if any. */
static void conn_send(DtlsConn *c) {
  g_mutex_lock(&c->push_lock);
  g_mutex_lock(&c->lock);
  GstPad *pad = NULL;
  GQueue q = G_QUEUE_INIT;
  if (can_send(c) && !g_queue_is_empty(&c->out)) {
    B2bDtls *sender = g_list_last(c->playing)->data;
    pad = gst_object_ref(sender->srcpad);
    q = c->out;
    g_queue_init(&c->out);
    c->records_out += q.length;
  }
  g_mutex_unlock(&c->lock);
  if (pad) {
    ensure_sticky_events(pad);
    GstBuffer *buf;
    while ((buf = g_queue_pop_head(&q))) {
      GstFlowReturn ret = gst_pad_push(pad, buf);
      if (ret != GST_FLOW_OK) GST_DEBUG_OBJECT(pad, "push: %s", gst_flow_get_name(ret));
    }
    gst_object_unref(pad);
  }
  g_mutex_unlock(&c->push_lock);
}

static void on_timer_fired(DtlsConn *c, GstClockID id) {
  g_mutex_lock(&c->lock);
  if (c->dead) {
    g_mutex_unlock(&c->lock);
    return;
  }
  if (id == c->timer) {
    gst_clock_id_unref(c->timer);
    c->timer = NULL;
  }
  if (c->state == ST_HANDSHAKING && c->ssl && !c->handshake_done) {
    if (g_get_monotonic_time() - c->started_us >= HANDSHAKE_TIMEOUT_US) {
      fail(c, "handshake timed out");
    } else {
      ERR_clear_error();
      int r = DTLSv1_handle_timeout(c->ssl);
      if (r > 0) {
        c->retransmissions++;
        GST_DEBUG("dtls %s: flight retransmitted", c->id);
      } else if (r < 0) {
        gchar *why = openssl_error("DTLS retransmission failed");
        fail(c, why);
        g_free(why);
      }
    }
  }
  rearm(c);
  g_mutex_unlock(&c->lock);
  conn_send(c);
}

/* Registry destroy: no more timers; the memory goes with the last reference. */
static void conn_destroy(gpointer data) {
  DtlsConn *c = data;
  g_mutex_lock(&c->lock);
  c->dead = TRUE;
  GstClockID timer = c->timer;
  c->timer = NULL;
  g_mutex_unlock(&c->lock);
  if (timer) {
    gst_clock_id_unschedule(timer);
    gst_clock_id_unref(timer);
  }
  GST_INFO("dtls %s: released", c->id);
  conn_unref(c);
}

/* ---- settings on a connection (lock held) ---- */

static void conn_set(DtlsConn *c, guint id, const GValue *value) {
  switch (id) {
    case PROP_PEM: {
      const gchar *pem = g_value_get_string(value);
      if (c->ssl) {
        if (g_strcmp0(pem, c->pem) != 0) GST_WARNING("dtls %s: pem changed after the handshake started: ignored", c->id);
        break;
      }
      if (c->pem) OPENSSL_cleanse(c->pem, strlen(c->pem));
      g_free(c->pem);
      c->pem = g_strdup(pem);
      maybe_start_client(c);
      break;
    }
    case PROP_IS_CLIENT:
      if (c->ssl && c->client != g_value_get_boolean(value)) GST_WARNING("dtls %s: is-client changed after the handshake started: ignored", c->id);
      c->is_client = g_value_get_boolean(value);
      maybe_start_client(c);
      break;
    case PROP_ACTIVE:
      c->active = g_value_get_boolean(value);
      maybe_start_client(c);
      kick(c);
      break;
    case PROP_REMOTE_FINGERPRINT:
      g_free(c->remote_fp);
      c->remote_fp = normalise_fingerprint(g_value_get_string(value));
      settle(c);
      break;
    default: break;
  }
}

/* ---- the element ---- */

static GstFlowReturn b2b_dtls_chain(GstPad *pad, GstObject *parent, GstBuffer *buf) {
  B2bDtls *self = B2B_DTLS(parent);
  g_mutex_lock(&self->lock);
  DtlsConn *c = self->conn;
  if (c) g_atomic_int_inc(&c->refs);
  g_mutex_unlock(&self->lock);
  if (!c) {
    gst_buffer_unref(buf);
    return GST_FLOW_OK;
  }
  GstMapInfo map;
  g_mutex_lock(&c->lock);
  c->records_in++;
  if (!c->dead && c->state != ST_FAILED && !c->ssl && !c->is_client && !conn_start(c))
    GST_DEBUG("dtls %s: record before the server could start (no pem yet): dropped", c->id);
  if (!c->dead && c->ssl && c->state != ST_FAILED && gst_buffer_map(buf, &map, GST_MAP_READ)) {
    BIO_write(c->rbio, map.data, (int)map.size);
    gst_buffer_unmap(buf, &map);
    conn_drive(c);
    (void)BIO_reset(c->rbio); /* leftovers of a datagram OpenSSL refused must not prefix the next one */
    rearm(c);
  }
  g_mutex_unlock(&c->lock);
  gst_buffer_unref(buf);
  conn_send(c);
  conn_unref(c);
  return GST_FLOW_OK;
}

/* The src pad carries the connection's records, not the sink's stream: nothing of the latter passes. */
static gboolean b2b_dtls_sink_event(GstPad *pad, GstObject *parent, GstEvent *event) {
  if (GST_EVENT_IS_SERIALIZED(event) || GST_EVENT_TYPE(event) == GST_EVENT_FLUSH_START) {
    gst_event_unref(event);
    return TRUE;
  }
  return gst_pad_event_default(pad, parent, event);
}

/* Self lock held. */
static void set_sender(B2bDtls *self, gboolean on) {
  DtlsConn *c = self->conn;
  if (!c) return;
  g_mutex_lock(&c->lock);
  c->playing = g_list_remove(c->playing, self);
  if (on) c->playing = g_list_append(c->playing, self);
  kick(c);
  g_mutex_unlock(&c->lock);
}

static GstStateChangeReturn b2b_dtls_change_state(GstElement *element, GstStateChange transition) {
  B2bDtls *self = B2B_DTLS(element);
  if (transition == GST_STATE_CHANGE_PLAYING_TO_PAUSED) {
    g_mutex_lock(&self->lock);
    self->playing = FALSE;
    set_sender(self, FALSE);
    g_mutex_unlock(&self->lock);
  }
  GstStateChangeReturn ret = GST_ELEMENT_CLASS(b2b_dtls_parent_class)->change_state(element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_PLAYING && ret != GST_STATE_CHANGE_FAILURE) {
    g_mutex_lock(&self->lock);
    self->playing = TRUE;
    set_sender(self, TRUE);
    g_mutex_unlock(&self->lock);
  }
  return ret;
}

/* Self lock held. Detaches from the current connection (if any), attaches to `id` (if not empty). */
static void attach(B2bDtls *self, const gchar *id) {
  if (g_strcmp0(id ? id : "", self->connection_id) == 0) return;
  if (self->conn) {
    set_sender(self, FALSE);
    self->conn = NULL;
    b2b_shared_release(SHARED_KIND, self->connection_id);
  }
  g_free(self->connection_id);
  self->connection_id = g_strdup(id ? id : "");
  if (!*self->connection_id) return;
  DtlsConn *c = b2b_shared_acquire(SHARED_KIND, self->connection_id, conn_create, NULL, conn_destroy);
  self->conn = c;
  g_mutex_lock(&c->lock);
  /* Settings made before attaching; the order matters little: the client starts once all are there. */
  static const guint order[] = {PROP_PEM, PROP_IS_CLIENT, PROP_REMOTE_FINGERPRINT, PROP_ACTIVE};
  for (guint i = 0; i < G_N_ELEMENTS(order); i++) {
    if (!(self->pending & (1u << order[i]))) continue;
    GValue v = G_VALUE_INIT;
    if (order[i] == PROP_PEM || order[i] == PROP_REMOTE_FINGERPRINT) {
      g_value_init(&v, G_TYPE_STRING);
      g_value_set_string(&v, order[i] == PROP_PEM ? self->pem : self->remote_fp);
    } else {
      g_value_init(&v, G_TYPE_BOOLEAN);
      g_value_set_boolean(&v, order[i] == PROP_ACTIVE ? self->active : self->is_client);
    }
    conn_set(c, order[i], &v);
    g_value_unset(&v);
  }
  self->pending = 0;
  g_mutex_unlock(&c->lock);
  if (self->playing) set_sender(self, TRUE);
}

static void b2b_dtls_set_property(GObject *object, guint id, const GValue *value, GParamSpec *pspec) {
  B2bDtls *self = B2B_DTLS(object);
  g_mutex_lock(&self->lock);
  switch (id) {
    case PROP_CONNECTION_ID: attach(self, g_value_get_string(value)); break;
    case PROP_PEM:
    case PROP_IS_CLIENT:
    case PROP_ACTIVE:
    case PROP_REMOTE_FINGERPRINT:
      if (self->conn) {
        g_mutex_lock(&self->conn->lock);
        conn_set(self->conn, id, value);
        g_mutex_unlock(&self->conn->lock);
        break;
      }
      self->pending |= 1u << id;
      if (id == PROP_PEM) { g_free(self->pem); self->pem = g_value_dup_string(value); }
      else if (id == PROP_REMOTE_FINGERPRINT) { g_free(self->remote_fp); self->remote_fp = g_value_dup_string(value); }
      else if (id == PROP_ACTIVE) self->active = g_value_get_boolean(value);
      else self->is_client = g_value_get_boolean(value);
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
  g_mutex_unlock(&self->lock);
}

/* Connection lock held (or c is the zeroed stand-in of a detached instance for counters). */
static void conn_get(DtlsConn *c, guint id, GValue *value) {
  switch (id) {
    case PROP_PEM: g_value_set_string(value, c->pem); break;
    case PROP_IS_CLIENT: g_value_set_boolean(value, c->is_client); break;
    case PROP_ACTIVE: g_value_set_boolean(value, c->active); break;
    case PROP_REMOTE_FINGERPRINT: g_value_set_string(value, c->remote_fp ? c->remote_fp : ""); break;
    case PROP_STATE: g_value_set_string(value, STATE_NAMES[c->state]); break;
    case PROP_ERROR: g_value_set_string(value, c->error ? c->error : ""); break;
    case PROP_PEER_FINGERPRINT: {
      gchar *hash = c->remote_fp ? g_strndup(c->remote_fp, strcspn(c->remote_fp, " ")) : g_strdup("sha-256");
      gchar *fp = c->peer_cert ? fingerprint_of(c->peer_cert, hash) : NULL;
      g_value_take_string(value, fp ? fp : g_strdup(""));
      g_free(hash);
      break;
    }
    case PROP_PROFILE: g_value_set_string(value, c->profile ? c->profile->suite : ""); break;
    case PROP_SRTP_SEND: g_value_set_string(value, c->srtp_send ? c->srtp_send : ""); break;
    case PROP_SRTP_RECV: g_value_set_string(value, c->srtp_recv ? c->srtp_recv : ""); break;
    default: b2b_get_counter(c, counters, G_N_ELEMENTS(counters), id, value);
  }
}

static void b2b_dtls_get_property(GObject *object, guint id, GValue *value, GParamSpec *pspec) {
  B2bDtls *self = B2B_DTLS(object);
  if (id == PROP_CONNECTIONS) { g_value_set_uint(value, b2b_shared_count(SHARED_KIND)); return; }
  if (id <= PROP_0 || id > PROP_RETRANSMISSIONS) { G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec); return; }
  g_mutex_lock(&self->lock);
  if (id == PROP_CONNECTION_ID) {
    g_value_set_string(value, self->connection_id);
  } else if (self->conn) {
    g_mutex_lock(&self->conn->lock);
    conn_get(self->conn, id, value);
    g_mutex_unlock(&self->conn->lock);
  } else {
    /* Not attached: the settings made so far, and a connection that has not started. */
    DtlsConn detached = {0};
    detached.pem = self->pem;
    detached.is_client = self->is_client;
    detached.active = self->active;
    gchar *fp = normalise_fingerprint(self->remote_fp);
    detached.remote_fp = fp;
    conn_get(&detached, id, value);
    g_free(fp);
  }
  g_mutex_unlock(&self->lock);
}

static void b2b_dtls_finalize(GObject *object) {
  B2bDtls *self = B2B_DTLS(object);
  g_mutex_lock(&self->lock);
  attach(self, "");
  g_mutex_unlock(&self->lock);
  g_free(self->connection_id);
  if (self->pem) OPENSSL_cleanse(self->pem, strlen(self->pem));
  g_free(self->pem);
  g_free(self->remote_fp);
  g_mutex_clear(&self->lock);
  G_OBJECT_CLASS(b2b_dtls_parent_class)->finalize(object);
}

static void b2b_dtls_class_init(B2bDtlsClass *klass) {
  static GstStaticPadTemplate *const templates[] = {&sink_tpl, &src_tpl, NULL};
  b2b_element_class_setup(klass, &(B2bElementClassInfo){b2b_dtls_set_property, b2b_dtls_get_property, b2b_dtls_finalize, templates,
      "B2BUA DTLS-SRTP", "Filter/Network/DTLS", "DTLS-SRTP handshake (RFC 5763/5764) shared across pipelines, keys for b2bsrtp"});
  GST_ELEMENT_CLASS(klass)->change_state = GST_DEBUG_FUNCPTR(b2b_dtls_change_state);
  GObjectClass *oc = G_OBJECT_CLASS(klass);
  const GParamFlags rw = B2B_PARAM_RW, ro = B2B_PARAM_RO;
  g_object_class_install_property(oc, PROP_CONNECTION_ID, g_param_spec_string("connection-id", "Connection id",
      "The shared association this instance is attached to (\"\" = none; setting \"\" on every instance ends it)", "", rw));
  g_object_class_install_property(oc, PROP_PEM, g_param_spec_string("pem", "PEM",
      "Our certificate and private key (PEM); set before the handshake starts", NULL, rw));
  g_object_class_install_property(oc, PROP_IS_CLIENT, g_param_spec_boolean("is-client", "Is client",
      "TRUE: we send the ClientHello (a=setup:active); FALSE: server (a=setup:passive)", FALSE, rw));
  g_object_class_install_property(oc, PROP_ACTIVE, g_param_spec_boolean("active", "Active",
      "May send (the peer's address is known); a client starts its handshake", FALSE, rw));
  g_object_class_install_property(oc, PROP_REMOTE_FINGERPRINT, g_param_spec_string("remote-fingerprint", "Remote fingerprint",
      "The peer's SDP a=fingerprint, \"sha-256 AB:CD:..\" (sha-1/224/256/384/512, any case)", "", rw));
  g_object_class_install_property(oc, PROP_STATE, g_param_spec_string("state", "State",
      "new | handshaking | connected (handshake done and fingerprint verified) | failed", "new", ro));
  g_object_class_install_property(oc, PROP_ERROR, g_param_spec_string("error", "Error", "Why the state is failed (\"\" if it is not)", "", ro));
  g_object_class_install_property(oc, PROP_PEER_FINGERPRINT, g_param_spec_string("peer-fingerprint", "Peer fingerprint",
      "Fingerprint of the peer's certificate in the hash of remote-fingerprint (sha-256 before), \"\" before it arrived", "", ro));
  g_object_class_install_property(oc, PROP_PROFILE, g_param_spec_string("profile", "Profile",
      "Negotiated SRTP profile as an RFC 4568 suite name, \"\" before", "", ro));
  g_object_class_install_property(oc, PROP_SRTP_SEND, g_param_spec_string("srtp-send", "SRTP send",
      "b2bsrtp srtp-params for what we send (protect); \"\" until connected", "", ro));
  g_object_class_install_property(oc, PROP_SRTP_RECV, g_param_spec_string("srtp-recv", "SRTP receive",
      "b2bsrtp srtp-params for what we receive (unprotect); \"\" until connected", "", ro));
  g_object_class_install_property(oc, PROP_CONNECTIONS, g_param_spec_uint("connections", "Connections",
      "DTLS associations alive in this process (all connection-ids; tests, leak checks)", 0, G_MAXUINT, 0, ro));
  b2b_install_counters(oc, counters, G_N_ELEMENTS(counters));
  GST_DEBUG_CATEGORY_INIT(b2b_dtls_debug, "b2bdtls", 0, "B2BUA DTLS-SRTP");
}

static void b2b_dtls_init(B2bDtls *self) {
  g_mutex_init(&self->lock);
  self->connection_id = g_strdup("");
  self->sinkpad = b2b_add_pad(GST_ELEMENT(self), &sink_tpl, GST_DEBUG_FUNCPTR(b2b_dtls_chain), GST_DEBUG_FUNCPTR(b2b_dtls_sink_event),
      B2B_CAPS_DEFAULT);
  self->srcpad = b2b_add_pad(GST_ELEMENT(self), &src_tpl, NULL, NULL, B2B_CAPS_FIXED);
}
