/* State shared by every element instance of one handshake connection (a DTLS association, a ZRTP
 * session), keyed by (kind, connection-id), so that it outlives the pipeline: a pipeline rebuilt for a
 * re-INVITE (video added, rtcp-mux changed) gets new element instances that carry on with the same
 * handshake state, keys and retransmission timers. The worker also keeps one "holder" instance per
 * connection outside any pipeline for the whole call, so the state never depends on garbage collection;
 * it ends the connection by setting `connection-id` to "" on every instance. */
#ifndef B2B_SHARED_H
#define B2B_SHARED_H
#include <glib.h>

G_BEGIN_DECLS
typedef gpointer (*B2bSharedCreate)(const gchar *id, gpointer user_data);

/* The state of (kind, id), created by `create` on first use; one reference per call, given back with
 * b2b_shared_release. `kind` is a static string ("dtls", "zrtp"). Thread-safe. */
gpointer b2b_shared_acquire(const gchar *kind, const gchar *id, B2bSharedCreate create, gpointer user_data, GDestroyNotify destroy);
/* Drops one reference; the last one destroys the state (outside the registry lock). */
void b2b_shared_release(const gchar *kind, const gchar *id);
/* Connections alive in this process (tests, leak checks). */
guint b2b_shared_count(const gchar *kind);
G_END_DECLS
#endif
