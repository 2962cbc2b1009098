/*
 * b2bzrtp: RFC 6189 ZRTP key agreement for one call leg with libbzrtp (the library linphone uses),
 * giving SRTP keys to the b2bsrtp elements through polled properties (no signal towards JavaScript).
 *
 * Shared state (b2bshared.h, kind "zrtp"): one Session per `connection-id` (= per call leg) holds one
 * bzrtp context; each stream is one bzrtp channel, named by the element's `ssrc`. The first channel of a
 * session is bzrtp's main channel (DH or X25519 exchange, SAS, cache); a second one (video) is added to the
 * same context and started once the main channel is secured, in multistream mode (Mult), as
 * mediastreamer2 does. bzrtp 5.1.64 holds at most 2 channels per context (ZRTP_MAX_CHANNEL_NUMBER).
 * Every element instance attached to (connection-id, ssrc) acts on that channel; an instance with a
 * connection-id but no ssrc acts on the session (its reads show the main channel).
 *
 * The bzrtp context is created lazily, the first time it is needed (reading `hello-hash`, starting a
 * channel, a ZRTP packet arriving): the ZID comes from the cache and the algorithm lists go into the Hello,
 * so `cache-path`, `self-uri`, `peer-uri` and the algorithm lists must be set before that; later changes
 * are ignored (logged).
 *
 * Threads and locks. bzrtp is not thread-safe: every bzrtp call on a context happens under the session
 * lock, and so do its callbacks (sendData queues a copy of the packet on the channel, the secrets callbacks
 * copy what they need). Packets are pushed out after the session lock is dropped, under the session's
 * push lock (one pusher at a time: the timer thread and the sink chain never interleave on a pad), from the
 * src pad of the channel's attached instance that most recently reached PLAYING (none: kept, up to
 * OUTQ_MAX packets, for the next one). Nothing is queued for sending while the channel is not `active`.
 * The timer is one process-wide periodic GstClockID on the system clock (GStreamer's single async clock
 * thread, no thread per call) that calls bzrtp_iterate every TICK_MS for the started, unsecured channels
 * of every session and flushes their queues. A session is reference counted: the registry's destroy marks
 * it dead and frees the bzrtp context under the lock, a tick in flight holds its own reference and skips a
 * dead session, the memory goes with the last reference. Property setters never push (the next tick does),
 * so the JavaScript thread never blocks in a sink.
 *
 * ZID cache: one sqlite3 connection per path per process (bzrtp_initCache_lock once at open, shared by
 * every session with one bctbx mutex, closed with its last session). "" = no cache (random ZID per context).
 * `cache-hit`: the retained secret matched, read back from the cache after bzrtp's update (the "rs2" column
 * then holds the previous rs1; bzrtp skips the update on a mismatch).
 *
 * GoClear (RFC 6189 section 5.7) is never sent (bzrtp 5.1.64 cannot) and an incoming one is dropped and
 * counted before bzrtp sees it: the stream never falls back to plain RTP.
 */
#include "b2bplugin.h"
#include "b2bshared.h"
#include <bzrtp/bzrtp.h>
#include <sqlite3.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC(b2b_zrtp_debug);
#define GST_CAT_DEFAULT b2b_zrtp_debug

#define TICK_MS 10
#define OUTQ_MAX 8
#define HANDSHAKE_TIMEOUT_MS 30000
#define ZRTP_HEADER_LEN 12

/* ------------------------------------------------------------------ algorithms */

typedef struct {
  const char *name; /* RFC 6189 name, trailing space dropped ("B32 " -> "B32") */
  guint8 id;
  guint8 type;
  gboolean offer; /* may be put in our Hello (no Twofish/Skein: b2bsrtp cannot do them) */
} Algo;

static const Algo ALGOS[] = {
  {"S256", ZRTP_HASH_S256, ZRTP_HASH_TYPE, TRUE},     {"S384", ZRTP_HASH_S384, ZRTP_HASH_TYPE, TRUE},
  {"N256", ZRTP_HASH_N256, ZRTP_HASH_TYPE, FALSE},    {"N384", ZRTP_HASH_N384, ZRTP_HASH_TYPE, FALSE},
  {"AES1", ZRTP_CIPHER_AES1, ZRTP_CIPHERBLOCK_TYPE, TRUE}, {"AES2", ZRTP_CIPHER_AES2, ZRTP_CIPHERBLOCK_TYPE, FALSE},
  {"AES3", ZRTP_CIPHER_AES3, ZRTP_CIPHERBLOCK_TYPE, TRUE}, {"2FS1", ZRTP_CIPHER_2FS1, ZRTP_CIPHERBLOCK_TYPE, FALSE},
  {"2FS2", ZRTP_CIPHER_2FS2, ZRTP_CIPHERBLOCK_TYPE, FALSE}, {"2FS3", ZRTP_CIPHER_2FS3, ZRTP_CIPHERBLOCK_TYPE, FALSE},
  {"HS32", ZRTP_AUTHTAG_HS32, ZRTP_AUTHTAG_TYPE, TRUE}, {"HS80", ZRTP_AUTHTAG_HS80, ZRTP_AUTHTAG_TYPE, TRUE},
  {"SK32", ZRTP_AUTHTAG_SK32, ZRTP_AUTHTAG_TYPE, FALSE}, {"SK64", ZRTP_AUTHTAG_SK64, ZRTP_AUTHTAG_TYPE, FALSE},
  {"DH2k", ZRTP_KEYAGREEMENT_DH2k, ZRTP_KEYAGREEMENT_TYPE, TRUE}, {"X255", ZRTP_KEYAGREEMENT_X255, ZRTP_KEYAGREEMENT_TYPE, TRUE},
  {"EC25", ZRTP_KEYAGREEMENT_EC25, ZRTP_KEYAGREEMENT_TYPE, TRUE}, {"X448", ZRTP_KEYAGREEMENT_X448, ZRTP_KEYAGREEMENT_TYPE, TRUE},
  {"DH3k", ZRTP_KEYAGREEMENT_DH3k, ZRTP_KEYAGREEMENT_TYPE, TRUE}, {"EC38", ZRTP_KEYAGREEMENT_EC38, ZRTP_KEYAGREEMENT_TYPE, TRUE},
  {"EC52", ZRTP_KEYAGREEMENT_EC52, ZRTP_KEYAGREEMENT_TYPE, TRUE}, {"Prsh", ZRTP_KEYAGREEMENT_Prsh, ZRTP_KEYAGREEMENT_TYPE, FALSE},
  {"Mult", ZRTP_KEYAGREEMENT_Mult, ZRTP_KEYAGREEMENT_TYPE, TRUE},
  {"B32", ZRTP_SAS_B32, ZRTP_SAS_TYPE, TRUE},         {"B256", ZRTP_SAS_B256, ZRTP_SAS_TYPE, TRUE},
};

static const char *algo_name(guint8 id) {
  for (guint i = 0; i < G_N_ELEMENTS(ALGOS); i++) if (ALGOS[i].id == id) return ALGOS[i].name;
  return "";
}

/* The algorithm-list properties, in the order of ALGO_TYPES. bzrtp adds the mandatory ones (S256, AES1,
 * HS32+HS80, DH3k+Mult, B32) to whatever is given, and drops what it does not implement. */
static const guint8 ALGO_TYPES[] = {ZRTP_HASH_TYPE, ZRTP_CIPHERBLOCK_TYPE, ZRTP_AUTHTAG_TYPE, ZRTP_KEYAGREEMENT_TYPE, ZRTP_SAS_TYPE};
static const char *const ALGO_DEFAULTS[] = {"S256 S384", "AES1 AES3", "HS80 HS32", "X255 X448 DH3k DH2k", "B32 B256"};
#define N_ALGO_TYPES G_N_ELEMENTS(ALGO_TYPES)

/* Space/comma-separated names of `type` -> ids (at most 7, unknown or not offerable names skipped). */
static guint8 parse_algos(const gchar *list, guint8 type, guint8 out[7]) {
  guint8 n = 0;
  gchar **words = g_strsplit_set(list ? list : "", " ,", -1);
  for (gchar **w = words; *w && n < 7; w++) {
    if (!**w) continue;
    gboolean found = FALSE;
    for (guint i = 0; i < G_N_ELEMENTS(ALGOS); i++) {
      if (ALGOS[i].type == type && ALGOS[i].offer && g_ascii_strcasecmp(ALGOS[i].name, *w) == 0) { out[n++] = ALGOS[i].id; found = TRUE; break; }
    }
    if (!found) GST_WARNING("ZRTP algorithm \"%s\" not offered (unknown, wrong list, or not usable with b2bsrtp)", *w);
  }
  g_strfreev(words);
  return n;
}

/* ------------------------------------------------------------------ ZID cache registry */

typedef struct {
  gchar *path;
  sqlite3 *db;
  bctbx_mutex_t mutex;
  guint refs;
} CacheDb;

static GMutex caches_lock;
static GHashTable *caches; /* path -> CacheDb */

static CacheDb *cache_open(const gchar *path) {
  g_mutex_lock(&caches_lock);
  if (!caches) caches = g_hash_table_new(g_str_hash, g_str_equal);
  CacheDb *c = g_hash_table_lookup(caches, path);
  if (!c) {
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
      GST_WARNING("ZRTP cache %s: %s: running without cache", path, db ? sqlite3_errmsg(db) : "cannot open");
      if (db) sqlite3_close(db);
      g_mutex_unlock(&caches_lock);
      return NULL;
    }
    c = g_new0(CacheDb, 1);
    c->path = g_strdup(path);
    c->db = db;
    bctbx_mutex_init(&c->mutex, NULL);
    int ret = bzrtp_initCache_lock(db, &c->mutex);
    if (ret != 0 && ret != BZRTP_CACHE_SETUP && ret != BZRTP_CACHE_UPDATE) GST_WARNING("ZRTP cache %s: bzrtp_initCache_lock returned 0x%x", path, ret);
    g_hash_table_insert(caches, c->path, c);
  }
  c->refs++;
  g_mutex_unlock(&caches_lock);
  return c;
}

static void cache_close(CacheDb *c) {
  if (!c) return;
  g_mutex_lock(&caches_lock);
  gboolean last = --c->refs == 0;
  if (last) g_hash_table_remove(caches, c->path);
  g_mutex_unlock(&caches_lock);
  if (!last) return;
  sqlite3_close(c->db);
  bctbx_mutex_destroy(&c->mutex);
  g_free(c->path);
  g_free(c);
}

/* ------------------------------------------------------------------ session and channels */

typedef enum { CH_NEW, CH_HANDSHAKING, CH_SECURED, CH_FAILED } ChannelState;
static const char *const STATE_NAMES[] = {"new", "handshaking", "secured", "failed"};

typedef struct _Session Session;

typedef struct {
  Session *session;
  guint32 ssrc;
  gboolean in_bzrtp; /* a channel of the bzrtp context */
  gboolean main;     /* the context's first channel (DH exchange) */
  gboolean started;
  gboolean active;   /* set on an instance of this channel */
  gint64 deadline_ms; /* handshake timeout, once started and active; 0 = none */
  gchar *peer_hello_hash;
  ChannelState state;
  gchar *error;
  /* From bzrtp's secrets callbacks; published (srtp-send/-recv readable) once secured. */
  gchar *send, *recv;
  guint8 cipher, auth_tag, key_agreement, hash, sas_type;
  gchar *sas;
  GQueue outq;      /* GstBuffer *, to push */
  GList *instances; /* B2bZrtp * attached to this channel (no reference; detached in dispose) */
  guint64 packets_in, packets_out, goclear;
} Channel;

struct _Session {
  gint refs; /* atomic: the registry's, the ticker's, ticks and flushes in flight */
  GMutex lock;
  GMutex push_lock;
  gchar *id;
  gboolean dead;
  bzrtpContext_t *ctx; /* NULL until first needed */
  gchar *cache_path, *self_uri, *peer_uri;
  gchar *algos[N_ALGO_TYPES];
  gboolean active;  /* set on an instance without ssrc: every channel */
  CacheDb *cache;
  gboolean cache_hit, cache_mismatch;
  GPtrArray *channels; /* Channel *, in creation order */
  GList *conn_instances; /* instances attached without ssrc (no reference) */
};

struct _B2bZrtp {
  GstElement parent;
  GstPad *sinkpad, *srcpad;
  GMutex lock; /* the fields below */
  gchar *connection_id;
  guint ssrc;
  gboolean has_ssrc;
  Session *session; /* while attached (b2b_shared reference) */
  Channel *channel; /* NULL without ssrc; owned by the session */
  gboolean playing;  /* written under the session lock */
  guint64 play_seq;  /* when it last reached PLAYING (session lock) */
  /* Values set on this instance, applied on attach (see apply_prop). */
  guint set_mask;
  gchar *cache_path, *self_uri, *peer_uri, *peer_hello_hash;
  gchar *algos[N_ALGO_TYPES];
  gboolean active;
};

G_DEFINE_TYPE(B2bZrtp, b2b_zrtp, GST_TYPE_ELEMENT)

enum {
  PROP_0, PROP_CONNECTION_ID, PROP_SSRC, PROP_CACHE_PATH, PROP_SELF_URI, PROP_PEER_URI, PROP_PEER_HELLO_HASH, PROP_ACTIVE,
  PROP_HASHES, PROP_CIPHERS, PROP_AUTH_TAGS, PROP_KEY_AGREEMENTS, PROP_SAS_TYPES, /* in ALGO_TYPES order */
  PROP_HELLO_HASH, PROP_STATE, PROP_ERROR, PROP_SAS, PROP_SAS_TYPE, PROP_CIPHER, PROP_AUTH_TAG, PROP_KEY_AGREEMENT, PROP_HASH,
  PROP_CACHE_HIT, PROP_CACHE_MISMATCH, PROP_SRTP_SEND, PROP_SRTP_RECV, PROP_PACKETS_IN, PROP_PACKETS_OUT, PROP_GOCLEAR
};
#define IS_ALGO_PROP(id) ((id) >= PROP_HASHES && (id) <= PROP_SAS_TYPES)

static const B2bCounter counters[] = {
  B2B_COUNTER(Channel, PROP_PACKETS_IN, "packets-in", packets_in, "ZRTP packets received on this stream"),
  B2B_COUNTER(Channel, PROP_PACKETS_OUT, "packets-out", packets_out, "ZRTP packets sent on this stream"),
  B2B_COUNTER(Channel, PROP_GOCLEAR, "goclear-ignored", goclear, "GoClear packets received and dropped (never honoured)"),
};

static GstStaticPadTemplate sink_tpl = B2B_PAD_TEMPLATE("sink", GST_PAD_SINK, "ANY");
static GstStaticPadTemplate src_tpl = B2B_PAD_TEMPLATE("src", GST_PAD_SRC, "application/x-zrtp");

static gint64 now_ms(void) { return g_get_monotonic_time() / 1000; }

static void set_error_locked(Channel *ch, const gchar *fmt, ...) G_GNUC_PRINTF(2, 3);
static void set_error_locked(Channel *ch, const gchar *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  g_free(ch->error);
  ch->error = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  ch->state = CH_FAILED;
  GST_WARNING("ZRTP stream ssrc %08x: %s", ch->ssrc, ch->error);
}

static gboolean channel_active(const Channel *ch) { return ch->active || ch->session->active; }

/* --- bzrtp callbacks (session lock held: they only run inside bzrtp calls) --- */

static int cb_send(void *client, const uint8_t *data, uint16_t len) {
  Channel *ch = client;
  if (!channel_active(ch)) return 0; /* nothing goes out before `active`: retransmissions resend it */
  while (g_queue_get_length(&ch->outq) >= OUTQ_MAX) gst_buffer_unref(g_queue_pop_head(&ch->outq));
  g_queue_push_tail(&ch->outq, gst_buffer_new_memdup(data, len));
  return 0;
}

static gchar *srtp_params(guint8 cipher, guint8 tag, const uint8_t *key, guint key_len, const uint8_t *salt, guint salt_len) {
  const char *suite = NULL;
  if (cipher == ZRTP_CIPHER_AES1) suite = tag == ZRTP_AUTHTAG_HS80 ? "AES_CM_128_HMAC_SHA1_80" : tag == ZRTP_AUTHTAG_HS32 ? "AES_CM_128_HMAC_SHA1_32" : NULL;
  else if (cipher == ZRTP_CIPHER_AES3) suite = tag == ZRTP_AUTHTAG_HS80 ? "AES_256_CM_HMAC_SHA1_80" : tag == ZRTP_AUTHTAG_HS32 ? "AES_256_CM_HMAC_SHA1_32" : NULL;
  if (!suite || !key || !salt) return NULL;
  guint8 buf[64 + 14];
  if (key_len + salt_len > sizeof buf) return NULL;
  memcpy(buf, key, key_len);
  memcpy(buf + key_len, salt, salt_len);
  gchar *b64 = g_base64_encode(buf, key_len + salt_len);
  gchar *out = g_strdup_printf("%s %s", suite, b64);
  memset(buf, 0, sizeof buf);
  g_free(b64);
  return out;
}

static int cb_secrets(void *client, const bzrtpSrtpSecrets_t *s, uint8_t part) {
  Channel *ch = client;
  if (part & ZRTP_SRTP_SECRETS_FOR_SENDER) {
    g_free(ch->send);
    ch->send = srtp_params(s->cipherAlgo, s->authTagAlgo, s->selfSrtpKey, s->selfSrtpKeyLength, s->selfSrtpSalt, s->selfSrtpSaltLength);
  }
  if (part & ZRTP_SRTP_SECRETS_FOR_RECEIVER) {
    g_free(ch->recv);
    ch->recv = srtp_params(s->cipherAlgo, s->authTagAlgo, s->peerSrtpKey, s->peerSrtpKeyLength, s->peerSrtpSalt, s->peerSrtpSaltLength);
  }
  return 0;
}

static int cb_start_srtp(void *client, const bzrtpSrtpSecrets_t *s, int32_t verified) {
  Channel *ch = client;
  (void)verified;
  ch->cipher = s->cipherAlgo;
  ch->auth_tag = s->authTagAlgo;
  ch->key_agreement = s->keyAgreementAlgo;
  ch->hash = s->hashAlgo;
  ch->sas_type = s->sasAlgo;
  if (s->sas) { g_free(ch->sas); ch->sas = g_strdup(s->sas); }
  if (ch->main) ch->session->cache_mismatch = s->cacheMismatch != 0;
  if (!ch->send || !ch->recv) { set_error_locked(ch, "negotiated %s/%s, which b2bsrtp cannot do", algo_name(s->cipherAlgo), algo_name(s->authTagAlgo)); return 0; }
  if (ch->state != CH_FAILED) ch->state = CH_SECURED;
  GST_INFO("ZRTP stream ssrc %08x secured: %s %s %s %s", ch->ssrc, algo_name(s->keyAgreementAlgo), algo_name(s->cipherAlgo), algo_name(s->authTagAlgo),
      s->sas ? s->sas : "");
  return 0;
}

static int cb_status(void *client, const uint8_t level, const uint8_t id, const char *msg) {
  Channel *ch = client;
  if (id == BZRTP_MESSAGE_CACHEMISMATCH && ch) ch->session->cache_mismatch = TRUE;
  GST_DEBUG("bzrtp message level %u id %u: %s", level, id, msg ? msg : "");
  return 0;
}

/* After bzrtp wrote the new retained secret: rs2 now holds the previous rs1 (NULL on a first call). */
static int cb_exported_keys(void *client, int zuid, uint8_t role) {
  Channel *ch = client;
  Session *s = ch->session;
  (void)role;
  if (!s->cache) return 0;
  const char *cols[] = {"rs2"};
  uint8_t *values[1] = {NULL};
  size_t lengths[1] = {0};
  if (bzrtp_cache_read_lock(s->cache->db, zuid, "zrtp", cols, values, lengths, 1, &s->cache->mutex) == 0)
    s->cache_hit = values[0] != NULL && lengths[0] > 0 && !s->cache_mismatch;
  free(values[0]);
  return 0;
}

/* --- session lifetime --- */

static void channel_free(Channel *ch) {
  GstBuffer *b;
  while ((b = g_queue_pop_head(&ch->outq))) gst_buffer_unref(b);
  g_free(ch->peer_hello_hash);
  g_free(ch->error);
  if (ch->send) memset(ch->send, 0, strlen(ch->send));
  if (ch->recv) memset(ch->recv, 0, strlen(ch->recv));
  g_free(ch->send);
  g_free(ch->recv);
  g_free(ch->sas);
  g_list_free(ch->instances);
  g_free(ch);
}

static Session *session_ref(Session *s) { g_atomic_int_inc(&s->refs); return s; }

static void session_unref(Session *s) {
  if (!g_atomic_int_dec_and_test(&s->refs)) return;
  g_ptr_array_free(s->channels, TRUE);
  g_free(s->id);
  g_free(s->cache_path);
  g_free(s->self_uri);
  g_free(s->peer_uri);
  for (guint i = 0; i < N_ALGO_TYPES; i++) g_free(s->algos[i]);
  g_list_free(s->conn_instances);
  g_mutex_clear(&s->lock);
  g_mutex_clear(&s->push_lock);
  g_free(s);
}

/* The process-wide timer (see top). */
static GMutex ticker_lock;
static GList *ticker_sessions; /* Session *, a reference each */
static GstClockID ticker_id;
static GstClock *ticker_clock;

static void session_flush(Session *s);
static void session_poll_locked(Session *s);

static void session_tick(Session *s) {
  g_mutex_lock(&s->lock);
  if (!s->dead && s->ctx) {
    gint64 t = now_ms();
    for (guint i = 0; i < s->channels->len; i++) {
      Channel *ch = g_ptr_array_index(s->channels, i);
      if (!ch->started || ch->state != CH_HANDSHAKING) continue;
      if (ch->deadline_ms == 0 && channel_active(ch)) ch->deadline_ms = t + HANDSHAKE_TIMEOUT_MS;
      if (ch->deadline_ms && t > ch->deadline_ms) { set_error_locked(ch, "handshake timed out"); continue; }
      bzrtp_iterate(s->ctx, ch->ssrc, (uint64_t)t);
    }
    session_poll_locked(s);
  }
  g_mutex_unlock(&s->lock);
  session_flush(s);
}

static gpointer ref_for_copy(gconstpointer s, gpointer unused) {
  (void)unused;
  return session_ref((Session *)s);
}

static gboolean ticker_cb(GstClock *clock, GstClockTime time, GstClockID id, gpointer data) {
  (void)clock; (void)time; (void)id; (void)data;
  g_mutex_lock(&ticker_lock);
  GList *list = g_list_copy_deep(ticker_sessions, ref_for_copy, NULL);
  g_mutex_unlock(&ticker_lock);
  for (GList *l = list; l; l = l->next) { session_tick(l->data); session_unref(l->data); }
  g_list_free(list);
  return TRUE;
}

static void ticker_add(Session *s) {
  g_mutex_lock(&ticker_lock);
  ticker_sessions = g_list_prepend(ticker_sessions, session_ref(s));
  if (!ticker_id) {
    if (!ticker_clock) ticker_clock = gst_system_clock_obtain();
    ticker_id = gst_clock_new_periodic_id(ticker_clock, gst_clock_get_time(ticker_clock) + TICK_MS * GST_MSECOND, TICK_MS * GST_MSECOND);
    gst_clock_id_wait_async(ticker_id, ticker_cb, NULL, NULL);
  }
  g_mutex_unlock(&ticker_lock);
}

static void ticker_remove(Session *s) {
  GstClockID stop = NULL;
  g_mutex_lock(&ticker_lock);
  GList *l = g_list_find(ticker_sessions, s);
  if (l) ticker_sessions = g_list_delete_link(ticker_sessions, l);
  if (!ticker_sessions && ticker_id) { stop = ticker_id; ticker_id = NULL; }
  g_mutex_unlock(&ticker_lock);
  if (stop) { gst_clock_id_unschedule(stop); gst_clock_id_unref(stop); }
  if (l) session_unref(s);
}

static gpointer session_create(const gchar *id, gpointer user_data) {
  (void)user_data;
  Session *s = g_new0(Session, 1);
  s->refs = 1; /* the registry's */
  g_mutex_init(&s->lock);
  g_mutex_init(&s->push_lock);
  s->id = g_strdup(id);
  s->cache_path = g_strdup("");
  s->self_uri = g_strdup("");
  s->peer_uri = g_strdup("");
  for (guint i = 0; i < N_ALGO_TYPES; i++) s->algos[i] = g_strdup(ALGO_DEFAULTS[i]);
  s->channels = g_ptr_array_new_with_free_func((GDestroyNotify)channel_free);
  ticker_add(s);
  return s;
}

/* The registry's destroy (last b2b_shared_release): no bzrtp call after this; a tick in flight sees `dead`. */
static void session_destroy(gpointer data) {
  Session *s = data;
  ticker_remove(s);
  g_mutex_lock(&s->lock);
  s->dead = TRUE;
  if (s->ctx) {
    for (guint i = 0; i < s->channels->len; i++) {
      Channel *ch = g_ptr_array_index(s->channels, i);
      if (ch->in_bzrtp) bzrtp_destroyBzrtpContext(s->ctx, ch->ssrc); /* the last channel frees the context */
      ch->in_bzrtp = FALSE;
    }
    s->ctx = NULL;
  }
  CacheDb *cache = s->cache;
  s->cache = NULL;
  g_mutex_unlock(&s->lock);
  cache_close(cache);
  session_unref(s);
}

/* --- bzrtp context --- */

static void channel_apply_peer_hash_locked(Channel *ch) {
  Session *s = ch->session;
  if (!s->ctx || !ch->in_bzrtp || !ch->peer_hello_hash || !*ch->peer_hello_hash || ch->state == CH_FAILED) return;
  gsize len = strlen(ch->peer_hello_hash);
  const char *sp = strchr(ch->peer_hello_hash, ' ');
  if ((sp ? strlen(sp + 1) : len) != 64) { set_error_locked(ch, "peer-hello-hash \"%s\" is not \"<version> <64 hex digits>\"", ch->peer_hello_hash); return; }
  GST_DEBUG("ZRTP stream ssrc %08x: peer hello hash %s", ch->ssrc, ch->peer_hello_hash);
  int ret = bzrtp_setPeerHelloHash(s->ctx, ch->ssrc, (uint8_t *)ch->peer_hello_hash, len);
  if (ret == BZRTP_ERROR_HELLOHASH_MISMATCH) set_error_locked(ch, "the peer's Hello does not match its SDP a=zrtp-hash %s", ch->peer_hello_hash);
  else if (ret != 0) GST_WARNING("bzrtp_setPeerHelloHash: 0x%x", ret);
}

static void channel_join_ctx_locked(Channel *ch) {
  Session *s = ch->session;
  if (ch->in_bzrtp || ch->state == CH_FAILED) return;
  int ret = bzrtp_addChannel(s->ctx, ch->ssrc);
  if (ret != 0) { set_error_locked(ch, "bzrtp cannot add this stream (0x%x; at most 2 streams per connection)", ret); return; }
  ch->in_bzrtp = TRUE;
  bzrtp_setClientData(s->ctx, ch->ssrc, ch);
  channel_apply_peer_hash_locked(ch);
}

/* Creates the bzrtp context on first need (see top). FALSE if there is no channel yet. */
static gboolean session_ensure_ctx_locked(Session *s) {
  if (s->ctx) return TRUE;
  if (s->dead || s->channels->len == 0) return FALSE;
  Channel *first = g_ptr_array_index(s->channels, 0);
  bzrtpContext_t *ctx = bzrtp_createBzrtpContext();
  bzrtpCallbacks_t cbs;
  memset(&cbs, 0, sizeof cbs);
  cbs.bzrtp_statusMessage = cb_status;
  cbs.bzrtp_messageLevel = BZRTP_MESSAGE_WARNING;
  cbs.bzrtp_sendData = cb_send;
  cbs.bzrtp_srtpSecretsAvailable = cb_secrets;
  cbs.bzrtp_startSrtpSession = cb_start_srtp;
  if (*s->cache_path) {
    if (!*s->self_uri || !*s->peer_uri) GST_WARNING("ZRTP %s: cache-path without self-uri and peer-uri: running without cache", s->id);
    else if ((s->cache = cache_open(s->cache_path))) {
      bzrtp_setZIDCache_lock(ctx, s->cache->db, s->self_uri, s->peer_uri, &s->cache->mutex);
      cbs.bzrtp_contextReadyForExportedKeys = cb_exported_keys;
    }
  }
  bzrtp_setCallbacks(ctx, &cbs);
  for (guint i = 0; i < N_ALGO_TYPES; i++) {
    guint8 ids[7];
    guint8 n = parse_algos(s->algos[i], ALGO_TYPES[i], ids);
    bzrtp_setSupportedCryptoTypes(ctx, ALGO_TYPES[i], ids, n);
  }
  int ret = bzrtp_initBzrtpContext(ctx, first->ssrc);
  if (ret != 0) {
    GST_WARNING("bzrtp_initBzrtpContext: 0x%x", ret);
    bzrtp_destroyBzrtpContext(ctx, first->ssrc);
    set_error_locked(first, "bzrtp context initialisation failed (0x%x)", ret);
    return FALSE;
  }
  s->ctx = ctx;
  first->in_bzrtp = TRUE;
  first->main = TRUE;
  bzrtp_setClientData(ctx, first->ssrc, first);
  channel_apply_peer_hash_locked(first);
  for (guint i = 1; i < s->channels->len; i++) channel_join_ctx_locked(g_ptr_array_index(s->channels, i));
  return TRUE;
}

static Channel *main_channel(Session *s) { return s->channels->len ? g_ptr_array_index(s->channels, 0) : NULL; }

/* Starts a channel when allowed: the main one at once, another once the main one is secured. */
static void channel_try_start_locked(Channel *ch) {
  Session *s = ch->session;
  if (ch->started || ch->state == CH_FAILED || !session_ensure_ctx_locked(s) || !ch->in_bzrtp) return;
  if (!ch->main) {
    Channel *m = main_channel(s);
    if (!m || m->state != CH_SECURED) return;
  }
  int ret = bzrtp_startChannelEngine(s->ctx, ch->ssrc);
  if (ret == BZRTP_ERROR_MULTICHANNELNOTSUPPORTEDBYPEER) { set_error_locked(ch, "the peer does not support ZRTP multistream"); return; }
  if (ret != 0 && ret != BZRTP_ERROR_CHANNELALREADYSTARTED) { GST_WARNING("bzrtp_startChannelEngine ssrc %08x: 0x%x", ch->ssrc, ret); return; }
  ch->started = TRUE;
  if (ch->state == CH_NEW) ch->state = CH_HANDSHAKING;
}

/* After any bzrtp call: starts the channels that may now start (a second stream once the first is secured). */
static void session_poll_locked(Session *s) {
  for (guint i = 0; i < s->channels->len; i++) {
    Channel *ch = g_ptr_array_index(s->channels, i);
    if (!ch->started && channel_active(ch)) channel_try_start_locked(ch);
  }
}

static Channel *session_channel_locked(Session *s, guint32 ssrc) {
  for (guint i = 0; i < s->channels->len; i++) {
    Channel *ch = g_ptr_array_index(s->channels, i);
    if (ch->ssrc == ssrc) return ch;
  }
  Channel *ch = g_new0(Channel, 1);
  ch->session = s;
  ch->ssrc = ssrc;
  g_queue_init(&ch->outq);
  g_ptr_array_add(s->channels, ch);
  if (s->ctx) channel_join_ctx_locked(ch);
  return ch;
}

/* The latest attached instance of `ch` to reach PLAYING (session lock held). */
static B2bZrtp *channel_sender_locked(Channel *ch) {
  B2bZrtp *best = NULL;
  for (GList *l = ch->instances; l; l = l->next) {
    B2bZrtp *z = l->data;
    if (z->playing && (!best || z->play_seq > best->play_seq)) best = z;
  }
  return best;
}

static void prime_src(GstPad *pad, guint32 ssrc) {
  if (gst_pad_has_current_caps(pad)) return;
  gchar *sid = g_strdup_printf("b2bzrtp-%08x-%p", ssrc, (void *)pad);
  gst_pad_push_event(pad, gst_event_new_stream_start(sid));
  g_free(sid);
  GstCaps *caps = gst_caps_new_empty_simple("application/x-zrtp");
  gst_pad_push_event(pad, gst_event_new_caps(caps));
  gst_caps_unref(caps);
  GstSegment seg;
  gst_segment_init(&seg, GST_FORMAT_TIME);
  gst_pad_push_event(pad, gst_event_new_segment(&seg));
}

/* Pushes the queued packets of every channel, one pusher at a time (see top). Session lock NOT held. */
static void session_flush(Session *s) {
  g_mutex_lock(&s->push_lock);
  for (;;) {
    GstBuffer *buf = NULL;
    GstPad *pad = NULL;
    guint32 ssrc = 0;
    g_mutex_lock(&s->lock);
    for (guint i = 0; !buf && i < s->channels->len; i++) {
      Channel *ch = g_ptr_array_index(s->channels, i);
      if (g_queue_is_empty(&ch->outq)) continue;
      B2bZrtp *out = channel_sender_locked(ch);
      if (!out) continue; /* kept for the next instance to play */
      buf = g_queue_pop_head(&ch->outq);
      pad = gst_object_ref(out->srcpad);
      ssrc = ch->ssrc;
      ch->packets_out++;
    }
    g_mutex_unlock(&s->lock);
    if (!buf) break;
    prime_src(pad, ssrc);
    GstFlowReturn r = gst_pad_push(pad, buf);
    if (r != GST_FLOW_OK) GST_DEBUG_OBJECT(pad, "ZRTP packet push: %s", gst_flow_get_name(r));
    gst_object_unref(pad);
  }
  g_mutex_unlock(&s->push_lock);
}

/* ------------------------------------------------------------------ element */

static void apply_prop_locked(B2bZrtp *self, guint id);
static void unbind_locked(B2bZrtp *self);

/* Orders the instances reaching PLAYING (the latest one sends). */
static guint64 next_play_seq(void) {
  static GMutex seq_lock;
  static guint64 seq;
  g_mutex_lock(&seq_lock);
  guint64 n = ++seq;
  g_mutex_unlock(&seq_lock);
  return n;
}

/* Instance lock held. Detaches from the channel / session (b2b_shared reference given back). */
static void detach(B2bZrtp *self) {
  Session *s = self->session;
  if (!s) return;
  g_mutex_lock(&s->lock);
  unbind_locked(self);
  self->playing = FALSE;
  g_mutex_unlock(&s->lock);
  self->session = NULL;
  b2b_shared_release("zrtp", self->connection_id);
}

/* Instance and session locks held: this instance onto its channel (or the session without ssrc), then
 * the values set on this instance applied there. */
static void bind_locked(B2bZrtp *self) {
  Session *s = self->session;
  if (self->has_ssrc) {
    self->channel = session_channel_locked(s, self->ssrc);
    self->channel->instances = g_list_prepend(self->channel->instances, self);
  } else {
    s->conn_instances = g_list_prepend(s->conn_instances, self);
  }
  for (guint id = PROP_CACHE_PATH; id <= PROP_SAS_TYPES; id++) if (self->set_mask & (1u << id)) apply_prop_locked(self, id);
  session_poll_locked(s);
}

static void unbind_locked(B2bZrtp *self) {
  Session *s = self->session;
  if (self->channel) self->channel->instances = g_list_remove(self->channel->instances, self);
  else s->conn_instances = g_list_remove(s->conn_instances, self);
  self->channel = NULL;
}

/* Instance lock held. Attaches to (connection-id, ssrc). */
static void attach(B2bZrtp *self) {
  if (!self->connection_id || !*self->connection_id) return;
  Session *s = b2b_shared_acquire("zrtp", self->connection_id, session_create, NULL, session_destroy);
  gboolean playing = GST_STATE(self) == GST_STATE_PLAYING;
  g_mutex_lock(&s->lock);
  self->session = s;
  if (playing) { self->playing = TRUE; self->play_seq = next_play_seq(); }
  bind_locked(self);
  g_mutex_unlock(&s->lock);
}

/* Instance lock held. Another stream of the same session: the session reference is kept (releasing it
 * could destroy the session when this is its only instance, e.g. a holder reading each stream's hash). */
static void rebind(B2bZrtp *self) {
  Session *s = self->session;
  if (!s) return;
  g_mutex_lock(&s->lock);
  unbind_locked(self);
  bind_locked(self);
  g_mutex_unlock(&s->lock);
}

static void replace(gchar **field, const gchar *value) {
  g_free(*field);
  *field = g_strdup(value ? value : "");
}

/* Instance and session locks held: a settable value of this instance onto the shared state. */
static void apply_prop_locked(B2bZrtp *self, guint id) {
  Session *s = self->session;
  Channel *ch = self->channel;
  gchar **target = NULL;
  const gchar *value = NULL;
  switch (id) {
    case PROP_CACHE_PATH: target = &s->cache_path; value = self->cache_path; break;
    case PROP_SELF_URI: target = &s->self_uri; value = self->self_uri; break;
    case PROP_PEER_URI: target = &s->peer_uri; value = self->peer_uri; break;
    case PROP_PEER_HELLO_HASH:
      if (!ch) { GST_WARNING_OBJECT(self, "peer-hello-hash needs ssrc (which stream)"); return; }
      if (g_strcmp0(ch->peer_hello_hash, self->peer_hello_hash) == 0) return;
      replace(&ch->peer_hello_hash, self->peer_hello_hash);
      channel_apply_peer_hash_locked(ch);
      return;
    case PROP_ACTIVE: {
      gboolean was = ch ? channel_active(ch) : s->active;
      if (ch) ch->active = self->active; else s->active = self->active;
      /* Packets dropped while not active: resend now rather than at the next back-off step. */
      if (!was && self->active && s->ctx) {
        for (guint i = 0; i < s->channels->len; i++) {
          Channel *c = g_ptr_array_index(s->channels, i);
          if ((!ch || c == ch) && c->started && c->state == CH_HANDSHAKING) bzrtp_resetRetransmissionTimer(s->ctx, c->ssrc);
        }
      }
      session_poll_locked(s);
      return;
    }
    default:
      if (IS_ALGO_PROP(id)) { target = &s->algos[id - PROP_HASHES]; value = self->algos[id - PROP_HASHES]; }
  }
  if (!target || g_strcmp0(*target, value) == 0) return;
  if (s->ctx) { GST_WARNING_OBJECT(self, "ZRTP %s: the bzrtp context exists already: \"%s\" ignored (cache/URI/algorithms are fixed)", s->id, value); return; }
  replace(target, value);
}

static gboolean is_zrtp(const guint8 *d, gsize len) {
  return len >= ZRTP_HEADER_LEN + 12 && (d[0] & 0xf0) == 0x10 && GST_READ_UINT32_BE(d + 4) == ZRTP_MAGIC_COOKIE;
}

static GstFlowReturn b2b_zrtp_chain(GstPad *pad, GstObject *parent, GstBuffer *in) {
  B2bZrtp *self = B2B_ZRTP(parent);
  (void)pad;
  g_mutex_lock(&self->lock);
  Session *s = self->session ? session_ref(self->session) : NULL;
  Channel *ch = self->channel;
  g_mutex_unlock(&self->lock);
  if (!s || !ch) { if (s) session_unref(s); gst_buffer_unref(in); return GST_FLOW_OK; }
  GstMapInfo map;
  if (!gst_buffer_map(in, &map, GST_MAP_READ)) { session_unref(s); gst_buffer_unref(in); return GST_FLOW_OK; }
  if (is_zrtp(map.data, map.size) && map.size <= G_MAXUINT16) {
    g_mutex_lock(&s->lock);
    ch->packets_in++;
    if (memcmp(map.data + 16, "GoClear ", 8) == 0) {
      ch->goclear++;
      GST_WARNING_OBJECT(self, "GoClear received and ignored: the stream stays encrypted");
    } else if (!s->dead && ch->state != CH_FAILED) {
      /* Received packets are processed whatever `active` says (answers stay queued-out until it is set). */
      channel_try_start_locked(ch);
      if (ch->started) {
        guint8 *copy = g_memdup2(map.data, map.size); /* bzrtp takes a non-const buffer */
        int ret = bzrtp_processMessage(s->ctx, ch->ssrc, copy, (uint16_t)map.size);
        g_free(copy);
        if (ret == BZRTP_ERROR_HELLOHASH_MISMATCH) set_error_locked(ch, "the peer's Hello does not match its SDP a=zrtp-hash %s", ch->peer_hello_hash);
        else if (ret != 0) GST_DEBUG_OBJECT(self, "bzrtp_processMessage %.8s: 0x%x", map.data + 16, ret);
        session_poll_locked(s);
      }
    }
    g_mutex_unlock(&s->lock);
  }
  gst_buffer_unmap(in, &map);
  gst_buffer_unref(in);
  session_flush(s);
  session_unref(s);
  return GST_FLOW_OK;
}

/* The src pad is its own stream: nothing from the sink side goes downstream but EOS (a finite test
 * pipeline ends; the worker stops pipelines by state). */
static gboolean b2b_zrtp_sink_event(GstPad *pad, GstObject *parent, GstEvent *event) {
  B2bZrtp *self = B2B_ZRTP(parent);
  (void)pad;
  if (GST_EVENT_TYPE(event) != GST_EVENT_EOS) { gst_event_unref(event); return TRUE; }
  g_mutex_lock(&self->lock);
  Session *s = self->session ? session_ref(self->session) : NULL;
  guint32 ssrc = self->ssrc;
  g_mutex_unlock(&self->lock);
  if (s) g_mutex_lock(&s->push_lock);
  prime_src(self->srcpad, ssrc);
  gboolean ok = gst_pad_push_event(self->srcpad, event);
  if (s) { g_mutex_unlock(&s->push_lock); session_unref(s); }
  return ok;
}

static GstStateChangeReturn b2b_zrtp_change_state(GstElement *element, GstStateChange transition) {
  B2bZrtp *self = B2B_ZRTP(element);
  if (transition == GST_STATE_CHANGE_PLAYING_TO_PAUSED) {
    g_mutex_lock(&self->lock);
    if (self->session) { g_mutex_lock(&self->session->lock); self->playing = FALSE; g_mutex_unlock(&self->session->lock); }
    g_mutex_unlock(&self->lock);
  }
  GstStateChangeReturn ret = GST_ELEMENT_CLASS(b2b_zrtp_parent_class)->change_state(element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_PLAYING && ret != GST_STATE_CHANGE_FAILURE) {
    g_mutex_lock(&self->lock);
    if (self->session) {
      g_mutex_lock(&self->session->lock);
      self->playing = TRUE;
      self->play_seq = next_play_seq();
      g_mutex_unlock(&self->session->lock);
    }
    g_mutex_unlock(&self->lock);
  }
  return ret;
}

static void b2b_zrtp_set_property(GObject *object, guint id, const GValue *value, GParamSpec *pspec) {
  B2bZrtp *self = B2B_ZRTP(object);
  g_mutex_lock(&self->lock);
  switch (id) {
    case PROP_CONNECTION_ID: {
      const gchar *v = g_value_get_string(value);
      if (g_strcmp0(v ? v : "", self->connection_id) == 0) break;
      detach(self);
      replace(&self->connection_id, v);
      attach(self);
      break;
    }
    case PROP_SSRC:
      if (self->has_ssrc && self->ssrc == g_value_get_uint(value)) break;
      self->ssrc = g_value_get_uint(value);
      self->has_ssrc = TRUE;
      rebind(self);
      break;
    case PROP_ACTIVE: self->active = g_value_get_boolean(value); break;
    case PROP_CACHE_PATH: replace(&self->cache_path, g_value_get_string(value)); break;
    case PROP_SELF_URI: replace(&self->self_uri, g_value_get_string(value)); break;
    case PROP_PEER_URI: replace(&self->peer_uri, g_value_get_string(value)); break;
    case PROP_PEER_HELLO_HASH: replace(&self->peer_hello_hash, g_value_get_string(value)); break;
    default:
      if (IS_ALGO_PROP(id)) { replace(&self->algos[id - PROP_HASHES], g_value_get_string(value)); break; }
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
      g_mutex_unlock(&self->lock);
      return;
  }
  if (id != PROP_CONNECTION_ID && id != PROP_SSRC) {
    self->set_mask |= 1u << id;
    if (self->session) {
      g_mutex_lock(&self->session->lock);
      apply_prop_locked(self, id);
      g_mutex_unlock(&self->session->lock);
    }
  }
  g_mutex_unlock(&self->lock);
}

static const gchar *str_or_empty(const gchar *v) { return v ? v : ""; }

static void b2b_zrtp_get_property(GObject *object, guint id, GValue *value, GParamSpec *pspec) {
  B2bZrtp *self = B2B_ZRTP(object);
  g_mutex_lock(&self->lock);
  if (id == PROP_CONNECTION_ID) { g_value_set_string(value, str_or_empty(self->connection_id)); goto out; }
  if (id == PROP_SSRC) { g_value_set_uint(value, self->ssrc); goto out; }
  Session *s = self->session;
  if (!s) {
    /* Not attached: what was set here, or the defaults. */
    switch (id) {
      case PROP_CACHE_PATH: g_value_set_string(value, str_or_empty(self->cache_path)); break;
      case PROP_SELF_URI: g_value_set_string(value, str_or_empty(self->self_uri)); break;
      case PROP_PEER_URI: g_value_set_string(value, str_or_empty(self->peer_uri)); break;
      case PROP_PEER_HELLO_HASH: g_value_set_string(value, str_or_empty(self->peer_hello_hash)); break;
      case PROP_ACTIVE: g_value_set_boolean(value, self->active); break;
      case PROP_STATE: g_value_set_string(value, "new"); break;
      case PROP_CACHE_HIT: case PROP_CACHE_MISMATCH: g_value_set_boolean(value, FALSE); break;
      case PROP_PACKETS_IN: case PROP_PACKETS_OUT: case PROP_GOCLEAR: g_value_set_uint64(value, 0); break;
      default:
        if (IS_ALGO_PROP(id)) g_value_set_string(value, self->set_mask & (1u << id) ? self->algos[id - PROP_HASHES] : ALGO_DEFAULTS[id - PROP_HASHES]);
        else g_value_set_string(value, "");
    }
    goto out;
  }
  g_mutex_lock(&s->lock);
  Channel *ch = self->channel ? self->channel : main_channel(s);
  gboolean secured = ch && ch->state == CH_SECURED;
  Channel *m = main_channel(s);
  switch (id) {
    case PROP_CACHE_PATH: g_value_set_string(value, s->cache_path); break;
    case PROP_SELF_URI: g_value_set_string(value, s->self_uri); break;
    case PROP_PEER_URI: g_value_set_string(value, s->peer_uri); break;
    case PROP_PEER_HELLO_HASH: g_value_set_string(value, ch ? str_or_empty(ch->peer_hello_hash) : ""); break;
    case PROP_ACTIVE: g_value_set_boolean(value, ch ? channel_active(ch) : s->active); break;
    case PROP_HELLO_HASH: {
      guint8 buf[80] = {0};
      if (ch && session_ensure_ctx_locked(s) && ch->in_bzrtp && bzrtp_getSelfHelloHash(s->ctx, ch->ssrc, buf, sizeof buf) == 0)
        { g_value_set_string(value, (const gchar *)buf); GST_DEBUG_OBJECT(self, "ssrc %08x hello-hash %s", ch->ssrc, buf); }
      else
        g_value_set_string(value, "");
      session_poll_locked(s);
      break;
    }
    case PROP_STATE: g_value_set_string(value, STATE_NAMES[ch ? ch->state : CH_NEW]); break;
    case PROP_ERROR: g_value_set_string(value, ch ? str_or_empty(ch->error) : ""); break;
    /* The SAS belongs to the session (the main channel's exchange). */
    case PROP_SAS: g_value_set_string(value, m && m->state == CH_SECURED ? str_or_empty(m->sas) : ""); break;
    case PROP_SAS_TYPE: g_value_set_string(value, m && m->state == CH_SECURED ? algo_name(m->sas_type) : ""); break;
    case PROP_CIPHER: g_value_set_string(value, secured ? algo_name(ch->cipher) : ""); break;
    case PROP_AUTH_TAG: g_value_set_string(value, secured ? algo_name(ch->auth_tag) : ""); break;
    case PROP_KEY_AGREEMENT: g_value_set_string(value, secured ? algo_name(ch->key_agreement) : ""); break;
    case PROP_HASH: g_value_set_string(value, secured ? algo_name(ch->hash) : ""); break;
    case PROP_CACHE_HIT: g_value_set_boolean(value, m && m->state == CH_SECURED && s->cache_hit); break;
    case PROP_CACHE_MISMATCH: g_value_set_boolean(value, s->cache_mismatch); break;
    case PROP_SRTP_SEND: g_value_set_string(value, secured ? str_or_empty(ch->send) : ""); break;
    case PROP_SRTP_RECV: g_value_set_string(value, secured ? str_or_empty(ch->recv) : ""); break;
    default:
      if (IS_ALGO_PROP(id)) g_value_set_string(value, s->algos[id - PROP_HASHES]);
      else if (!ch) g_value_set_uint64(value, 0);
      else if (!b2b_get_counter(ch, counters, G_N_ELEMENTS(counters), id, value)) G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
  g_mutex_unlock(&s->lock);
out:
  g_mutex_unlock(&self->lock);
}

/* Detaching here (not in finalize): a flush holding this instance's src pad keeps working on a
 * deactivated pad, and no flush can find the instance afterwards. */
static void b2b_zrtp_dispose(GObject *object) {
  B2bZrtp *self = B2B_ZRTP(object);
  g_mutex_lock(&self->lock);
  detach(self);
  g_mutex_unlock(&self->lock);
  G_OBJECT_CLASS(b2b_zrtp_parent_class)->dispose(object);
}

static void b2b_zrtp_finalize(GObject *object) {
  B2bZrtp *self = B2B_ZRTP(object);
  g_free(self->connection_id);
  g_free(self->cache_path);
  g_free(self->self_uri);
  g_free(self->peer_uri);
  g_free(self->peer_hello_hash);
  for (guint i = 0; i < N_ALGO_TYPES; i++) g_free(self->algos[i]);
  g_mutex_clear(&self->lock);
  G_OBJECT_CLASS(b2b_zrtp_parent_class)->finalize(object);
}

static void install_string(GObjectClass *oc, guint id, const gchar *name, const gchar *blurb, const gchar *def, GParamFlags flags) {
  g_object_class_install_property(oc, id, g_param_spec_string(name, name, blurb, def, flags));
}

static void b2b_zrtp_class_init(B2bZrtpClass *klass) {
  static GstStaticPadTemplate *const templates[] = { &sink_tpl, &src_tpl, NULL };
  b2b_element_class_setup(klass, &(B2bElementClassInfo){ b2b_zrtp_set_property, b2b_zrtp_get_property, b2b_zrtp_finalize, templates,
      "B2BUA ZRTP", "Filter/Network/ZRTP", "RFC 6189 ZRTP key agreement (libbzrtp) for one call leg, keys for b2bsrtp by polled properties" });
  GObjectClass *oc = G_OBJECT_CLASS(klass);
  oc->dispose = b2b_zrtp_dispose;
  GST_ELEMENT_CLASS(klass)->change_state = GST_DEBUG_FUNCPTR(b2b_zrtp_change_state);
  const GParamFlags rw = B2B_PARAM_RW, ro = B2B_PARAM_RO;
  install_string(oc, PROP_CONNECTION_ID, "connection-id", "The call leg's ZRTP session (shared by every instance with this id); \"\" = none", "", rw);
  g_object_class_install_property(oc, PROP_SSRC, g_param_spec_uint("ssrc", "ssrc", "This stream's SSRC: its bzrtp channel (the first one of a connection does the DH exchange)",
      0, G_MAXUINT32, 0, rw));
  install_string(oc, PROP_CACHE_PATH, "cache-path", "sqlite3 ZID cache file; \"\" = no cache. Before the context exists (first hello-hash read or start)", "", rw);
  install_string(oc, PROP_SELF_URI, "self-uri", "Our SIP URI (cache key)", "", rw);
  install_string(oc, PROP_PEER_URI, "peer-uri", "The peer's SIP URI (cache key)", "", rw);
  install_string(oc, PROP_PEER_HELLO_HASH, "peer-hello-hash", "The peer's SDP a=zrtp-hash \"1.10 <64 hex>\" for this stream: a Hello that does not match fails", "", rw);
  g_object_class_install_property(oc, PROP_ACTIVE, g_param_spec_boolean("active", "active", "May send (the peer's address is known); without ssrc: every stream",
      FALSE, rw));
  install_string(oc, PROP_HASHES, "hashes", "Offered hash algorithms (S256 S384)", ALGO_DEFAULTS[0], rw);
  install_string(oc, PROP_CIPHERS, "ciphers", "Offered ciphers (AES1 AES3)", ALGO_DEFAULTS[1], rw);
  install_string(oc, PROP_AUTH_TAGS, "auth-tags", "Offered SRTP auth tags (HS80 HS32)", ALGO_DEFAULTS[2], rw);
  install_string(oc, PROP_KEY_AGREEMENTS, "key-agreements", "Offered key agreements in preference order (X255 X448 DH3k DH2k EC25..); DH3k and Mult always added",
      ALGO_DEFAULTS[3], rw);
  install_string(oc, PROP_SAS_TYPES, "sas-types", "Offered SAS renderings (B32 B256)", ALGO_DEFAULTS[4], rw);
  install_string(oc, PROP_HELLO_HASH, "hello-hash", "Our a=zrtp-hash for this stream, \"1.10 <64 hex>\" (creates the context)", "", ro);
  install_string(oc, PROP_STATE, "state", "new | handshaking | secured | failed", "new", ro);
  install_string(oc, PROP_ERROR, "error", "Why failed, \"\" if not", "", ro);
  install_string(oc, PROP_SAS, "sas", "Short authentication string of the connection, \"\" until secured", "", ro);
  install_string(oc, PROP_SAS_TYPE, "sas-type", "B32 or B256", "", ro);
  install_string(oc, PROP_CIPHER, "cipher", "Negotiated cipher (AES1, AES3)", "", ro);
  install_string(oc, PROP_AUTH_TAG, "auth-tag", "Negotiated SRTP auth tag (HS32, HS80)", "", ro);
  install_string(oc, PROP_KEY_AGREEMENT, "key-agreement", "Negotiated key agreement (X255, DH3k, .., Mult for a second stream)", "", ro);
  install_string(oc, PROP_HASH, "hash", "Negotiated hash (S256, S384)", "", ro);
  g_object_class_install_property(oc, PROP_CACHE_HIT, g_param_spec_boolean("cache-hit", "cache-hit", "A retained secret from an earlier call matched", FALSE, ro));
  g_object_class_install_property(oc, PROP_CACHE_MISMATCH, g_param_spec_boolean("cache-mismatch", "cache-mismatch",
      "We had a retained secret for the peer and it did not match (RFC 6189 section 4.3.2: warn, verify the SAS)", FALSE, ro));
  install_string(oc, PROP_SRTP_SEND, "srtp-send", "b2bsrtp srtp-params for what we send, \"\" until secured", "", ro);
  install_string(oc, PROP_SRTP_RECV, "srtp-recv", "b2bsrtp srtp-params for what we receive, \"\" until secured", "", ro);
  b2b_install_counters(oc, counters, G_N_ELEMENTS(counters));
  GST_DEBUG_CATEGORY_INIT(b2b_zrtp_debug, "b2bzrtp", 0, "B2BUA ZRTP");
}

static void b2b_zrtp_init(B2bZrtp *self) {
  g_mutex_init(&self->lock);
  self->connection_id = g_strdup("");
  for (guint i = 0; i < N_ALGO_TYPES; i++) self->algos[i] = g_strdup(ALGO_DEFAULTS[i]);
  self->sinkpad = b2b_add_pad(GST_ELEMENT(self), &sink_tpl, GST_DEBUG_FUNCPTR(b2b_zrtp_chain), GST_DEBUG_FUNCPTR(b2b_zrtp_sink_event), B2B_CAPS_DEFAULT);
  self->srcpad = b2b_add_pad(GST_ELEMENT(self), &src_tpl, NULL, NULL, B2B_CAPS_FIXED);
}
