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
