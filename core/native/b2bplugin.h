/* b2bua-server GStreamer plugin: elements the media workers need and GStreamer lacks. */
#ifndef B2B_PLUGIN_H
#define B2B_PLUGIN_H
#include <gst/gst.h>
#include <gio/gio.h>

G_BEGIN_DECLS
#define B2B_TYPE_INGRESS (b2b_ingress_get_type())
G_DECLARE_FINAL_TYPE(B2bIngress, b2b_ingress, B2B, INGRESS, GstElement)
#define B2B_TYPE_SRTP (b2b_srtp_get_type())
G_DECLARE_FINAL_TYPE(B2bSrtp, b2b_srtp, B2B, SRTP, GstElement)
G_END_DECLS
#endif
