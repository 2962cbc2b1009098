/* State shared by every element instance of one handshake connection (a DTLS association, a ZRTP
 * session), keyed by (kind, connection-id), so that it outlives the pipeline: a pipeline rebuilt for a
 * re-INVITE (video added, rtcp-mux changed) gets new element instances that carry on with the same
 * handshake state, keys and retransmission timers. The worker also keeps one "holder" instance per
 * connection outside any pipeline for the whole call, so the state never depends on garbage collection;
 * it ends the connection by setting `connection-id` to "" on every instance. */
#ifndef B2B_SHARED_H
#define B2B_SHARED_H
#include <glib.h>
#include <gst/gst.h>

G_BEGIN_DECLS
typedef gpointer (*B2bSharedCreate)(const gchar *id, gpointer user_data);

/* The state of (kind, id), created by `create` on first use; one reference per call, given back with
 * b2b_shared_release. `kind` is a static string ("dtls", "zrtp"). Thread-safe. */
gpointer b2b_shared_acquire(const gchar *kind, const gchar *id, B2bSharedCreate create, gpointer user_data, GDestroyNotify destroy);
/* Drops one reference; the last one destroys the state (outside the registry lock). */
void b2b_shared_release(const gchar *kind, const gchar *id);
/* Connections alive in this process (tests, leak checks). */
guint b2b_shared_count(const gchar *kind);

/* The system clock, obtained once for the process: its one thread serves the elements' single-shot timers
 * (b2bdtls retransmissions, b2bdtmf packets), never a thread per connection. */
GstClock *b2b_shared_clock(void);

/* Media latching by authentication (b2bingress `latch-authenticated`, see b2bingress.c): an RTP/RTCP packet
 * from a source port the ingress has not latched carries this meta to the SRTP element, which gives the
 * verdict once it has unprotected it (TRUE = authenticated: the ingress latches that port). The meta holds
 * a reference on the ingress. */
typedef struct {
  GstMeta meta;
  GstElement *ingress;
  guint16 port;
  /* What the ingress counts once the packet is authenticated (it did not count it yet). */
  gboolean rtcp;
  guint32 ssrc;
  guint16 seq;
  guint size;
} B2bLatchMeta;

GType b2b_latch_meta_api_get_type(void);
const GstMetaInfo *b2b_latch_meta_get_info(void);
void b2b_latch_meta_add(GstBuffer *buf, const B2bLatchMeta *from);
#define b2b_latch_meta_get(buf) ((B2bLatchMeta *)gst_buffer_get_meta((buf), b2b_latch_meta_api_get_type()))
/* Defined in b2bingress.c. */
void b2b_ingress_latch_verdict(const B2bLatchMeta *meta, gboolean authenticated);
G_END_DECLS
#endif
