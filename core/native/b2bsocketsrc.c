/*
 * b2bsocketsrc: the receive side of one leg's UDP socket without a thread of its own (replaces udpsrc).
 *
 * While PLAYING, `socket` is watched by the process's poller (b2bpoller.c); when it is readable the poller thread
 * reads up to RECV_BATCH datagrams with one recvmmsg and pushes each, with its source address as a
 * GstNetAddressMeta (what b2bingress checks), downstream on that same thread. So every call of a worker shares
 * one I/O thread, and under load one epoll wake-up serves every socket that has data. The pipeline must not hold
 * an element that blocks a push (a GstBaseSink prerolling): b2bsocketsink takes udpsink's and fakesink's place.
 *
 * The source address object is reused while consecutive datagrams come from the same address:port (the usual
 * case: one peer per socket), so a packet costs no GObject allocation, and the buffers come from a pool (b2bsrtp
 * protects in place in their tailroom). Datagrams larger than RECV_SIZE are
 * dropped and counted (`truncated`).
 */
#define _GNU_SOURCE /* recvmmsg */
#include "b2bplugin.h"
#include "b2bpoller.h"
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <gst/net/gstnetaddressmeta.h>

GST_DEBUG_CATEGORY_STATIC(b2b_socket_src_debug);
#define GST_CAT_DEFAULT b2b_socket_src_debug

#define RECV_BATCH 32
#define RECV_SIZE 4096

struct _B2bSocketSrc {
  GstElement parent;
  GstPad *srcpad;
  GSocket *socket;        /* object lock */
  int fd;                 /* the socket's, or -1: read on every wake-up, so not asked of GIO each time */
  gboolean watching;      /* state lock: registered with the poller */
  gboolean stream_started;
  /* Poller thread only. */
  GSocketAddress *last_from;
  struct sockaddr_storage last_native;
  socklen_t last_native_len;
  /* Counters (object lock to read; written on the poller thread). */
  guint64 packets, bytes, truncated, wakeups;
};

G_DEFINE_TYPE(B2bSocketSrc, b2b_socket_src, GST_TYPE_ELEMENT)

enum { PROP_0, PROP_SOCKET, PROP_PACKETS, PROP_BYTES, PROP_TRUNCATED, PROP_WAKEUPS };

static const B2bCounter counters[] = {
  B2B_COUNTER(B2bSocketSrc, PROP_PACKETS, "packets-received", packets, "Datagrams read and pushed"),
  B2B_COUNTER(B2bSocketSrc, PROP_BYTES, "bytes-received", bytes, "Bytes of the datagrams pushed"),
  B2B_COUNTER(B2bSocketSrc, PROP_TRUNCATED, "truncated", truncated, "Datagrams dropped: larger than the receive buffer"),
  B2B_COUNTER(B2bSocketSrc, PROP_WAKEUPS, "wakeups", wakeups, "Poller wake-ups that read at least one datagram"),
};

static GstStaticPadTemplate src_tpl = B2B_PAD_TEMPLATE("src", GST_PAD_SRC, "ANY");

/* The poller's receive slots: only ever used on its one thread. A slot keeps its mapped buffer until a datagram
 * fills it. */
static struct {
  GstBuffer *buf[RECV_BATCH];
  GstMapInfo map[RECV_BATCH];
  struct mmsghdr msg[RECV_BATCH];
  struct iovec iov[RECV_BATCH];
  struct sockaddr_storage from[RECV_BATCH];
} slots;

/* Poller thread only: the receive buffers come back here when the packet has been sent or dropped, so a packet
 * costs no allocation once the pool holds what is in flight. */
static GstBufferPool *pool;

static GstBuffer *pooled_buffer(void) {
  if (!pool) {
    pool = gst_buffer_pool_new();
    GstStructure *config = gst_buffer_pool_get_config(pool);
    gst_buffer_pool_config_set_params(config, NULL, RECV_SIZE, RECV_BATCH, 0);
    if (!gst_buffer_pool_set_config(pool, config) || !gst_buffer_pool_set_active(pool, TRUE)) {
      gst_object_unref(pool);
      pool = NULL;
      return gst_buffer_new_allocate(NULL, RECV_SIZE, NULL);
    }
  }
  GstBuffer *buf = NULL;
  return gst_buffer_pool_acquire_buffer(pool, &buf, NULL) == GST_FLOW_OK ? buf : NULL;
}

static gboolean fill_slot(int i) {
  if (slots.buf[i]) return TRUE;
  GstBuffer *buf = pooled_buffer();
  if (!buf || !gst_buffer_map(buf, &slots.map[i], GST_MAP_WRITE)) {
    if (buf) gst_buffer_unref(buf);
    return FALSE;
  }
  slots.buf[i] = buf;
  return TRUE;
}

/* Poller thread. The address object for `native`, reused while the source stays the same. */
static GSocketAddress *source_address(B2bSocketSrc *self, const struct sockaddr_storage *native, socklen_t len) {
  if (self->last_from && len == self->last_native_len && memcmp(native, &self->last_native, len) == 0) return self->last_from;
  GSocketAddress *addr = g_socket_address_new_from_native((gpointer)native, len);
  if (!addr) return NULL;
  if (self->last_from) g_object_unref(self->last_from);
  self->last_from = addr;
  memcpy(&self->last_native, native, len);
  self->last_native_len = len;
  return addr;
}

/* Poller thread, poller lock held (see b2bpoller.h): one recvmmsg, each datagram pushed. */
static void on_readable(gpointer owner) {
  B2bSocketSrc *self = B2B_SOCKET_SRC(owner);
  int fd = self->fd; /* fixed while watched: a new socket is set only after the watch is removed */
  if (fd < 0) return;
  int slots_ready = 0;
  while (slots_ready < RECV_BATCH && fill_slot(slots_ready)) slots_ready++;
  if (slots_ready == 0) return;
  for (int i = 0; i < slots_ready; i++) {
    slots.iov[i] = (struct iovec){ slots.map[i].data, RECV_SIZE };
    slots.msg[i].msg_hdr = (struct msghdr){ .msg_name = &slots.from[i], .msg_namelen = sizeof slots.from[i],
                                            .msg_iov = &slots.iov[i], .msg_iovlen = 1 };
  }
  int n = recvmmsg(fd, slots.msg, slots_ready, MSG_DONTWAIT, NULL);
  if (n <= 0) return; /* EAGAIN (another reader was faster), or an error the next wake-up sees again */
  guint64 packets = 0, bytes = 0, truncated = 0;
  for (int i = 0; i < n; i++) {
    GstBuffer *buf = slots.buf[i];
    guint len = slots.msg[i].msg_len;
    if (slots.msg[i].msg_hdr.msg_flags & MSG_TRUNC) {
      truncated++;
      continue; /* the slot keeps its buffer */
    }
    gst_buffer_unmap(buf, &slots.map[i]);
    slots.buf[i] = NULL;
    gst_buffer_set_size(buf, len);
    GSocketAddress *from = source_address(self, &slots.from[i], slots.msg[i].msg_hdr.msg_namelen);
    if (from) gst_buffer_add_net_address_meta(buf, from);
    packets++;
    bytes += len;
    gst_pad_push(self->srcpad, buf); /* FLUSHING while the pipeline stops: the datagram is dropped */
  }
  GST_OBJECT_LOCK(self);
  self->wakeups++;
  self->packets += packets;
  self->bytes += bytes;
  self->truncated += truncated;
  GST_OBJECT_UNLOCK(self);
}

/* State lock held. */
static void start_watching(B2bSocketSrc *self) {
  int fd = self->fd;
  if (fd < 0 || self->watching) return;
  if (!self->stream_started) {
    gchar *id = gst_pad_create_stream_id(self->srcpad, GST_ELEMENT(self), NULL);
    gst_pad_push_event(self->srcpad, gst_event_new_stream_start(id));
    g_free(id);
    GstSegment segment;
    gst_segment_init(&segment, GST_FORMAT_TIME);
    gst_pad_push_event(self->srcpad, gst_event_new_segment(&segment));
    self->stream_started = TRUE;
  }
  self->watching = b2b_poller_add(fd, self, on_readable);
  if (!self->watching) GST_ELEMENT_ERROR(self, RESOURCE, READ, ("cannot watch the socket (fd %d)", fd), (NULL));
}

static void stop_watching(B2bSocketSrc *self) {
  if (!self->watching) return;
  b2b_poller_remove(self->fd, self);
  self->watching = FALSE;
}

static GstStateChangeReturn b2b_socket_src_change_state(GstElement *element, GstStateChange transition) {
  B2bSocketSrc *self = B2B_SOCKET_SRC(element);
  if (transition == GST_STATE_CHANGE_PLAYING_TO_PAUSED) stop_watching(self);
  GstStateChangeReturn ret = GST_ELEMENT_CLASS(b2b_socket_src_parent_class)->change_state(element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE) return ret;
  switch (transition) {
    case GST_STATE_CHANGE_PAUSED_TO_PLAYING: start_watching(self); break;
    case GST_STATE_CHANGE_PAUSED_TO_READY: self->stream_started = FALSE; break;
    case GST_STATE_CHANGE_READY_TO_PAUSED:
    case GST_STATE_CHANGE_PLAYING_TO_PAUSED: return GST_STATE_CHANGE_NO_PREROLL; /* a live source, as udpsrc */
    default: break;
  }
  return ret;
}

static void b2b_socket_src_set_property(GObject *object, guint id, const GValue *value, GParamSpec *pspec) {
  B2bSocketSrc *self = B2B_SOCKET_SRC(object);
  switch (id) {
    case PROP_SOCKET: {
      /* Set before PLAYING (core/media/worker/call-media.ts); a change while watched moves the watch. */
      GST_STATE_LOCK(self);
      gboolean was_watching = self->watching;
      stop_watching(self);
      GST_OBJECT_LOCK(self);
      if (self->socket) g_object_unref(self->socket);
      self->socket = g_value_dup_object(value);
      self->fd = self->socket ? g_socket_get_fd(self->socket) : -1;
      GST_OBJECT_UNLOCK(self);
      if (was_watching) start_watching(self);
      GST_STATE_UNLOCK(self);
      break;
    }
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
}

static void b2b_socket_src_get_property(GObject *object, guint id, GValue *value, GParamSpec *pspec) {
  B2bSocketSrc *self = B2B_SOCKET_SRC(object);
  GST_OBJECT_LOCK(self);
  switch (id) {
    case PROP_SOCKET: g_value_set_object(value, self->socket); break;
    default: if (!b2b_get_counter(self, counters, G_N_ELEMENTS(counters), id, value)) G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
  GST_OBJECT_UNLOCK(self);
}

static void b2b_socket_src_finalize(GObject *object) {
  B2bSocketSrc *self = B2B_SOCKET_SRC(object);
  if (self->socket) g_object_unref(self->socket);
  if (self->last_from) g_object_unref(self->last_from);
  G_OBJECT_CLASS(b2b_socket_src_parent_class)->finalize(object);
}

static void b2b_socket_src_class_init(B2bSocketSrcClass *klass) {
  static GstStaticPadTemplate *const templates[] = { &src_tpl, NULL };
  b2b_element_class_setup(klass, &(B2bElementClassInfo){ b2b_socket_src_set_property, b2b_socket_src_get_property,
      b2b_socket_src_finalize, templates, "B2BUA socket source", "Source/Network",
      "Datagrams of a UDP socket, read by the process's one poller thread (recvmmsg) and pushed from it" });
  GObjectClass *oc = G_OBJECT_CLASS(klass);
  g_object_class_install_property(oc, PROP_SOCKET, g_param_spec_object("socket", "Socket", "The leg's bound UDP socket (shared with its b2bsocketsinks)",
      G_TYPE_SOCKET, B2B_PARAM_RW));
  b2b_install_counters(oc, counters, G_N_ELEMENTS(counters));
  GST_ELEMENT_CLASS(klass)->change_state = GST_DEBUG_FUNCPTR(b2b_socket_src_change_state);
  GST_DEBUG_CATEGORY_INIT(b2b_socket_src_debug, "b2bsocketsrc", 0, "B2BUA socket source");
}

static void b2b_socket_src_init(B2bSocketSrc *self) {
  self->fd = -1;
  self->srcpad = b2b_add_pad(GST_ELEMENT(self), &src_tpl, NULL, NULL, B2B_CAPS_DEFAULT);
  GST_OBJECT_FLAG_SET(self, GST_ELEMENT_FLAG_SOURCE);
}
