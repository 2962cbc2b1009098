/* Process-wide registry of handshake state shared across element instances: see b2bshared.h. */
#include "b2bshared.h"

typedef struct {
  gpointer state;
  GDestroyNotify destroy;
  guint refs;
} Entry;

static GMutex registry_lock;
static GHashTable *registry; /* "kind\nid" -> Entry */

static gchar *key_of(const gchar *kind, const gchar *id) { return g_strconcat(kind, "\n", id, NULL); }

gpointer b2b_shared_acquire(const gchar *kind, const gchar *id, B2bSharedCreate create, gpointer user_data, GDestroyNotify destroy) {
  gchar *key = key_of(kind, id);
  g_mutex_lock(&registry_lock);
  if (!registry) registry = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  Entry *e = g_hash_table_lookup(registry, key);
  if (!e) {
    e = g_new0(Entry, 1);
    e->state = create(id, user_data);
    e->destroy = destroy;
    g_hash_table_insert(registry, key, e);
    key = NULL;
  }
  e->refs++;
  gpointer state = e->state;
  g_mutex_unlock(&registry_lock);
  g_free(key);
  return state;
}

void b2b_shared_release(const gchar *kind, const gchar *id) {
  gchar *key = key_of(kind, id);
  gpointer state = NULL;
  GDestroyNotify destroy = NULL;
  g_mutex_lock(&registry_lock);
  Entry *e = registry ? g_hash_table_lookup(registry, key) : NULL;
  if (e && --e->refs == 0) {
    state = e->state;
    destroy = e->destroy;
    g_hash_table_remove(registry, key);
  }
  g_mutex_unlock(&registry_lock);
  g_free(key);
  if (destroy && state) destroy(state);
}

guint b2b_shared_count(const gchar *kind) {
  gchar *prefix = g_strconcat(kind, "\n", NULL);
  guint n = 0;
  g_mutex_lock(&registry_lock);
  if (registry) {
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init(&it, registry);
    while (g_hash_table_iter_next(&it, &k, NULL)) if (g_str_has_prefix(k, prefix)) n++;
  }
  g_mutex_unlock(&registry_lock);
  g_free(prefix);
  return n;
}

/* B2bLatchMeta: copied with the buffer (b2bsrtp makes it writable), the ingress reference with it. */
GType b2b_latch_meta_api_get_type(void) {
  static GType type = 0;
  static const gchar *tags[] = {NULL};
  if (g_once_init_enter(&type)) g_once_init_leave(&type, gst_meta_api_type_register("B2bLatchMetaAPI", tags));
  return type;
}

static gboolean latch_meta_init(GstMeta *meta, gpointer params, GstBuffer *buf) {
  (void)params; (void)buf;
  B2bLatchMeta *m = (B2bLatchMeta *)meta;
  m->ingress = NULL;
  m->port = 0;
  return TRUE;
}

static void latch_meta_free(GstMeta *meta, GstBuffer *buf) {
  (void)buf;
  B2bLatchMeta *m = (B2bLatchMeta *)meta;
  if (m->ingress) gst_object_unref(m->ingress);
}

static gboolean latch_meta_transform(GstBuffer *dest, GstMeta *meta, GstBuffer *buf, GQuark type, gpointer data) {
  (void)buf; (void)data;
  B2bLatchMeta *m = (B2bLatchMeta *)meta;
  if (GST_META_TRANSFORM_IS_COPY(type) && m->ingress) b2b_latch_meta_add(dest, m);
  return TRUE;
}

const GstMetaInfo *b2b_latch_meta_get_info(void) {
  static const GstMetaInfo *info = NULL;
  if (g_once_init_enter((GstMetaInfo **)&info)) {
    const GstMetaInfo *i = gst_meta_register(b2b_latch_meta_api_get_type(), "B2bLatchMeta", sizeof(B2bLatchMeta),
        latch_meta_init, latch_meta_free, latch_meta_transform);
    g_once_init_leave((GstMetaInfo **)&info, (GstMetaInfo *)i);
  }
  return info;
}

/* A copy of `from`'s fields (meta header aside) on `buf`, with its own reference on the ingress. */
void b2b_latch_meta_add(GstBuffer *buf, const B2bLatchMeta *from) {
  B2bLatchMeta *m = (B2bLatchMeta *)gst_buffer_add_meta(buf, b2b_latch_meta_get_info(), NULL);
  if (!m) return;
  m->ingress = gst_object_ref(from->ingress);
  m->port = from->port;
  m->rtcp = from->rtcp;
  m->ssrc = from->ssrc;
  m->seq = from->seq;
  m->size = from->size;
}

GstClock *b2b_shared_clock(void) {
  static gsize once;
  static GstClock *clock;
  if (g_once_init_enter(&once)) {
    clock = gst_system_clock_obtain(); /* kept for the process */
    g_once_init_leave(&once, 1);
  }
  return clock;
}
