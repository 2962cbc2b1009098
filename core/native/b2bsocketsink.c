/*
 * b2bsocketsink: sends each buffer as one datagram on a leg's UDP socket to `host`:`port` (replaces udpsink).
 *
 * A plain element, not a GstBaseSink: it never prerolls, so a push into it never blocks, whatever the pipeline's
 * state; b2bsocketsrc pushes from the process's one poller thread, which must never wait on one call's pipeline.
 * Nothing is sent before `socket`, `host` (an IP address literal) and `port` are all set: a packet then is dropped
 * and counted (`dropped-no-destination`), never sent to a default address. Without a socket at all it is a
 * counting drop (fakesink's place in the pipeline).
 */
#include "b2bplugin.h"
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

GST_DEBUG_CATEGORY_STATIC(b2b_socket_sink_debug);
#define GST_CAT_DEFAULT b2b_socket_sink_debug

struct _B2bSocketSink {
  GstElement parent;
  GstPad *sinkpad;
  /* Object lock: everything below. */
  GSocket *socket;
  int fd; /* the socket's, or -1 */
  gchar *host;
  gint port;
  struct sockaddr_storage dest;
  socklen_t dest_len; /* 0 = no valid destination */
  guint64 packets, bytes, no_destination, send_errors;
};

G_DEFINE_TYPE(B2bSocketSink, b2b_socket_sink, GST_TYPE_ELEMENT)

enum { PROP_0, PROP_SOCKET, PROP_HOST, PROP_PORT, PROP_PACKETS, PROP_BYTES, PROP_NO_DESTINATION, PROP_SEND_ERRORS };

static const B2bCounter counters[] = {
  B2B_COUNTER(B2bSocketSink, PROP_PACKETS, "packets-sent", packets, "Datagrams sent"),
  B2B_COUNTER(B2bSocketSink, PROP_BYTES, "bytes-sent", bytes, "Bytes sent"),
  B2B_COUNTER(B2bSocketSink, PROP_NO_DESTINATION, "dropped-no-destination", no_destination,
      "Buffers dropped: no socket, or no valid host and port yet"),
  B2B_COUNTER(B2bSocketSink, PROP_SEND_ERRORS, "send-errors", send_errors, "sendto() failures (buffer full, unreachable)"),
};

static GstStaticPadTemplate sink_tpl = B2B_PAD_TEMPLATE("sink", GST_PAD_SINK, "ANY");

/* Object lock held. */
static void update_destination(B2bSocketSink *self) {
  self->dest_len = 0;
  if (!self->host || !*self->host || self->port <= 0 || self->port > 65535) return;
  GInetAddress *ip = g_inet_address_new_from_string(self->host);
  if (!ip) {
    GST_WARNING_OBJECT(self, "host \"%s\" is not an IP address: nothing is sent", self->host);
    return;
  }
  GSocketAddress *sa = g_inet_socket_address_new(ip, (guint16)self->port);
  if (g_socket_address_to_native(sa, &self->dest, sizeof self->dest, NULL)) self->dest_len = g_socket_address_get_native_size(sa);
  g_object_unref(sa);
  g_object_unref(ip);
}

static GstFlowReturn b2b_socket_sink_chain(GstPad *pad, GstObject *parent, GstBuffer *buf) {
  B2bSocketSink *self = B2B_SOCKET_SINK(parent);
  (void)pad;
  struct sockaddr_storage dest;
  GST_OBJECT_LOCK(self);
  int fd = self->dest_len ? self->fd : -1;
  socklen_t dest_len = self->dest_len;
  if (fd >= 0) memcpy(&dest, &self->dest, dest_len);
  else self->no_destination++;
  GST_OBJECT_UNLOCK(self);
  if (fd < 0) {
    gst_buffer_unref(buf);
    return GST_FLOW_OK;
  }
  GstMapInfo map;
  gboolean sent = FALSE;
  gsize size = 0;
  if (gst_buffer_map(buf, &map, GST_MAP_READ)) {
    ssize_t r;
    do r = sendto(fd, map.data, map.size, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&dest, dest_len);
    while (r < 0 && errno == EINTR);
    sent = r >= 0;
    size = map.size;
    gst_buffer_unmap(buf, &map);
  }
  gst_buffer_unref(buf);
  GST_OBJECT_LOCK(self);
  if (sent) {
    self->packets++;
    self->bytes += size;
  } else {
    self->send_errors++;
  }
  GST_OBJECT_UNLOCK(self);
  return GST_FLOW_OK; /* a lost datagram is UDP's normal; never stop the stream for it */
}

static gboolean b2b_socket_sink_event(GstPad *pad, GstObject *parent, GstEvent *event) {
  (void)pad;
  (void)parent;
  gst_event_unref(event);
  return TRUE;
}

static void b2b_socket_sink_set_property(GObject *object, guint id, const GValue *value, GParamSpec *pspec) {
  B2bSocketSink *self = B2B_SOCKET_SINK(object);
  GST_OBJECT_LOCK(self);
  switch (id) {
    case PROP_SOCKET:
      if (self->socket) g_object_unref(self->socket);
      self->socket = g_value_dup_object(value);
      self->fd = self->socket ? g_socket_get_fd(self->socket) : -1;
      break;
    case PROP_HOST:
      g_free(self->host);
      self->host = g_value_dup_string(value);
      update_destination(self);
      break;
    case PROP_PORT:
      self->port = g_value_get_int(value);
      update_destination(self);
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
  GST_OBJECT_UNLOCK(self);
}

static void b2b_socket_sink_get_property(GObject *object, guint id, GValue *value, GParamSpec *pspec) {
  B2bSocketSink *self = B2B_SOCKET_SINK(object);
  GST_OBJECT_LOCK(self);
  switch (id) {
    case PROP_SOCKET: g_value_set_object(value, self->socket); break;
    case PROP_HOST: g_value_set_string(value, self->host); break;
    case PROP_PORT: g_value_set_int(value, self->port); break;
    default: if (!b2b_get_counter(self, counters, G_N_ELEMENTS(counters), id, value)) G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
  GST_OBJECT_UNLOCK(self);
}

static void b2b_socket_sink_finalize(GObject *object) {
  B2bSocketSink *self = B2B_SOCKET_SINK(object);
  if (self->socket) g_object_unref(self->socket);
  g_free(self->host);
  G_OBJECT_CLASS(b2b_socket_sink_parent_class)->finalize(object);
}

static void b2b_socket_sink_class_init(B2bSocketSinkClass *klass) {
  static GstStaticPadTemplate *const templates[] = { &sink_tpl, NULL };
  b2b_element_class_setup(klass, &(B2bElementClassInfo){ b2b_socket_sink_set_property, b2b_socket_sink_get_property,
      b2b_socket_sink_finalize, templates, "B2BUA socket sink", "Sink/Network",
      "Each buffer as one datagram on a UDP socket to host:port, sent in the pushing thread; never prerolls" });
  GObjectClass *oc = G_OBJECT_CLASS(klass);
  const GParamFlags rw = B2B_PARAM_RW;
  g_object_class_install_property(oc, PROP_SOCKET, g_param_spec_object("socket", "Socket", "The leg's bound UDP socket (symmetric RTP)",
      G_TYPE_SOCKET, rw));
  g_object_class_install_property(oc, PROP_HOST, g_param_spec_string("host", "Host", "Destination IP address (literal)", NULL, rw));
  g_object_class_install_property(oc, PROP_PORT, g_param_spec_int("port", "Port", "Destination port; 0 = none", 0, 65535, 0, rw));
  b2b_install_counters(oc, counters, G_N_ELEMENTS(counters));
  GST_DEBUG_CATEGORY_INIT(b2b_socket_sink_debug, "b2bsocketsink", 0, "B2BUA socket sink");
}

static void b2b_socket_sink_init(B2bSocketSink *self) {
  self->fd = -1;
  self->sinkpad = b2b_add_pad(GST_ELEMENT(self), &sink_tpl, GST_DEBUG_FUNCPTR(b2b_socket_sink_chain),
      GST_DEBUG_FUNCPTR(b2b_socket_sink_event), B2B_CAPS_DEFAULT);
  GST_OBJECT_FLAG_SET(self, GST_ELEMENT_FLAG_SINK);
}
