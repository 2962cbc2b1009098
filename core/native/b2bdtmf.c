/*
 * b2bdtmf: RFC 4733 DTMF conversion on the plain RTP path from one leg (X) to the other (Y), between X's
 * b2bsrtp unprotect and Y's gate / b2bsrtp protect (core/media/worker/pipeline-description.ts).
 *
 * Detection (X negotiated telephone-event, Y did not: `detect-pt` >= 0): every RTP packet of that payload type
 * is dropped (Y cannot take it); an event is reported once, at its first end packet (the end packet is sent 3
 * times with the same timestamp, RFC 4733 section 2.5.1.4), at most 20 a second (`dtmf-rate-dropped` beyond),
 * into a ring the worker polls: `dtmf-events` = "<total> <digit>:<ms> ..." (the last DTMF_RING events). No signal
 * and no GstMessage towards JavaScript (node-gtk; see README.md).
 *
 * Injection (Y negotiated telephone-event, X did not: `send-pt` >= 0): setting `send-dtmf` = "<digit> <ms>" queues
 * one event; packets leave from the shared system clock's thread 50 ms apart (RFC 4733 section 2.5.1.2): a start
 * packet (marker bit), updates, then the end packet 3 times, all with the timestamp of "now" on the stream going
 * to Y (last forwarded packet's timestamp + elapsed time), its SSRC, and the sequence numbers following it; the
 * packets forwarded afterwards are shifted by the number inserted, so Y sees one continuous stream. Nothing can be
 * sent before a packet has been forwarded (no SSRC / sequence to continue): `send-dtmf` is then refused
 * (`dtmf-send-refused`). One push lock serialises the streaming thread's and the clock thread's pushes.
 */
#include "b2bplugin.h"
#include "b2bshared.h"
#include <stdio.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC(b2b_dtmf_debug);
#define GST_CAT_DEFAULT b2b_dtmf_debug

#define DTMF_RING 32
#define DTMF_MAX_PER_SECOND 20
#define DTMF_QUEUE_MAX 16
#define DTMF_SPACING_MS 50

static const char DIGITS[] = "0123456789*#ABCD";

typedef struct {
  guint8 event;
  guint ms;
} DtmfDigit;

struct _B2bDtmf {
  GstElement parent;
  GstPad *sinkpad, *srcpad;
  GMutex lock;      /* everything below */
  GMutex push_lock; /* one pusher at a time (streaming thread, clock thread), taken before `lock` */
  gint detect_pt, send_pt;
  guint detect_rate, send_rate;
  /* Detection. */
  gboolean have_ended;
  guint32 ended_ssrc, ended_ts;
  gint64 window_start_us;
  guint window_count;
  DtmfDigit ring[DTMF_RING];
  /* The stream towards Y: last packet pushed (after the shift), when. */
  gboolean have_out;
  guint32 out_ssrc, out_ts;
  guint16 out_seq, seq_offset;
  gint64 out_at_us;
  /* Injection: queued digits, the event being sent, the pending clock id. */
  GQueue queue;
  gboolean sending;
  DtmfDigit current;
  guint32 ev_ts;
  guint ev_total, ev_step, ev_updates, ev_sent;
  GstClockID timer;
  guint64 events, detected_packets, rate_dropped, injected, digits_sent, send_refused;
};

G_DEFINE_TYPE(B2bDtmf, b2b_dtmf, GST_TYPE_ELEMENT)

enum { PROP_0, PROP_DETECT_PT, PROP_DETECT_RATE, PROP_SEND_PT, PROP_SEND_RATE, PROP_SEND_DTMF, PROP_EVENTS_TEXT,
       PROP_EVENTS, PROP_DETECTED_PACKETS, PROP_RATE_DROPPED, PROP_INJECTED, PROP_DIGITS_SENT, PROP_SEND_REFUSED };

static GstStaticPadTemplate sink_tpl = B2B_PAD_TEMPLATE("sink", GST_PAD_SINK, "ANY");
static GstStaticPadTemplate src_tpl = B2B_PAD_TEMPLATE("src", GST_PAD_SRC, "ANY");

static const B2bCounter counters[] = {
  B2B_COUNTER(B2bDtmf, PROP_EVENTS, "dtmf-detected", events, "Telephone-events detected (once per event) and reported"),
  B2B_COUNTER(B2bDtmf, PROP_DETECTED_PACKETS, "dtmf-packets-dropped", detected_packets,
      "Packets of detect-pt not forwarded (the other leg did not negotiate telephone-event)"),
  B2B_COUNTER(B2bDtmf, PROP_RATE_DROPPED, "dtmf-rate-dropped", rate_dropped, "Events not reported: over 20 a second"),
  B2B_COUNTER(B2bDtmf, PROP_INJECTED, "dtmf-packets-sent", injected, "RFC 4733 packets inserted towards the other leg"),
  B2B_COUNTER(B2bDtmf, PROP_DIGITS_SENT, "dtmf-sent", digits_sent, "Digits whose packets were all inserted"),
  B2B_COUNTER(B2bDtmf, PROP_SEND_REFUSED, "dtmf-send-refused", send_refused,
      "send-dtmf refused: no send-pt, nothing forwarded yet, bad digit or queue full"),
};

/* RTP header length (CSRCs, extension), 0 when malformed. */
static gsize rtp_header_len(const guint8 *d, gsize len) {
  if (len < 12 || (d[0] >> 6) != 2) return 0;
  gsize h = 12 + (gsize)(d[0] & 0x0f) * 4;
  if (d[0] & 0x10) {
    if (len < h + 4) return 0;
    h += 4 + (gsize)GST_READ_UINT16_BE(d + h + 2) * 4;
  }
  return len < h ? 0 : h;
}

/* Lock held. An end packet of detect-pt: report the event once (same SSRC and timestamp = a retransmitted end). */
static void detect(B2bDtmf *self, const guint8 *d, gsize len, gsize h) {
  if (len < h + 4 || !(d[h + 1] & 0x80)) return;
  guint32 ssrc = GST_READ_UINT32_BE(d + 8), ts = GST_READ_UINT32_BE(d + 4);
  if (self->have_ended && self->ended_ssrc == ssrc && self->ended_ts == ts) return;
  self->have_ended = TRUE;
  self->ended_ssrc = ssrc;
  self->ended_ts = ts;
  guint8 event = d[h];
  if (event >= 16) return;
  gint64 now = g_get_monotonic_time();
  if (now - self->window_start_us >= G_USEC_PER_SEC) {
    self->window_start_us = now;
    self->window_count = 0;
  }
  if (self->window_count >= DTMF_MAX_PER_SECOND) { self->rate_dropped++; return; }
  self->window_count++;
  guint duration = GST_READ_UINT16_BE(d + h + 2);
  guint rate = self->detect_rate ? self->detect_rate : 8000;
  self->ring[self->events % DTMF_RING] = (DtmfDigit){event, (guint)((duration * 1000u + rate / 2) / rate)};
  self->events++;
}

static void arm(B2bDtmf *self, GstClockTime when);

/* Lock held. The next packet of the event being sent (starting the next queued one), or NULL; re-arms the timer. */
static GstBuffer *next_packet(B2bDtmf *self) {
  if (!self->sending) {
    DtmfDigit *next = g_queue_pop_head(&self->queue);
    if (!next) return NULL;
    self->current = *next;
    g_free(next);
    if (!self->have_out || self->send_pt < 0) {
      self->send_refused++;
      if (!g_queue_is_empty(&self->queue)) arm(self, gst_clock_get_time(b2b_shared_clock()));
      return NULL;
    }
    guint rate = self->send_rate ? self->send_rate : 8000;
    gint64 elapsed_us = g_get_monotonic_time() - self->out_at_us;
    self->ev_ts = self->out_ts + (guint32)((elapsed_us * (gint64)rate) / G_USEC_PER_SEC);
    self->ev_step = rate * DTMF_SPACING_MS / 1000;
    guint total = (guint)(((guint64)rate * self->current.ms + 500) / 1000);
    self->ev_total = MIN(0xffff, MAX(self->ev_step, total));
    self->ev_updates = (self->ev_total + self->ev_step - 1) / self->ev_step - 1; /* durations step, 2 step, ... < total */
    self->ev_sent = 0;
    self->sending = TRUE;
  }
  guint k = self->ev_sent++;
  gboolean end = k >= self->ev_updates;
  GstBuffer *buf = gst_buffer_new_allocate(NULL, 16, NULL);
  GstMapInfo map;
  gst_buffer_map(buf, &map, GST_MAP_WRITE);
  guint8 *p = map.data;
  self->out_seq++;
  self->seq_offset++;
  p[0] = 0x80;
  p[1] = (guint8)((k == 0 ? 0x80 : 0) | (self->send_pt & 0x7f));
  GST_WRITE_UINT16_BE(p + 2, self->out_seq);
  GST_WRITE_UINT32_BE(p + 4, self->ev_ts);
  GST_WRITE_UINT32_BE(p + 8, self->out_ssrc);
  p[12] = self->current.event;
  p[13] = (guint8)((end ? 0x80 : 0) | 10); /* volume -10 dBm0 */
  GST_WRITE_UINT16_BE(p + 14, end ? self->ev_total : (k + 1) * self->ev_step);
  gst_buffer_unmap(buf, &map);
  self->injected++;
  if (self->ev_sent >= self->ev_updates + 3) {
    self->sending = FALSE;
    self->digits_sent++;
  }
  if (self->sending || !g_queue_is_empty(&self->queue))
    arm(self, gst_clock_get_time(b2b_shared_clock()) + DTMF_SPACING_MS * GST_MSECOND);
  return buf;
}

static gboolean on_timer(GstClock *clock, GstClockTime time, GstClockID id, gpointer data) {
  B2bDtmf *self = data;
  g_mutex_lock(&self->push_lock);
  g_mutex_lock(&self->lock);
  GstBuffer *buf = NULL;
  if (self->timer == id) {
    gst_clock_id_unref(self->timer);
    self->timer = NULL;
    buf = next_packet(self);
  }
  g_mutex_unlock(&self->lock);
  if (buf) gst_pad_push(self->srcpad, buf);
  g_mutex_unlock(&self->push_lock);
  return TRUE;
}

/* Lock held. The pending clock id holds a reference on the element (dropped when the clock frees the id). */
static void arm(B2bDtmf *self, GstClockTime when) {
  if (self->timer) return;
  self->timer = gst_clock_new_single_shot_id(b2b_shared_clock(), when);
  gst_clock_id_wait_async(self->timer, on_timer, gst_object_ref(self), gst_object_unref);
}

/* Lock held. Stops the injection (state change towards READY). */
static void stop_sending(B2bDtmf *self) {
  if (self->timer) {
    gst_clock_id_unschedule(self->timer);
    gst_clock_id_unref(self->timer);
    self->timer = NULL;
  }
  g_queue_clear_full(&self->queue, g_free);
  self->sending = FALSE;
  self->have_out = FALSE;
}

static GstFlowReturn b2b_dtmf_chain(GstPad *pad, GstObject *parent, GstBuffer *in) {
  B2bDtmf *self = B2B_DTMF(parent);
  GstMapInfo map;
  (void)pad;
  if (!gst_buffer_map(in, &map, GST_MAP_READ)) { gst_buffer_unref(in); return GST_FLOW_OK; }
  gsize h = rtp_header_len(map.data, map.size);
  g_mutex_lock(&self->lock);
  if (h && self->detect_pt >= 0 && (map.data[1] & 0x7f) == self->detect_pt) {
    self->detected_packets++;
    detect(self, map.data, map.size, h);
    g_mutex_unlock(&self->lock);
    gst_buffer_unmap(in, &map);
    gst_buffer_unref(in);
    return GST_FLOW_OK;
  }
  g_mutex_unlock(&self->lock);
  gst_buffer_unmap(in, &map);
  if (!h) return gst_pad_push(self->srcpad, in);

  g_mutex_lock(&self->push_lock);
  g_mutex_lock(&self->lock);
  GstBuffer *out = in;
  if (self->seq_offset != 0) {
    out = gst_buffer_make_writable(in);
    if (gst_buffer_map(out, &map, GST_MAP_READWRITE)) {
      GST_WRITE_UINT16_BE(map.data + 2, (guint16)(GST_READ_UINT16_BE(map.data + 2) + self->seq_offset));
      gst_buffer_unmap(out, &map);
    }
  }
  if (gst_buffer_map(out, &map, GST_MAP_READ)) {
    self->out_seq = GST_READ_UINT16_BE(map.data + 2);
    self->out_ts = GST_READ_UINT32_BE(map.data + 4);
    self->out_ssrc = GST_READ_UINT32_BE(map.data + 8);
    self->out_at_us = g_get_monotonic_time();
    self->have_out = TRUE;
    gst_buffer_unmap(out, &map);
  }
  g_mutex_unlock(&self->lock);
  GstFlowReturn ret = gst_pad_push(self->srcpad, out);
  g_mutex_unlock(&self->push_lock);
  return ret;
}

/* Lock held. "<digit> <ms>": queued, sent from the clock thread (a property setter never pushes). */
static void send_dtmf(B2bDtmf *self, const gchar *text) {
  char digit = 0;
  guint ms = 0;
  const char *at = text && text[0] ? strchr(DIGITS, g_ascii_toupper(text[0])) : NULL;
  if (!at || sscanf(text, "%c %u", &digit, &ms) != 2 || ms == 0 || self->send_pt < 0 || !self->have_out ||
      g_queue_get_length(&self->queue) >= DTMF_QUEUE_MAX) {
    self->send_refused++;
    return;
  }
  DtmfDigit *d = g_new(DtmfDigit, 1);
  *d = (DtmfDigit){(guint8)(at - DIGITS), MIN(ms, 8000u)};
  g_queue_push_tail(&self->queue, d);
  arm(self, gst_clock_get_time(b2b_shared_clock()));
}

static gchar *events_text(B2bDtmf *self) {
  GString *s = g_string_new(NULL);
  g_string_append_printf(s, "%" G_GUINT64_FORMAT, self->events);
  guint64 first = self->events > DTMF_RING ? self->events - DTMF_RING : 0;
  for (guint64 i = first; i < self->events; i++)
    g_string_append_printf(s, " %c:%u", DIGITS[self->ring[i % DTMF_RING].event], self->ring[i % DTMF_RING].ms);
  return g_string_free(s, FALSE);
}

static void b2b_dtmf_set_property(GObject *object, guint id, const GValue *value, GParamSpec *pspec) {
  B2bDtmf *self = B2B_DTMF(object);
  g_mutex_lock(&self->lock);
  switch (id) {
    case PROP_DETECT_PT: self->detect_pt = g_value_get_int(value); break;
    case PROP_DETECT_RATE: self->detect_rate = g_value_get_uint(value); break;
    case PROP_SEND_PT: self->send_pt = g_value_get_int(value); break;
    case PROP_SEND_RATE: self->send_rate = g_value_get_uint(value); break;
    case PROP_SEND_DTMF: send_dtmf(self, g_value_get_string(value)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
  g_mutex_unlock(&self->lock);
}

static void b2b_dtmf_get_property(GObject *object, guint id, GValue *value, GParamSpec *pspec) {
  B2bDtmf *self = B2B_DTMF(object);
  g_mutex_lock(&self->lock);
  switch (id) {
    case PROP_DETECT_PT: g_value_set_int(value, self->detect_pt); break;
    case PROP_DETECT_RATE: g_value_set_uint(value, self->detect_rate); break;
    case PROP_SEND_PT: g_value_set_int(value, self->send_pt); break;
    case PROP_SEND_RATE: g_value_set_uint(value, self->send_rate); break;
    case PROP_SEND_DTMF: g_value_set_string(value, ""); break;
    case PROP_EVENTS_TEXT: g_value_take_string(value, events_text(self)); break;
    default: if (!b2b_get_counter(self, counters, G_N_ELEMENTS(counters), id, value)) G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
  g_mutex_unlock(&self->lock);
}

static GstStateChangeReturn b2b_dtmf_change_state(GstElement *element, GstStateChange transition) {
  B2bDtmf *self = B2B_DTMF(element);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY) {
    g_mutex_lock(&self->lock);
    stop_sending(self);
    g_mutex_unlock(&self->lock);
  }
  return GST_ELEMENT_CLASS(b2b_dtmf_parent_class)->change_state(element, transition);
}

static void b2b_dtmf_finalize(GObject *object) {
  B2bDtmf *self = B2B_DTMF(object);
  stop_sending(self);
  g_mutex_clear(&self->lock);
  g_mutex_clear(&self->push_lock);
  G_OBJECT_CLASS(b2b_dtmf_parent_class)->finalize(object);
}

static void b2b_dtmf_class_init(B2bDtmfClass *klass) {
  static GstStaticPadTemplate *const templates[] = { &sink_tpl, &src_tpl, NULL };
  b2b_element_class_setup(klass, &(B2bElementClassInfo){ b2b_dtmf_set_property, b2b_dtmf_get_property, b2b_dtmf_finalize, templates,
      "B2BUA DTMF", "Filter/Network/RTP", "RFC 4733 telephone-events detected (and dropped) or inserted on a plain RTP path" });
  GObjectClass *oc = G_OBJECT_CLASS(klass);
  const GParamFlags rw = B2B_PARAM_RW;
  g_object_class_install_property(oc, PROP_DETECT_PT, g_param_spec_int("detect-pt", "Detected payload type",
      "Telephone-event PT of the incoming leg to detect and drop; -1 = none", -1, 127, -1, rw));
  g_object_class_install_property(oc, PROP_DETECT_RATE, g_param_spec_uint("detect-clock-rate", "Detected clock rate",
      "RTP clock rate of detect-pt", 0, 192000, 8000, rw));
  g_object_class_install_property(oc, PROP_SEND_PT, g_param_spec_int("send-pt", "Sent payload type",
      "Telephone-event PT of the outgoing leg, for send-dtmf; -1 = none", -1, 127, -1, rw));
  g_object_class_install_property(oc, PROP_SEND_RATE, g_param_spec_uint("send-clock-rate", "Sent clock rate",
      "RTP clock rate of send-pt", 0, 192000, 8000, rw));
  g_object_class_install_property(oc, PROP_SEND_DTMF, g_param_spec_string("send-dtmf", "Send DTMF",
      "\"<digit> <duration ms>\": insert one RFC 4733 event (refusals counted in dtmf-send-refused)", "", rw));
  g_object_class_install_property(oc, PROP_EVENTS_TEXT, g_param_spec_string("dtmf-events", "Detected events",
      "\"<total> <digit>:<ms> ...\": the count of events detected, then the last 32", "0", B2B_PARAM_RO));
  b2b_install_counters(oc, counters, G_N_ELEMENTS(counters));
  GST_ELEMENT_CLASS(klass)->change_state = GST_DEBUG_FUNCPTR(b2b_dtmf_change_state);
  GST_DEBUG_CATEGORY_INIT(b2b_dtmf_debug, "b2bdtmf", 0, "B2BUA DTMF");
}

static void b2b_dtmf_init(B2bDtmf *self) {
  g_mutex_init(&self->lock);
  g_mutex_init(&self->push_lock);
  g_queue_init(&self->queue);
  self->detect_pt = -1;
  self->send_pt = -1;
  self->detect_rate = 8000;
  self->send_rate = 8000;
  self->sinkpad = b2b_add_pad(GST_ELEMENT(self), &sink_tpl, GST_DEBUG_FUNCPTR(b2b_dtmf_chain), NULL, B2B_CAPS_PROXY);
  self->srcpad = b2b_add_pad(GST_ELEMENT(self), &src_tpl, NULL, NULL, B2B_CAPS_PROXY);
}
