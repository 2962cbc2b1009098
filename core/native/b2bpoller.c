/* The process's I/O thread: see b2bpoller.h. */
#include "b2bpoller.h"
#include <errno.h>
#include <glib-object.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define EVENTS_PER_WAIT 128

typedef struct {
  int fd;
  gpointer owner;
  B2bPollerReady ready;
  gboolean live; /* FALSE once removed: an event already returned by epoll_wait must not call it */
} Watch;

static GMutex lock;      /* held by the poller thread while it dispatches; add/remove take it */
static int epfd = -1;
static int wake_fd = -1; /* removal wakes the poller so that the removed watches are freed */
static GHashTable *watches; /* fd -> Watch* (live ones) */
static GPtrArray *removed;  /* Watch*: freed by the poller thread once no returned event can name them */
static int wake_marker;

static gpointer run(gpointer data) {
  (void)data;
  struct epoll_event events[EVENTS_PER_WAIT];
  for (;;) {
    int n = epoll_wait(epfd, events, EVENTS_PER_WAIT, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      g_critical("b2bpoller: epoll_wait: %s", g_strerror(errno));
      g_usleep(10000);
      continue;
    }
    g_mutex_lock(&lock);
    for (int i = 0; i < n; i++) {
      if (events[i].data.ptr == &wake_marker) {
        guint64 v;
        while (read(wake_fd, &v, sizeof v) < 0 && errno == EINTR) {}
        continue;
      }
      Watch *w = events[i].data.ptr;
      if (w->live) w->ready(w->owner);
    }
    g_ptr_array_set_size(removed, 0);
    g_mutex_unlock(&lock);
  }
  return NULL;
}

/* Lock held. */
static gboolean ensure_started(void) {
  if (epfd >= 0) return TRUE;
  epfd = epoll_create1(EPOLL_CLOEXEC);
  wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epfd < 0 || wake_fd < 0) {
    g_critical("b2bpoller: cannot create the epoll set: %s", g_strerror(errno));
    if (epfd >= 0) close(epfd);
    if (wake_fd >= 0) close(wake_fd);
    epfd = wake_fd = -1;
    return FALSE;
  }
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &wake_marker };
  epoll_ctl(epfd, EPOLL_CTL_ADD, wake_fd, &ev);
  watches = g_hash_table_new(g_direct_hash, g_direct_equal);
  removed = g_ptr_array_new_with_free_func(g_free);
  g_thread_unref(g_thread_new("b2bpoller", run, NULL));
  return TRUE;
}

/* Lock held. The watch leaves the set; freed by the poller thread; returns the owner to unreference (unlocked). */
static gpointer retire(Watch *w) {
  epoll_ctl(epfd, EPOLL_CTL_DEL, w->fd, NULL); /* ENOENT when its socket was closed first: epoll dropped it */
  g_hash_table_remove(watches, GINT_TO_POINTER(w->fd));
  w->live = FALSE;
  g_ptr_array_add(removed, w);
  guint64 one = 1;
  if (write(wake_fd, &one, sizeof one) < 0) { /* counter saturated: the poller is awake anyway */ }
  return w->owner;
}

gboolean b2b_poller_add(int fd, gpointer owner, B2bPollerReady ready) {
  gpointer stale_owner = NULL;
  g_mutex_lock(&lock);
  gboolean ok = ensure_started();
  Watch *stale = ok ? g_hash_table_lookup(watches, GINT_TO_POINTER(fd)) : NULL;
  if (stale && stale->owner == owner) ok = FALSE; /* already watched */
  else if (stale) stale_owner = retire(stale);    /* its socket was closed without a remove, and the fd reused */
  if (ok) {
    Watch *w = g_new(Watch, 1);
    *w = (Watch){ fd, g_object_ref(owner), ready, TRUE };
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = w };
    ok = epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0;
    if (ok) g_hash_table_insert(watches, GINT_TO_POINTER(fd), w);
    else {
      g_object_unref(owner);
      g_free(w);
    }
  }
  g_mutex_unlock(&lock);
  if (stale_owner) g_object_unref(stale_owner);
  return ok;
}

void b2b_poller_remove(int fd, gpointer owner) {
  gpointer unref = NULL;
  g_mutex_lock(&lock);
  Watch *w = watches ? g_hash_table_lookup(watches, GINT_TO_POINTER(fd)) : NULL;
  if (w && w->owner == owner) unref = retire(w);
  g_mutex_unlock(&lock);
  if (unref) g_object_unref(unref);
}

guint b2b_poller_count(void) {
  g_mutex_lock(&lock);
  guint n = watches ? g_hash_table_size(watches) : 0;
  g_mutex_unlock(&lock);
  return n;
}
